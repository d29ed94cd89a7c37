using BenchmarkDotNet.Attributes;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions.Matches;
using CtState = TraceReplay.Netfilter.Conntrack.CtState;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Benchmarks;

/// <summary>
/// DoTable on docker-host's rules merged with a 50,000-rule kube-proxy rule set
/// (<see cref="KubeProxyRules"/>), with the classifier (<see cref="XtTableInfo.UseClassifier"/>) and
/// walked rule by rule: a container's new connection to the internet through nat PREROUTING (every
/// KUBE-SERVICES rule, then KUBE-NODEPORTS for none: the destination is not local) and filter FORWARD
/// (KUBE-FORWARD, filter KUBE-SERVICES, Docker's chains); and a new connection to a ClusterIP in the
/// middle of KUBE-SERVICES, DNATed by its KUBE-SEP chain. Per packet; must allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class KubeProxyTablesBenchmarks
{
    private XtTableInfo _nat = null!, _filter = null!;
    private byte[] _outFrame = [], _svcFrame = [];
    private DecodedPacket _out, _svc;

    [Params(true, false)]
    public bool Classifier { get; set; }

    /// <summary>docker-host's local addresses (addr.json): 198.51.100.1 on eth0, 172.17.0.1 on docker0, 127/8 on lo.</summary>
    private sealed class DockerHostFib : IXtAddrTypeResolver
    {
        public AddrType TypeOf(IpAddr address, bool isV6, string? device) =>
            address == IpAddr.FromV4(0xC633_6401) || address == IpAddr.FromV4(0xAC11_0001) || (address.Lo & 0xFF00_0000u) == 0x7F00_0000u ? AddrType.Local : AddrType.Unicast;
    }

    [GlobalSetup]
    public void Setup()
    {
        string docker = File.ReadAllText(Path.Combine(TablesBenchmarks.RepoRoot(), "datasets", "docker-host", "snapshot", "iptables.rules"));
        var rs = IptablesParser.Parse(KubeProxyRules.Merge(docker, 50_000, out _), "kube-proxy.rules", IptFamily.IPv4);
        var net = new XtNet { Classifier = Classifier, AddrTypes = new DockerHostFib() };
        _nat = XtTableInfo.Compile(rs.Table("nat")!, rs.Family, net);
        _filter = XtTableInfo.Compile(rs.Table("filter")!, rs.Family, net);
        _outFrame = TablesBenchmarks.Syn(0xAC11_0002, 0xCB00_7109, 40000, 443); // 172.17.0.2 → 203.0.113.9
        _svcFrame = TablesBenchmarks.Syn(0xAC11_0002, 0x0A60_0D05, 40000, 80); // → 10.96.13.5:80, service 3332 (port 80)
        PacketDecoder.Decode(_outFrame, LinkType.Ethernet, _outFrame.Length, out _out);
        PacketDecoder.Decode(_svcFrame, LinkType.Ethernet, _svcFrame.Length, out _svc);

        // The paths the figures stand for: PREROUTING's policy, FORWARD:5 of docker's rules (after 3 of kube-proxy's jumps), a DNAT.
        Expect(_nat, OutNat(), XtVerdict.Accept, "PREROUTING");
        Expect(_filter, OutFilter(), XtVerdict.Accept, "FORWARD");
        Expect(_nat, ToService(), XtVerdict.Accept, "KUBE-SEP-");
    }

    private static void Expect(XtTableInfo t, IptVerdict v, XtVerdict verdict, string chainPrefix)
    {
        var (c, n, _) = t.Describe(v.Entry);
        if (v.Verdict != verdict || !c.StartsWith(chainPrefix, StringComparison.Ordinal))
            throw new InvalidOperationException($"unexpected path: {v.Verdict} at {c}:{n}");
    }

    private static IptVerdict Traverse(XtTableInfo t, ref DecodedPacket d, byte[] frame, NfInetHook hook, string inDev, string? outDev)
    {
        var p = new XtActionParam(ref d, frame, hook)
        {
            InDev = inDev,
            OutDev = outDev,
            Ct = new NfCtInfo { State = CtState.New },
        };
        return t.DoTable(ref p);
    }

    /// <summary>nat PREROUTING for a container's SYN to the internet: all of KUBE-SERVICES, no service.</summary>
    [Benchmark]
    public IptVerdict OutNat() => Traverse(_nat, ref _out, _outFrame, NfInetHook.PreRouting, "docker0", null);

    /// <summary>filter FORWARD for the same SYN: kube-proxy's FORWARD jumps (filter KUBE-SERVICES' REJECTs among them), then Docker's chains.</summary>
    [Benchmark]
    public IptVerdict OutFilter() => Traverse(_filter, ref _out, _outFrame, NfInetHook.Forward, "docker0", "eth0");

    /// <summary>nat PREROUTING for a SYN to a ClusterIP: KUBE-SERVICES → KUBE-SVC → KUBE-SEP DNAT.</summary>
    [Benchmark]
    public IptVerdict ToService() => Traverse(_nat, ref _svc, _svcFrame, NfInetHook.PreRouting, "docker0", null);
}
