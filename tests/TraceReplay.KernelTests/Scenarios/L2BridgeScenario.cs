using TraceReplay.KernelTests.Framework;

namespace TraceReplay.KernelTests.Scenarios;

/// <summary>
/// Scenario 4 of issue 6, a pure L2 bridge firewall: a transparent bridge with no address and no IP
/// forwarding role between three hosts of one subnet
/// <code>
///   a (10.9.0.1, 02:00:00:00:00:0a) --p1--+
///   b (10.9.0.2, 02:00:00:00:00:0b) --p2--+ br0 [fw]  (no IP, ip_forward=0, bridge-nf-call-iptables=1)
///   c (10.9.0.3, 02:00:00:00:00:0c) --p3--+
/// </code>
/// ebtables filter FORWARD drops IPv4 from c to a (--ip-src/--ip-dst), accepts ARP, accepts UDP from
/// a's MAC (--ip-proto, -s MAC) and counts ICMP; nat PREROUTING marks UDP for c (mark target), and
/// iptables FORWARD, run by br_netfilter, accepts by that mark first (the skb's mark carries over), then
/// matches the ports with physdev: c may not reach b's web port, a's port may start anything, ICMP
/// between bridged ports is accepted, the rest meets the DROP policy.
/// Not here: a MAC dnat (nat PREROUTING -d MAC -j dnat) — `tcpdump -i any` (SLL2) keeps no destination
/// MAC, so the replay cannot see which frames were for the rewritten address; and broute, which
/// ebtables-nft 1.8.9 does not have ("table 'broute' does not exist").
/// </summary>
public static class L2BridgeScenario
{
    public const string MacA = "02:00:00:00:00:0a";
    public const string MacB = "02:00:00:00:00:0b";
    public const string MacC = "02:00:00:00:00:0c";

    public const string Ebtables = $"""
        *filter
        :INPUT ACCEPT
        :FORWARD ACCEPT
        :OUTPUT ACCEPT
        -A FORWARD -p ARP -j ACCEPT
        -A FORWARD -p IPv4 --ip-src 10.9.0.3 --ip-dst 10.9.0.1 -j DROP
        -A FORWARD -s {MacA} -p IPv4 --ip-proto udp -j ACCEPT
        -A FORWARD -p IPv4 --ip-proto icmp
        -A FORWARD -d {MacC} -p IPv4 --ip-proto udp -j DROP
        *nat
        :PREROUTING ACCEPT
        :OUTPUT ACCEPT
        :POSTROUTING ACCEPT
        -A PREROUTING -p IPv4 --ip-dst 10.9.0.3 --ip-proto udp -j mark --mark-set 0x5 --mark-target ACCEPT

        """;

    public const string Rules = """
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A FORWARD -m physdev --physdev-is-bridged -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A FORWARD -m mark --mark 0x5 -j ACCEPT
        -A FORWARD -p tcp -m physdev --physdev-in p3 --physdev-out p2 -m tcp --dport 80 -j DROP
        -A FORWARD -m physdev --physdev-in p1 -j ACCEPT
        -A FORWARD -p icmp -m physdev --physdev-is-bridged -j ACCEPT
        COMMIT

        """;

    public static void Record(KernelLab lab, string dir)
    {
        foreach (var n in (string[])["fw", "a", "b", "c"])
            lab.AddNamespace(n);
        lab.Veth("fw", "p1", "a", "eth0");
        lab.Veth("fw", "p2", "b", "eth0");
        lab.Veth("fw", "p3", "c", "eth0");
        lab.Exec("fw", """
            ip link add br0 type bridge
            for p in p1 p2 p3; do ip link set $p master br0 && ip link set $p up; done
            ip link set br0 up
            sysctl -qw net.ipv4.ip_forward=0 net.bridge.bridge-nf-call-iptables=1
            """);
        string[] hosts = ["a", "b", "c"];
        string[] macs = [MacA, MacB, MacC];
        for (int i = 0; i < 3; i++)
            lab.Exec(hosts[i], $"ip link set eth0 address {macs[i]} && ip addr add 10.9.0.{i + 1}/24 dev eth0 && ip link set eth0 up");
        lab.Restore("fw", "ebtables-restore", Ebtables);
        lab.Restore("fw", "iptables-restore", Rules);

        lab.Start("b", """while true; do printf 'HTTP/1.0 200 OK\r\n\r\nb\n' | nc -l -p 80 -q 1 >/dev/null; done""");
        lab.Start("c", "while true; do nc -u -l -W 1 -p 9999 >/dev/null; done");
        lab.Start("a", "while true; do nc -l -p 22 >/dev/null; done");
        Thread.Sleep(300);

        var rec = new ScenarioRecorder(lab, "fw", dir);
        rec.Start();
        // a pings b and fetches its page (physdev-in p1, then ESTABLISHED); c's fetch from b meets the
        // physdev DROP (the SYN retried once within the 2 s); c's ping to a is dropped by ebtables;
        // b pings c (ICMP between bridged ports); b's TCP to a meets FORWARD's policy; UDP from a to c
        // is marked in nat PREROUTING and passes ebtables by a's MAC, iptables by the mark.
        lab.Exec("a", "ping -c 2 -i 0.2 -W 1 10.9.0.2 >/dev/null");
        lab.Exec("a", """printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 -q 1 10.9.0.2 80 >/dev/null""");
        lab.Try("c", """printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 -q 1 10.9.0.2 80 >/dev/null""");
        lab.Try("c", "ping -c 1 -W 1 10.9.0.1");
        lab.Exec("b", "ping -c 2 -i 0.2 -W 1 10.9.0.3 >/dev/null");
        lab.Try("b", "nc -z -w 2 10.9.0.1 22");
        lab.Try("a", "printf 'hello\\n' | nc -u -w 1 -q 1 10.9.0.3 9999");
        rec.Finish();
    }
}
