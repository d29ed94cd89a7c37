#!/usr/bin/env bash
# Records the bundled docker-host scenario on the real kernel: four network namespaces
#   trdb-ctr1 (a container, 172.17.0.2)  --veth1/eth0--  trdb-host (docker0 bridge 172.17.0.1, eth0 198.51.100.1)
#   trdb-ctr2 (a container, 172.17.0.3)  --veth2/eth0--  trdb-host
#   trdb-host --eth0/wan0--  trdb-wan (a remote server: 198.51.100.2 and 203.0.113.9)
# loads Docker-style iptables rules into trdb-host (br_netfilter on: bridge-nf-call-iptables=1, so
# container-to-container frames meet iptables FORWARD), makes traffic with ping and nc, captures it the
# way an operator would (`tcpdump -i any`, SLL2) and writes the host snapshot beside it:
#   snapshot/   the host when capture started: conntrack.txt is the table then (counters were zeroed
#               then too, so iptables.rules, saved at the end, holds what the kernel counted during the capture)
#   kernel/     the kernel's own end state, for tests: iptables-save-c.rules, conntrack-end.txt
# Traffic stays inside the namespaces made here. Needs root, iproute2, iptables, tcpdump, nc, ping,
# conntrack, and br_netfilter in the kernel. Everything is removed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
H="ip netns exec trdb-host" C="ip netns exec trdb-ctr1" C2="ip netns exec trdb-ctr2" W="ip netns exec trdb-wan"
nss="trdb-host trdb-ctr1 trdb-ctr2 trdb-wan"

