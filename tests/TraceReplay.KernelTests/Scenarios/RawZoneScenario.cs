using TraceReplay.KernelTests.Framework;

namespace TraceReplay.KernelTests.Scenarios;

/// <summary>
/// Scenario 6 of issue 6 (first half), the raw table: a router between two networks
/// <code>
///   a (10.1.0.2) --a0-- [fw] 10.1.0.1 / 10.2.0.1 --b0-- b (10.2.0.2)
/// </code>
/// DNS-like UDP on port 53 is exempted from tracking with NOTRACK both ways and let through by
/// `--ctstate UNTRACKED`; TCP to port 8000 is tracked in conntrack zone 7 (`CT --zone 7` on both
/// interfaces), CONNMARKed 0x7 and SNATed, so its entry carries a zone, a mark and NAT; TCP to port 80
/// is tracked in the default zone; connections from b are NEW from the wrong side and meet FORWARD's
/// DROP policy.
/// </summary>
public static class RawZoneScenario
{
    public const string Rules = """
        *raw
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A PREROUTING -i a0 -p udp -m udp --dport 53 -j NOTRACK
        -A PREROUTING -i b0 -p udp -m udp --sport 53 -j NOTRACK
        -A PREROUTING -i a0 -p tcp -m tcp --dport 8000 -j CT --zone 7
        -A PREROUTING -i b0 -p tcp -m tcp --sport 8000 -j CT --zone 7
        COMMIT
        *mangle
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A FORWARD -i a0 -p tcp -m tcp --dport 8000 -m conntrack --ctstate NEW -j CONNMARK --set-xmark 0x7/0xffffffff
        COMMIT
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A POSTROUTING -o b0 -p tcp -m tcp --dport 8000 -j SNAT --to-source 10.2.0.1
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A FORWARD -m conntrack --ctstate UNTRACKED -j ACCEPT
        -A FORWARD -m conntrack --ctstate INVALID -j DROP
        -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A FORWARD -i a0 -o b0 -m conntrack --ctstate NEW -j ACCEPT
        COMMIT

        """;

    public static void Record(KernelLab lab, string dir)
    {
        foreach (var n in (string[])["fw", "a", "b"])
            lab.AddNamespace(n);
        lab.Veth("fw", "a0", "a", "eth0");
        lab.Veth("fw", "b0", "b", "eth0");
        lab.Exec("fw", "ip addr add 10.1.0.1/24 dev a0 && ip addr add 10.2.0.1/24 dev b0 && ip link set a0 up && ip link set b0 up && sysctl -qw net.ipv4.ip_forward=1");
        lab.Exec("a", "ip addr add 10.1.0.2/24 dev eth0 && ip link set eth0 up && ip route add default via 10.1.0.1");
        lab.Exec("b", "ip addr add 10.2.0.2/24 dev eth0 && ip link set eth0 up && ip route add default via 10.2.0.1");
        lab.Restore("fw", "iptables-restore", Rules);
        lab.Start("b", "while true; do echo pong | nc -u -l -p 53 -q 1 -w 1 >/dev/null; done");
        lab.Start("b", """while true; do printf 'HTTP/1.0 200 OK\r\n\r\nzone\n' | nc -l -p 8000 -q 1 >/dev/null; done""");
        lab.Start("b", """while true; do printf 'HTTP/1.0 200 OK\r\n\r\nplain\n' | nc -l -p 80 -q 1 >/dev/null; done""");
        lab.Start("a", "while true; do nc -l -p 22 >/dev/null; done");
        Thread.Sleep(300);

        var rec = new ScenarioRecorder(lab, "fw", dir);
        rec.Start();
        // Untracked UDP both ways; TCP in zone 7 (CONNMARK, SNAT); TCP in zone 0; ping (tracked);
        // b's connection to a (FORWARD policy DROP, the SYN retried once within the 2 s).
        lab.Try("a", "echo ping | nc -u -w 1 10.2.0.2 53");
        lab.Exec("a", """printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 -q 1 10.2.0.2 8000 >/dev/null""");
        lab.Exec("a", """printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 -q 1 10.2.0.2 80 >/dev/null""");
        lab.Exec("a", "ping -c 2 -i 0.2 -W 1 10.2.0.2 >/dev/null");
        lab.Try("b", "nc -z -w 2 10.1.0.2 22");
        rec.Finish();
    }
}
