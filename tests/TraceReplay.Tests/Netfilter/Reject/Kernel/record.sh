#!/usr/bin/env bash
# Records what the real kernel sends for REJECT, for NfRejectKernelTests: three network namespaces
#   rjt-a (client 10.77.1.2, fd77:1::2) --a0/h1-- rjt-h (the host: 10.77.1.1, 10.77.2.1, fd77:1::1, fd77:2::1) --h2/b0-- rjt-b (10.77.2.2, fd77:2::2)
# REJECT rules of every kind in rjt-h's INPUT and FORWARD (and a DNAT in front of one), traffic from
# rjt-a with nc and ping, `tcpdump -i any` in rjt-h (SLL2), and rjt-h's snapshot beside it.
# Traffic stays inside the namespaces made here. Needs root, iproute2, iptables, ip6tables, tcpdump,
# nc (OpenBSD), ping. Everything is removed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
H="ip netns exec rjt-h" A="ip netns exec rjt-a" B="ip netns exec rjt-b"

cleanup() {
    [[ -n "${dump_pid:-}" ]] && kill "$dump_pid" 2>/dev/null || true
    for ns in rjt-h rjt-a rjt-b; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
cleanup

for ns in rjt-h rjt-a rjt-b; do ip netns add "$ns"; ip netns exec "$ns" ip link set lo up; done
$H sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
$H iptables-restore <<'RULES'
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 2525 -j DNAT --to-destination 10.77.2.2:25
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset
-A INPUT -p tcp -m tcp --dport 26 --tcp-flags PSH PSH -j REJECT --reject-with tcp-reset
-A INPUT -p udp -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable
-A INPUT -p tcp -m tcp --dport 80 -j REJECT --reject-with icmp-host-prohibited
-A INPUT -p icmp -m icmp --icmp-type 8 -j REJECT --reject-with icmp-admin-prohibited
-A FORWARD -p udp -m udp --dport 9 -j REJECT --reject-with icmp-net-unreachable
-A FORWARD -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset
COMMIT
RULES
$H ip6tables-restore <<'RULES'
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset
-A INPUT -p udp -m udp --dport 53 -j REJECT --reject-with icmp6-port-unreachable
-A INPUT -p tcp -m tcp --dport 80 -j REJECT --reject-with icmp6-adm-prohibited
-A FORWARD -p udp -m udp --dport 9 -j REJECT --reject-with icmp6-addr-unreachable
COMMIT
RULES

# The capture starts before any interface exists, so every packet the counters count is in it.
mkdir -p "$out/snapshot"
$H tcpdump -i any -nn -U -s 262144 -w "$out/reject.pcap" 2>/dev/null &
dump_pid=$!
sleep 1
ip link add h1 netns rjt-h type veth peer name a0 netns rjt-a
ip link add h2 netns rjt-h type veth peer name b0 netns rjt-b
$H ip addr add 10.77.1.1/24 dev h1; $H ip addr add fd77:1::1/64 dev h1 nodad
$H ip addr add 10.77.2.1/24 dev h2; $H ip addr add fd77:2::1/64 dev h2 nodad
$A ip addr add 10.77.1.2/24 dev a0; $A ip addr add fd77:1::2/64 dev a0 nodad
$B ip addr add 10.77.2.2/24 dev b0; $B ip addr add fd77:2::2/64 dev b0 nodad
$H ip link set h1 up; $H ip link set h2 up; $A ip link set a0 up; $B ip link set b0 up
$A ip route add default via 10.77.1.1; $A ip -6 route add default via fd77:1::1
$B ip route add default via 10.77.2.1; $B ip -6 route add default via fd77:2::1

sleep 2 # addresses usable, router solicitations and MLD reports sent
$H sh -c 'nc -l -p 26 >/dev/null' &
sleep 0.5

# IPv4: RST for a SYN (RST+ACK) and for a data segment with ACK (RST seq=ack), ICMP errors of three
# codes to the host's own address, one for a forwarded datagram (quoted with TTL 63, source chosen
# by the route back), a RST for a DNATed connection (sent from the original address after un-DNAT).
$A nc -z -w 1 10.77.1.1 25 || true
$A sh -c '(printf "hello\n"; sleep 0.5) | nc -w 1 10.77.1.1 26' || true
$A sh -c 'printf "query" | nc -u -w 1 10.77.1.1 53' || true
$A nc -z -w 1 10.77.1.1 80 || true
$A ping -c 1 -W 1 10.77.1.1 >/dev/null || true
$A sh -c 'printf "discard" | nc -u -w 1 10.77.2.2 9' || true
$A nc -z -w 1 10.77.1.1 2525 || true
# IPv6.
$A nc -6 -z -w 1 fd77:1::1 25 || true
$A sh -c 'printf "query6" | nc -6 -u -w 1 fd77:1::1 53' || true
$A nc -6 -z -w 1 fd77:1::1 80 || true
$A sh -c 'printf "discard6" | nc -6 -u -w 1 fd77:2::2 9' || true
# icmp_ratelimit: after 7 s the peer's bucket is full (6 messages); 10 datagrams at once get 6 errors.
sleep 7
burst=()
for i in 0 1 2 3 4 5 6 7 8 9; do $A sh -c "printf burst$i | nc -u -w 1 -p $((40000 + i)) 10.77.1.1 53" & burst+=($!); done
wait "${burst[@]}" || true
sleep 1

$H iptables-save -c > "$out/snapshot/iptables.rules"
$H ip6tables-save -c > "$out/snapshot/ip6tables.rules"
$H ip -j addr > "$out/snapshot/addr.json"
$H ip -j -d link > "$out/snapshot/link.json"
$H ip -j route show table all > "$out/snapshot/route.json"
$H ip -j -6 route show table all > "$out/snapshot/route6.json"
$H ip -j rule > "$out/snapshot/rule.json"
$H sysctl -a 2>/dev/null | grep '^net\.' | grep -v -E '^net\.ipv[46]\.conf\.(all|default)\.stable_secret' > "$out/snapshot/sysctl.conf" || true

kill -INT "$dump_pid"
wait "$dump_pid" 2>/dev/null || true
dump_pid=
uname -r > "$out/kernel.txt"
echo "recorded $(stat -c %s "$out/reject.pcap") bytes of capture into $out"
