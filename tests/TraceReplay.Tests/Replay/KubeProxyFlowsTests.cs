using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Replay;

/// <summary>
/// kube-proxy's own packet-flow expectations (kubernetes pkg/proxy/iptables/proxier_test.go,
/// TestTracePacket: ../shared/datasets/external/iptables-save/kubernetes/*.flows.tsv) replayed through
/// the simulated host built from the same rules. kube-proxy's tracer lists every endpoint a random
/// choice could pick ("a, b"); the kernel picks one per connection with `-m statistic`, so the replay
/// must always land on a listed endpoint and, over seeds, on each of them. The node's addresses are the
/// ones the fixture names as LOCAL: 192.168.0.2 (eth0), 192.168.1.2 (eth1), 192.168.99.11 (eth2).
/// </summary>
public sealed class KubeProxyFlowsTests(ITestOutputHelper output)
{
    private static string Folder => Path.Combine(Corpus.External, "iptables-save", "kubernetes");

    private const string Addresses = """
        1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN
            link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
            inet 127.0.0.1/8 scope host lo
        2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP
            link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff
            inet 192.168.0.2/24 brd 192.168.0.255 scope global eth0
        3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP
            link/ether 02:00:00:00:00:02 brd ff:ff:ff:ff:ff:ff
            inet 192.168.1.2/24 brd 192.168.1.255 scope global eth1
        4: eth2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP
            link/ether 02:00:00:00:00:03 brd ff:ff:ff:ff:ff:ff
            inet 192.168.99.11/24 brd 192.168.99.255 scope global eth2

        """;

    private const string Routes = """
        default via 192.168.0.1 dev eth0
        192.168.0.0/24 dev eth0 proto kernel scope link src 192.168.0.2
        192.168.1.0/24 dev eth1 proto kernel scope link src 192.168.1.2
        192.168.99.0/24 dev eth2 proto kernel scope link src 192.168.99.11
        local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1
        local 192.168.0.2 dev eth0 table local proto kernel scope host src 192.168.0.2
        local 192.168.1.2 dev eth1 table local proto kernel scope host src 192.168.1.2
        local 192.168.99.11 dev eth2 table local proto kernel scope host src 192.168.99.11

        """;

    private sealed record Flow(string Name, string Source, string Dest, ushort Port, string Expected, bool Masq);

    private static List<Flow> Flows()
    {
        var flows = new List<Flow>();
        foreach (var line in File.ReadLines(Path.Combine(Folder, "kube-proxy_TestTracePacket.flows.tsv")))
        {
            if (line.StartsWith('#') || line.StartsWith("name\t", StringComparison.Ordinal) || line.Length == 0)
                continue;
            var f = line.Split('\t');
            Assert.Equal("tcp", f[1]);
            flows.Add(new Flow(f[0], f[2], f[3], ushort.Parse(f[4], System.Globalization.CultureInfo.InvariantCulture), f[5], f[6] == "true"));
        }
        return flows;
    }

    private static NfHost Host(ulong seed)
    {
        var devices = DeviceParser.ParseText(Addresses, "ip-addr");
        var routes = RouteParser.ParseText(Routes, "ip-route");
        var sysctls = Sysctls.Parse("net.ipv4.ip_forward = 1\n", "sysctl.conf");
        var network = new NetworkConfig(devices, routes, TraceReplay.Host.Network.RuleParser.ParseText("0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n", "ip-rule"), sysctls);
        var rules = IptablesParser.Load(Path.Combine(Folder, "kube-proxy_TestTracePacket.rules.iptables-restore"), IptFamily.IPv4);
        return new NfHost(network, rules, null, null, new NfHostOptions { Seed = seed });
    }

    /// <summary>One SYN through the host: from one of its own addresses it is made by the host (OUTPUT), otherwise it arrives on eth0.</summary>
    private static (NfHookResult Result, NfHost Host) Send(Flow flow, ulong seed)
    {
        var host = Host(seed);
        byte[] frame = Frames.TcpV4(flow.Source, 40000, flow.Dest, flow.Port);
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        bool local = flow.Source is "192.168.0.2" or "192.168.1.2" or "192.168.99.11";
        var r = local
            ? host.Output(frame, ref d, new NfEgress(1_000_000_000))
            : host.Receive(frame, ref d, new NfIngress("eth0", 1_000_000_000));
        return (r, host);
    }

    [Fact]
    public void Every_flow_of_kube_proxys_own_test_meets_its_expected_fate()
    {
        if (!Directory.Exists(Folder))
            Assert.Skip($"kube-proxy fixtures not found at {Folder} (clone ../shared beside the repository to run this test)");
        var failures = new List<string>();
        foreach (var flow in Flows())
        {
            var expectedEndpoints = flow.Expected.Length == 0 || flow.Expected is "DROP" or "REJECT" or "ACCEPT"
                ? []
                : flow.Expected.Split(", ").ToHashSet();
            var picked = new HashSet<string>();
            for (ulong seed = 1; seed <= 16; seed++)
            {
                var (r, host) = Send(flow, seed);
                string dnat = $"{r.TupleAfter.Dst}:{r.TupleAfter.DstPort}";
                bool snat = host.Nat.OpenMappings().Any(m => m.Manip == NfNatManipType.Src && m.RuleId >= 0);
                string got = flow.Expected switch
                {
                    "DROP" => r.Fate == NfFate.Dropped && !r.HasReject ? "ok" : $"{r.Fate} {r.DropDescription()}",
                    "REJECT" => r.Fate == NfFate.Dropped && r.HasReject ? "ok" : $"{r.Fate} {r.DropDescription()}",
                    "ACCEPT" => r.Fate == NfFate.DeliveredLocally ? "ok" : $"{r.Fate} {r.DropDescription()}",
                    "" => r.TupleAfter.Dst == r.TupleBefore.Dst && r.Fate != NfFate.Dropped ? "ok" : $"{r.Fate} {dnat}",
                    _ => expectedEndpoints.Contains(dnat) && r.Fate != NfFate.Dropped ? "ok" : $"{r.Fate} {dnat} {r.DropDescription()}",
                };
                if (got != "ok")
                    failures.Add($"{flow.Name} (seed {seed}): expected {(flow.Expected.Length == 0 ? "no match" : flow.Expected)}, got {got}");
                if (snat != flow.Masq && flow.Expected is not ("DROP" or "REJECT"))
                    failures.Add($"{flow.Name} (seed {seed}): masquerade {snat}, expected {flow.Masq}");
                picked.Add(dnat);
            }
            var first = Send(flow, 1).Result;
            output.WriteLine($"{flow.Name}: expected '{flow.Expected}' masq={flow.Masq}; reached {string.Join(", ", picked.Order(StringComparer.Ordinal))}; seed 1: {first.Fate} {first.DropDescription()}");
            // The random choice reaches every endpoint kube-proxy lists (16 seeds; each endpoint is taken with probability 1/n).
            foreach (var e in expectedEndpoints.Where(e => !picked.Contains(e)))
                failures.Add($"{flow.Name}: endpoint {e} never chosen over 16 seeds");
        }
        Assert.Empty(failures);
    }
}
