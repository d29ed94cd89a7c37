using TraceReplay.KernelTests.Framework;

namespace TraceReplay.KernelTests.Scenarios;

/// <summary>
/// Scenario 3 of issue 6, a home router:
/// <code>
///   lan1 (192.168.1.10) --lan1p--+
///                                br-lan 192.168.1.1  [r]  wan0 203.0.113.1 --- wan (203.0.113.254, server 198.51.100.7)
///   lan2 (192.168.1.11) --lan2p--+
/// </code>
/// MASQUERADE on wan0, two port forwards (8080 → lan1:80, 2222 → lan2:22), a stateful INPUT that drops
/// `--ctstate INVALID`, rp_filter=1, and a hash:net ipset of blocked destinations. The TCP established
/// timeout is lowered to 3 s with nf_conntrack_tcp_loose=0, so a connection left idle past it turns
/// its next packet INVALID.
/// The LAN ports share one MAC address, as a router's switch ports do (DSA ports inherit the CPU port's
/// address): frames for the router are then PACKET_HOST on every port. With veths' own addresses a frame
/// for the router arriving on the second port is PACKET_OTHERHOST there, and `tcpdump -i any` (SLL2, no
/// destination MAC) cannot say whether the bridge kept it; the replay counts it as bridged — see the report.
/// </summary>
public static class HomeRouterScenario
{
    public const string Rules = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A PREROUTING -i wan0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.1.10:80
        -A PREROUTING -i wan0 -p tcp -m tcp --dport 2222 -j DNAT --to-destination 192.168.1.11:22
        -A POSTROUTING -o wan0 -j MASQUERADE
        COMMIT
        *filter
        :INPUT DROP [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -i lo -j ACCEPT
        -A INPUT -m conntrack --ctstate INVALID -j DROP
        -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A INPUT -i br-lan -p icmp -m icmp --icmp-type 8 -j ACCEPT
        -A INPUT -i wan0 -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset
        -A INPUT -i wan0 -p udp -j REJECT --reject-with icmp-port-unreachable
        -A FORWARD -m conntrack --ctstate INVALID -j DROP
        -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A FORWARD -i br-lan -m set --match-set blocked dst -j REJECT --reject-with icmp-admin-prohibited
        -A FORWARD -i br-lan -o wan0 -j ACCEPT
        -A FORWARD -i wan0 -o br-lan -m conntrack --ctstate DNAT -j ACCEPT
        COMMIT

        """;

    public const string Ipset = """
        create blocked hash:net family inet hashsize 1024 maxelem 65536
        add blocked 192.0.2.0/24
        add blocked 198.51.100.128/25

        """;

    /// <param name="portClash">Also make MASQUERADE search a port: both LAN hosts connect from source port 40000 to the same server.</param>
    public static void Record(KernelLab lab, string dir, bool portClash = false)
    {
        foreach (var n in (string[])["r", "lan1", "lan2", "wan"])
            lab.AddNamespace(n);
        lab.Exec("r", "sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1");
        lab.Veth("r", "lan1p", "lan1", "eth0");
        lab.Veth("r", "lan2p", "lan2", "eth0");
        lab.Veth("r", "wan0", "wan", "eth0");
        lab.Exec("r", """
            ip link add br-lan type bridge
            ip link set lan2p address $(cat /sys/class/net/lan1p/address)
            ip link set lan1p master br-lan && ip link set lan2p master br-lan
            ip addr add 192.168.1.1/24 dev br-lan && ip addr add 203.0.113.1/24 dev wan0
            for i in br-lan lan1p lan2p wan0; do ip link set $i up; done
            ip route add default via 203.0.113.254
            sysctl -qw net.ipv4.ip_forward=1
            """);
        lab.Exec("lan1", "ip addr add 192.168.1.10/24 dev eth0 && ip link set eth0 up && ip route add default via 192.168.1.1");
        lab.Exec("lan2", "ip addr add 192.168.1.11/24 dev eth0 && ip link set eth0 up && ip route add default via 192.168.1.1");
        // The spoofer's 192.168.1.50 lives on its loopback; the idle connection is given up silently after ~0.6 s of retransmissions.
        lab.Exec("wan", """
            ip addr add 203.0.113.254/24 dev eth0 && ip link set eth0 up
            ip addr add 198.51.100.7/32 dev lo && ip addr add 192.168.1.50/32 dev lo
            sysctl -qw net.ipv4.tcp_retries2=1
            """);
        lab.Restore("r", "ipset restore", Ipset);
        lab.Restore("r", "iptables-restore", Rules);
        // After the rules: the nf_conntrack sysctls belong to the namespace once conntrack is in use there.
        lab.Exec("r", "sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 net.netfilter.nf_conntrack_tcp_timeout_established=3");

        lab.Start("wan", """while true; do printf 'HTTP/1.0 200 OK\r\n\r\nremote\n' | nc -l -p 80 -q 1 >/dev/null; done""");
        lab.Start("lan1", """while true; do printf 'HTTP/1.0 200 OK\r\n\r\nlan1\n' | nc -l -p 80 -q 1 >/dev/null; done""");
        lab.Start("lan2", "while true; do nc -l -p 22 >/dev/null; done");
        Thread.Sleep(300);

        var rec = new ScenarioRecorder(lab, "r", dir);
        rec.Start();
        // LAN: ping the router (INPUT), ping and fetch from the Internet (FORWARD, MASQUERADE),
        // a blocked destination (ipset: REJECT with ICMP admin-prohibited).
        lab.Exec("lan1", "ping -c 2 -i 0.2 -W 1 192.168.1.1 >/dev/null");
        lab.Exec("lan1", "ping -c 2 -i 0.2 -W 1 198.51.100.7 >/dev/null");
        lab.Exec("lan1", """printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 -q 1 198.51.100.7 80 >/dev/null""");
        lab.Try("lan2", "nc -z -w 2 192.0.2.10 443");
        if (portClash)
        {
            // Both LAN hosts from source port 40000 to the same server: MASQUERADE must search a free port for the second.
            Thread.Sleep(1300);
            lab.Exec("lan1", """printf 'GET / HTTP/1.0\r\n\r\n' | nc -p 40000 -w 2 -q 1 198.51.100.7 80 >/dev/null""");
            Thread.Sleep(1300);
            lab.Exec("lan2", """printf 'GET / HTTP/1.0\r\n\r\n' | nc -p 40000 -w 2 -q 1 198.51.100.7 80 >/dev/null""");
        }
        // WAN: both port forwards (DNAT), SSH on the router (REJECT tcp-reset), UDP (REJECT port
        // unreachable), a ping (INPUT policy DROP), a spoofed LAN source (rp_filter drops it in routing).
        lab.Exec("wan", """printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 -q 1 203.0.113.1 8080 >/dev/null""");
        lab.Try("wan", "nc -z -w 2 203.0.113.1 2222");
        lab.Try("wan", "nc -z -w 2 203.0.113.1 22");
        lab.Try("wan", "echo x | nc -u -w 1 203.0.113.1 9999");
        lab.Try("wan", "ping -c 1 -W 1 203.0.113.1");
        lab.Try("wan", "ping -c 1 -W 1 -I 192.168.1.50 203.0.113.1");
        // An idle forwarded connection outlives its 3 s conntrack entry: its next segment is INVALID
        // (tcp_loose=0 refuses to pick it up mid-stream), is not DNATed, and INPUT drops it.
        lab.Try("wan", "(printf 'a\\n'; sleep 4.5; printf 'b\\n'; sleep 1.5) | nc 203.0.113.1 2222");
        rec.Finish();
    }
}