cleanup() {
    [[ -n "${dump_pid:-}" ]] && kill "$dump_pid" 2>/dev/null || true
    for ns in $nss; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
cleanup

[[ -e /proc/sys/net/bridge ]] || modprobe br_netfilter
for ns in $nss; do ip netns add "$ns"; ip netns exec "$ns" ip link set lo up; done
# Container side: veth1/veth2 are the bridge ports, eth0 each container's interface. Docker gives
# docker0 an address of its own (02:42:…), so a frame for the host is PACKET_OTHERHOST on the port.
$H ip link add docker0 type bridge
$H ip link set docker0 address 02:42:ac:11:00:01
$H ip addr add 172.17.0.1/16 dev docker0
$H ip link set docker0 up
i=1
for c in trdb-ctr1 trdb-ctr2; do
    ip link add veth$i netns trdb-host type veth peer name eth0 netns $c
    $H ip link set veth$i master docker0
    $H ip link set veth$i up
    ip netns exec $c ip addr add 172.17.0.$((i + 1))/16 dev eth0
    ip netns exec $c ip link set eth0 address 02:42:ac:11:00:0$((i + 1))
    ip netns exec $c ip link set eth0 up
    ip netns exec $c ip route add default via 172.17.0.1
    i=$((i + 1))
done
# Uplink.
ip link add eth0 netns trdb-host type veth peer name wan0 netns trdb-wan
$H ip addr add 198.51.100.1/24 dev eth0
$H ip link set eth0 up
$H ip route add default via 198.51.100.2
$W ip addr add 198.51.100.2/24 dev wan0
$W ip addr add 203.0.113.9/32 dev lo
$W ip link set wan0 up
$W ip route add 172.17.0.0/16 via 198.51.100.1
$H sysctl -qw net.ipv4.ip_forward=1
$H sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1

$H iptables-restore <<'RULES'
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -i docker0 -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset
-A DOCKER-USER -i docker0 -o docker0 -p tcp -m tcp --dport 5000 -j DROP
-A DOCKER-USER -j RETURN
COMMIT
RULES

# Servers: the remote's web and SMTP ports, the container's web port.
$W sh -c 'while true; do printf "HTTP/1.0 200 OK\r\n\r\nremote\n" | nc -l -p 80 -q 1 >/dev/null; done' &
$W sh -c 'while true; do nc -l -p 25 >/dev/null; done' &
$C sh -c 'while true; do printf "HTTP/1.0 200 OK\r\n\r\ncontainer\n" | nc -l -p 80 -q 1 >/dev/null; done' &
$C sh -c 'while true; do nc -l -p 5000 >/dev/null; done' &
$C sh -c 'while true; do nc -u -l -W 1 -p 9999 >/dev/null; done' &
# A connection that is older than the capture: conntrack.txt must hold it as ESTABLISHED, so its
# packets during the capture are not NEW (no nat chain sees them, no second MASQUERADE binding).
$W sh -c 'nc -l -p 7000 >/dev/null' &
$C sh -c '(echo before; sleep 6; echo during) | nc -q 1 203.0.113.9 7000' >/dev/null &
# Let link-up chatter (IGMP/MLD reports, DAD) settle before the capture starts.
sleep 2

mkdir -p "$out/captures" "$out/snapshot" "$out/kernel"
$H tcpdump -i any -nn -U -s 262144 -w "$out/captures/any.pcap" 2>/dev/null &
dump_pid=$!
sleep 1
# The capture has started: the table as it is now is the replay's starting point (DESIGN.md:
# conntrack.txt is the table when capture started); counters start from zero with it.
$H conntrack -L -o extended > "$out/snapshot/conntrack.txt" 2>/dev/null || true
$H iptables -Z
$H iptables -t nat -Z
sleep 0.5

# 1. The container pings the remote (forwarded, MASQUERADEd), 2. fetches a page from it,
# 3. tries SMTP (rejected with a TCP RST by DOCKER-USER), 4. the remote fetches the published port
# (DNAT to the container), 5. the remote tries SSH on the host (INPUT policy DROP, SYN retried),
# 6. the remote pings the host (accepted by INPUT).
$C ping -c 3 -i 0.2 -W 1 203.0.113.9 >/dev/null
$C sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 2 -q 1 203.0.113.9 80' >/dev/null || true
$C nc -z -w 1 203.0.113.9 25 || true
$W sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 2 -q 1 198.51.100.1 8080' >/dev/null || true
$W nc -z -w 2 198.51.100.1 22 || true
$W ping -c 2 -i 0.2 -W 1 198.51.100.1 >/dev/null
# Container to container over docker0 (bridged; br_netfilter runs iptables FORWARD with -i/-o docker0):
# 7. ping, 8. a page from the web port, 9. TCP 5000 (dropped by DOCKER-USER, SYN retried), 10. UDP,
# 11. ctr2 pings the host's bridge address (up to INPUT through the bridge, no second PREROUTING).
$C2 ping -c 2 -i 0.2 -W 1 172.17.0.2 >/dev/null
$C2 sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 2 -q 1 172.17.0.2 80' >/dev/null || true
$C2 nc -z -w 2 172.17.0.2 5000 || true
$C2 sh -c 'printf "hello\n" | nc -u -w 1 -q 1 172.17.0.2 9999' >/dev/null || true
$C2 ping -c 2 -i 0.2 -W 1 172.17.0.1 >/dev/null
wait_for() { for _ in $(seq 50); do ! $C sh -c "$1" && return; sleep 0.1; done; }
wait_for 'pgrep -f "nc -q 1 203.0.113.9 7000" >/dev/null'
sleep 0.5
# The kernel's table right after the last packet (entries age between here and the replay's last packet only by this).
$H conntrack -L -o extended > "$out/kernel/conntrack-end.txt" 2>/dev/null || true
sleep 0.5

# The snapshot, as `tracereplay snapshot` will take it (DESIGN.md: host snapshot directory).
$H iptables-save -c > "$out/snapshot/iptables.rules"
$H ip -j addr > "$out/snapshot/addr.json"
$H ip -j -d link > "$out/snapshot/link.json"
$H ip -j route show table all > "$out/snapshot/route.json"
$H ip -j -6 route show table all > "$out/snapshot/route6.json"
$H ip -j rule > "$out/snapshot/rule.json"
$H sysctl -a 2>/dev/null | grep '^net\.' | grep -v -E '^net\.ipv[46]\.conf\.(all|default)\.stable_secret' > "$out/snapshot/sysctl.conf" || true
$H ss -H -ltun > "$out/snapshot/sockets.txt"
# The kernel's own end state: what the replay's counters and table are checked against.
cp "$out/snapshot/iptables.rules" "$out/kernel/iptables-save-c.rules"

kill -INT "$dump_pid"
wait "$dump_pid" 2>/dev/null || true
dump_pid=
echo "recorded $(stat -c %s "$out/captures/any.pcap") bytes of capture into $out"
