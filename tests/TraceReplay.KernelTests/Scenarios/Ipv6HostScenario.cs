using TraceReplay.KernelTests.Framework;

namespace TraceReplay.KernelTests.Scenarios;

/// <summary>
/// Scenario 5 of issue 6, an IPv6 host with ip6tables routing a ULA network out through NAT66:
/// <code>
///   client (fd00:1::10) --lan0-- [gw] fd00:1::1 / 2001:db8:1::1 --wan0-- up (2001:db8:1::2, server 2001:db8:ff::7)
/// </code>
/// INPUT allows neighbour discovery and echo requests and drops the rest; SSH from the uplink is
/// REJECTed with an ICMPv6 administratively-prohibited error and UDP with port-unreachable; the LAN is
/// MASQUERADEd behind 2001:db8:1::1. Addresses are static (no DAD, no router advertisements), so the
/// only ICMPv6 of the capture is the scenario's own: neighbour solicitations/advertisements as the
/// neighbours first meet, echoes and the errors.
/// </summary>
public static class Ipv6HostScenario
{
    public const string Rules = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A POSTROUTING -s fd00:1::/64 -o wan0 -j MASQUERADE
        COMMIT
        *filter
        :INPUT DROP [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -i lo -j ACCEPT
        -A INPUT -m conntrack --ctstate INVALID -j DROP
        -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT
        -A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 136 -j ACCEPT
        -A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT
        -A INPUT -i wan0 -p tcp -m tcp --dport 22 -j REJECT --reject-with icmp6-adm-prohibited
        -A INPUT -p udp -j REJECT --reject-with icmp6-port-unreachable
        -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A FORWARD -i lan0 -o wan0 -j ACCEPT
        COMMIT

        """;

    public static void Record(KernelLab lab, string dir)
    {
        foreach (var n in (string[])["gw", "client", "up"])
            lab.AddNamespace(n, ipv6: true);
        lab.Veth("gw", "lan0", "client", "eth0");
        lab.Veth("gw", "wan0", "up", "eth0");
        lab.Exec("gw", """
            sysctl -qw net.ipv6.conf.all.forwarding=1
            ip -6 addr add fd00:1::1/64 dev lan0 nodad && ip -6 addr add 2001:db8:1::1/64 dev wan0 nodad
            ip link set lan0 up && ip link set wan0 up
            ip -6 route add default via 2001:db8:1::2
            """);
        lab.Exec("client", "ip -6 addr add fd00:1::10/64 dev eth0 nodad && ip link set eth0 up && ip -6 route add default via fd00:1::1");
        lab.Exec("up", """
            ip -6 addr add 2001:db8:1::2/64 dev eth0 nodad && ip link set eth0 up
            ip -6 addr add 2001:db8:ff::7/128 dev lo
            ip -6 route add fd00:1::/64 via 2001:db8:1::1
            """);
        lab.Restore("gw", "ip6tables-restore", Rules);
        lab.Start("up", """while true; do printf 'HTTP/1.0 200 OK\r\n\r\nup\n' | nc -6 -l -p 80 -q 1 >/dev/null; done""");
        Thread.Sleep(300);

        var rec = new ScenarioRecorder(lab, "gw", dir);
        rec.Start();
        // The client pings the gateway (neighbour discovery, INPUT), then the server (FORWARD, NAT66) and fetches a page from it.
        lab.Exec("client", "ping -6 -c 2 -i 0.2 -W 1 fd00:1::1 >/dev/null");
        lab.Exec("client", "ping -6 -c 2 -i 0.2 -W 1 2001:db8:ff::7 >/dev/null");
        lab.Exec("client", """printf 'GET / HTTP/1.0\r\n\r\n' | nc -6 -w 2 -q 1 2001:db8:ff::7 80 >/dev/null""");
        // The uplink: SSH (REJECT, ICMPv6 administratively prohibited), UDP (REJECT, port unreachable),
        // another TCP port (INPUT policy DROP), and a ping to the client (FORWARD policy DROP: NEW from outside).
        lab.Try("up", "nc -6 -z -w 2 2001:db8:1::1 22");
        lab.Try("up", "echo x | nc -6 -u -w 1 2001:db8:1::1 9999");
        lab.Try("up", "nc -6 -z -w 1 2001:db8:1::1 80");
        lab.Try("up", "ping -6 -c 1 -W 1 fd00:1::10");
        rec.Finish();
    }
}
