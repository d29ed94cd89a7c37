using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Benchmarks;

/// <summary>
/// One packet through a compiled filter table (ipt_do_table): the docker-host dump's FORWARD chain
/// (a new connection from a container, 11 rules over four chains), and the 12k-rule university
/// firewall of the shared corpus — a SYN from the internet to a host on VLAN 1025 (about 250 rules)
/// and a SYN from that VLAN (through mac_1025's 2001 rules). Results are per packet; all must
/// allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class TablesBenchmarks
{
    private XtTableInfo _docker = null!;
    private XtTableInfo _university = null!;
    private byte[] _dockerFrame = [];
    private byte[] _inboundFrame = [];
    private byte[] _outboundFrame = [];
    private DecodedPacket _dockerPacket;
    private DecodedPacket _inboundPacket;
    private DecodedPacket _outboundPacket;

    public static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "TraceReplay.sln")))
                return d.FullName;
        }
        throw new InvalidOperationException("TraceReplay.sln not found above " + AppContext.BaseDirectory);
    }

    public static string UniversityRules => Path.Combine(RepoRoot(), "..", "shared", "datasets", "external", "iptables-save", "net-network",
        "configs_chair_for_Network_Architectures_and_Services", "iptables-save-2016-06-27_16-29-01");

    /// <summary>An Ethernet/IPv4/TCP SYN, no options.</summary>
    public static byte[] Syn(uint src, uint dst, ushort sport, ushort dport)
    {
        var f = new byte[54];
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), EtherTypes.Ipv4);
        var ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 40);
        ip[8] = 64;
        ip[9] = L4Protocol.Tcp;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], src);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], dst);
        var tcp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], dport);
        tcp[12] = 5 << 4;
        tcp[13] = 0x02;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 64240);
        return f;
    }

    [GlobalSetup]
    public void Setup()
    {
        var net = new XtNet();
        var docker = IptablesParser.Load(Path.Combine(RepoRoot(), "datasets", "docker-host", "snapshot", "iptables.rules"));
        _docker = XtTableInfo.Compile(docker.Table("filter")!, docker.Family, net);
        var university = IptablesParser.Load(UniversityRules);
        _university = XtTableInfo.Compile(university.Table("filter")!, university.Family, net);

        _dockerFrame = Syn(0xAC11_0002, 0xCB00_7109, 40000, 443); // 172.17.0.2 → 203.0.113.9
        _inboundFrame = Syn(0xCB00_7109, 0xB956_E90B, 40000, 443); // 203.0.113.9 → 185.86.233.11
        _outboundFrame = Syn(0xB956_EBF2, 0xCB00_7109, 40000, 443); // 185.86.235.242 (not registered) → 203.0.113.9
        PacketDecoder.Decode(_dockerFrame, LinkType.Ethernet, _dockerFrame.Length, out _dockerPacket);
        PacketDecoder.Decode(_inboundFrame, LinkType.Ethernet, _inboundFrame.Length, out _inboundPacket);
        PacketDecoder.Decode(_outboundFrame, LinkType.Ethernet, _outboundFrame.Length, out _outboundPacket);

        // The paths the figures stand for (checked once, so a change of path does not pass unnoticed).
        Expect(DockerForward(), XtVerdict.Accept, _docker, "FORWARD", 5);
        Expect(UniversityInbound(), XtVerdict.Accept, _university, "filter_1025", 1);
        Expect(UniversityOutbound(), XtVerdict.Accept, _university, "filter_0", 60);
    }

    private static void Expect(IptVerdict v, XtVerdict verdict, XtTableInfo t, string chain, int rule)
    {
        var (c, n, _) = t.Describe(v.Entry);
        if (v.Verdict != verdict || c != chain || (rule > 0 && n != rule))
            throw new InvalidOperationException($"unexpected path: {v.Verdict} at {c}:{n}");
    }

    private static IptVerdict Traverse(XtTableInfo t, ref DecodedPacket d, byte[] frame, string inDev, string outDev)
    {
        var p = new XtActionParam(ref d, frame, NfInetHook.Forward)
        {
            InDev = inDev,
            OutDev = outDev,
            Ct = new NfCtInfo { State = CtState.New },
        };
        return t.DoTable(ref p);
    }

    /// <summary>A container's new connection to the internet: DOCKER-USER, both isolation stages, FORWARD:5 accepts.</summary>
    [Benchmark]
    public IptVerdict DockerForward() => Traverse(_docker, ref _dockerPacket, _dockerFrame, "docker0", "eth0");

    /// <summary>The university firewall, internet → VLAN 1025 host: FORWARD's ~240 rules, then filter_1025:1 accepts.</summary>
    [Benchmark]
    public IptVerdict UniversityInbound() => Traverse(_university, ref _inboundPacket, _inboundFrame, "eth1.1024", "eth1.1025");

    /// <summary>The university firewall, VLAN 1025 → internet, source not registered: all of mac_1025 (2001 rules), ranges_1025, the rest of FORWARD, then filter_0:60 accepts the new connection.</summary>
    [Benchmark]
    public IptVerdict UniversityOutbound() => Traverse(_university, ref _outboundPacket, _outboundFrame, "eth1.1025", "eth1.1024");
}
