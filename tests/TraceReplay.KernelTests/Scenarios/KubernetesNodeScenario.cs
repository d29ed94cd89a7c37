using TraceReplay.KernelTests.Framework;

namespace TraceReplay.KernelTests.Scenarios;

/// <summary>
/// Scenario 2 of issue 6, a Kubernetes node with kube-proxy's iptables rules (the structure of
/// kube-proxy's own fixtures, ../shared/datasets/external/iptables-save/kubernetes): routed pod
/// interfaces the way Calico makes them (a /32 per pod, the node answering for 10.244.1.1 on each veth),
/// <code>
///   pod1 10.244.1.2 --cali1--+
///   pod2 10.244.1.3 --cali2--+ [node] eth0 192.168.99.11 --- ext 192.168.99.50 (a client outside the cluster)
///   pod3 10.244.1.4 --cali3--+
/// </code>
/// Service web (ClusterIP 10.96.0.10:80, NodePort 30080) has endpoints pod1:8080 and pod2:8080 chosen by
/// `-m statistic --mode random --probability 0.5`; service empty (10.96.0.20:80) has none and is
/// REJECTed in filter KUBE-SERVICES. KUBE-MARK-MASQ marks what KUBE-POSTROUTING MASQUERADEs: NodePort
/// traffic, and a client outside the pod network reaching the ClusterIP.
/// </summary>
public static class KubernetesNodeScenario
{
    public const string Rules = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        :KUBE-EXT-WEB - [0:0]
        :KUBE-MARK-MASQ - [0:0]
        :KUBE-NODEPORTS - [0:0]
        :KUBE-POSTROUTING - [0:0]
        :KUBE-SEP-POD1 - [0:0]
        :KUBE-SEP-POD2 - [0:0]
        :KUBE-SERVICES - [0:0]
        :KUBE-SVC-WEB - [0:0]
        -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
        -A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
        -A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
        -A KUBE-EXT-WEB -m comment --comment "masquerade traffic for default/web:http external destinations" -j KUBE-MARK-MASQ
        -A KUBE-EXT-WEB -j KUBE-SVC-WEB
        -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
        -A KUBE-NODEPORTS -p tcp -m comment --comment "default/web:http" -m tcp --dport 30080 -j KUBE-EXT-WEB
        -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
        -A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
        -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
        -A KUBE-SEP-POD1 -s 10.244.1.2/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
        -A KUBE-SEP-POD1 -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.1.2:8080
        -A KUBE-SEP-POD2 -s 10.244.1.3/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
        -A KUBE-SEP-POD2 -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.1.3:8080
        -A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-WEB
        -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
        -A KUBE-SVC-WEB ! -s 10.244.0.0/16 -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
        -A KUBE-SVC-WEB -m comment --comment "default/web:http -> 10.244.1.2:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-POD1
        -A KUBE-SVC-WEB -m comment --comment "default/web:http -> 10.244.1.3:8080" -j KUBE-SEP-POD2
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        :KUBE-FIREWALL - [0:0]
        :KUBE-FORWARD - [0:0]
        :KUBE-SERVICES - [0:0]
        -A INPUT -j KUBE-FIREWALL
        -A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
        -A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
        -A FORWARD -i cali+ -j ACCEPT
        -A FORWARD -o cali+ -j ACCEPT
        -A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
        -A OUTPUT -j KUBE-FIREWALL
        -A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
        -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
        -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
        -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m comment --comment "default/empty:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable
        COMMIT

        """;

    public static void Record(KernelLab lab, string dir)
    {
        foreach (var n in (string[])["node", "pod1", "pod2", "pod3", "ext"])
            lab.AddNamespace(n);
        for (int i = 1; i <= 3; i++)
        {
            lab.Veth("node", $"cali{i}", $"pod{i}", "eth0");
            lab.Exec("node", $"ip addr add 10.244.1.1/32 dev cali{i} && ip link set cali{i} up && ip route add 10.244.1.{i + 1}/32 dev cali{i}");
            lab.Exec($"pod{i}", $"ip addr add 10.244.1.{i + 1}/32 dev eth0 && ip link set eth0 up && ip route add 10.244.1.1 dev eth0 && ip route add default via 10.244.1.1");
        }
        lab.Veth("node", "eth0", "ext", "eth0");
        lab.Exec("node", "ip addr add 192.168.99.11/24 dev eth0 && ip link set eth0 up && ip route add default via 192.168.99.50 && sysctl -qw net.ipv4.ip_forward=1");
        lab.Exec("ext", "ip addr add 192.168.99.50/24 dev eth0 && ip link set eth0 up");
        lab.Restore("node", "iptables-restore", Rules);

        lab.Start("pod1", """while true; do printf 'HTTP/1.0 200 OK\r\n\r\npod1\n' | nc -l -p 8080 -q 1 >/dev/null; done""");
        lab.Start("pod2", """while true; do printf 'HTTP/1.0 200 OK\r\n\r\npod2\n' | nc -l -p 8080 -q 1 >/dev/null; done""");
        Thread.Sleep(300);

        var rec = new ScenarioRecorder(lab, "node", dir);
        rec.Start();
        // A pod uses the service twice (each connection picks an endpoint at random), and the service without endpoints (REJECT: ICMP port unreachable).
        const string Get = """printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 -q 1""";
        // The pods' servers (`nc -l -q 1`) take a second to listen again: a second connection drawn to the
        // same endpoint sooner would be refused.
        lab.Exec("pod3", $"{Get} 10.96.0.10 80 >/dev/null");
        Thread.Sleep(1300);
        lab.Exec("pod3", $"{Get} 10.96.0.10 80 >/dev/null");
        Thread.Sleep(1300);
        lab.Try("pod3", "nc -z -w 2 10.96.0.20 80");
        // Outside the cluster through the NodePort (KUBE-EXT: marked, MASQUERADEd to the node's pod-side address).
        lab.Exec("ext", $"{Get} 192.168.99.11 30080 >/dev/null");
        // Not the node itself through the ClusterIP: `tcpdump -i any` sees a locally generated packet
        // only as it leaves, after nat OUTPUT's DNAT and POSTROUTING's MASQUERADE, so the replay cannot
        // know the destination the program asked for (reported as a limitation of the capture).
        rec.Finish();
    }
}
