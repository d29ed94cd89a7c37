#!/usr/bin/env bash
# Records the bundled docker-host scenario on the real kernel: three network namespaces
#   trd-ctr  (a container, 172.17.0.2)  --veth1/eth0--  trd-host (docker0 bridge 172.17.0.1, eth0 198.51.100.1)
#   trd-host --eth0/wan0--  trd-wan (a remote server: 198.51.100.2 and 203.0.113.9)
# loads Docker-style iptables rules into trd-host, makes traffic with ping and nc, captures it the
# way an operator would (`tcpdump -i any`, SLL2) and writes the host snapshot beside it.
# Traffic stays inside the namespaces made here. Needs root, iproute2, iptables, tcpdump, nc, ping,
# conntrack. Everything is removed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
H="ip netns exec trd-host" C="ip netns exec trd-ctr" W="ip netns exec trd-wan"

cleanup() {
    [[ -n "${dump_pid:-}" ]] && kill "$dump_pid" 2>/dev/null || true
    for ns in trd-host trd-ctr trd-wan; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
cleanup

for ns in trd-host trd-ctr trd-wan; do ip netns add "$ns"; ip netns exec "$ns" ip link set lo up; done
# Container side: veth1 is the bridge port, eth0 the container's interface.
ip link add veth1 netns trd-host type veth peer name eth0 netns trd-ctr
$H ip link add docker0 type bridge
$H ip link set veth1 master docker0
$H ip addr add 172.17.0.1/16 dev docker0
$H ip link set docker0 up
$H ip link set veth1 up
$C ip addr add 172.17.0.2/16 dev eth0
$C ip link set eth0 up
$C ip route add default via 172.17.0.1
# Uplink.
ip link add eth0 netns trd-host type veth peer name wan0 netns trd-wan
$H ip addr add 198.51.100.1/24 dev eth0
$H ip link set eth0 up
$H ip route add default via 198.51.100.2
$W ip addr add 198.51.100.2/24 dev wan0
$W ip addr add 203.0.113.9/32 dev lo
$W ip link set wan0 up
$W ip route add 172.17.0.0/16 via 198.51.100.1
$H sysctl -qw net.ipv4.ip_forward=1

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
-A DOCKER-USER -j RETURN
COMMIT
RULES

# Servers: the remote's web and SMTP ports, the container's web port.
$W sh -c 'while true; do printf "HTTP/1.0 200 OK\r\n\r\nremote\n" | nc -l -p 80 -q 1 >/dev/null; done' &
$W sh -c 'while true; do nc -l -p 25 >/dev/null; done' &
$C sh -c 'while true; do printf "HTTP/1.0 200 OK\r\n\r\ncontainer\n" | nc -l -p 80 -q 1 >/dev/null; done' &
sleep 0.5

mkdir -p "$out/captures" "$out/snapshot"
$H tcpdump -i any -nn -U -s 262144 -w "$out/captures/any.pcap" 2>/dev/null &
dump_pid=$!
sleep 1

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
sleep 1

# The snapshot, as `tracereplay snapshot` will take it (DESIGN.md: host snapshot directory).
$H iptables-save -c > "$out/snapshot/iptables.rules"
$H ip -j addr > "$out/snapshot/addr.json"
$H ip -j -d link > "$out/snapshot/link.json"
$H ip -j route show table all > "$out/snapshot/route.json"
$H ip -j -6 route show table all > "$out/snapshot/route6.json"
$H ip -j rule > "$out/snapshot/rule.json"
$H sysctl -a 2>/dev/null | grep '^net\.' | grep -v -E '^net\.ipv[46]\.conf\.(all|default)\.stable_secret' > "$out/snapshot/sysctl.conf" || true
$H conntrack -L -o extended > "$out/snapshot/conntrack.txt" 2>/dev/null || true
$H ss -H -ltun > "$out/snapshot/sockets.txt"

kill -INT "$dump_pid"
wait "$dump_pid" 2>/dev/null || true
dump_pid=
echo "recorded $(stat -c %s "$out/captures/any.pcap") bytes of capture into $out"
