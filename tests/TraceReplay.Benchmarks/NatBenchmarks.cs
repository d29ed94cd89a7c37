using BenchmarkDotNet.Attributes;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;

namespace TraceReplay.Benchmarks;

/// <summary>
/// The NAT core per connection (nf_nat_setup_info, then nf_nat_cleanup_conntrack so the by-source
/// table stays at a steady size) and the per-packet rewrite. Results are per connection / per packet;
/// both must allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class NatBenchmarks
{
    private const int Count = 1024;

    /// <summary>nf_conntrack_tuple_taken over a hash set of the live connections' tuples, as the conntrack table would answer it.</summary>
    private readonly struct SetTaken(HashSet<NfConntrackTuple> tuples) : INfConntrackTupleTaken
    {
        public bool IsTaken(in NfConntrackTuple reply) => tuples.Contains(reply);
    }

    private readonly NfNatCore _core = new(seed: 1);
    private readonly HashSet<NfConntrackTuple> _live = [];
    private NfConntrackTuple[] _originals = [];
    private NfNatRange2 _single;
    private NfNatRange2 _pool;
    private readonly IpAddr _clashSrc = IpAddr.FromV4(0x0A00_0002);
    private readonly IpAddr _clashDst = IpAddr.FromV4(0xCB00_7109);

    private byte[] _tcp = [];
    private DecodedPacket _tcpDecoded;
    private NfConntrackTuple _tcpOriginal;
    private NfConntrackTuple _tcpReply;

    private byte[] _icmp = [];
    private DecodedPacket _icmpDecoded;
    private NfConntrackTuple _icmpOriginal;
    private NfConntrackTuple _icmpReply;

    [GlobalSetup]
    public void Setup()
    {
        _originals = new NfConntrackTuple[Count];
        for (int i = 0; i < Count; i++)
        {
            _originals[i] = new NfConntrackTuple(IpAddr.FromV4(0x0A00_0000u | (uint)(i % 200 + 2)), IpAddr.FromV4(0xCB00_7100u | (uint)(i % 50)),
                (ushort)(32768 + i), 443, 6, false);
        }
        var nat = IpAddr.Parse("198.51.100.1");
        _single = new NfNatRange2(NfNatRangeFlags.MapIps, nat, nat, 0, 0, 0);
        _pool = new NfNatRange2(NfNatRangeFlags.MapIps, IpAddr.Parse("198.51.100.10"), IpAddr.Parse("198.51.100.40"), 0, 0, 0);

        // A connection from 10.0.0.2 on the one port every client in the clash benchmark wants.
        for (int i = 0; i < 8; i++)
        {
            var o = new NfConntrackTuple(IpAddr.FromV4(0x0A09_0000u | (uint)i), IpAddr.Parse("203.0.113.9"), 40000, 443, 6, false);
            _live.Add(o);
            _live.Add(new NfConntrackTuple(o.Dst, nat, 443, 40000, 6, false));
        }

        var rng = new Random(7);
        _tcp = new byte[Frames.MaxLength];
        _tcp = _tcp.AsSpan(0, Frames.Write(_tcp, FrameKind.EthernetIpv4Tcp, rng, out _)).ToArray();
        PacketDecoder.Decode(_tcp, LinkType.Ethernet, _tcp.Length, out _tcpDecoded);
        var d = _tcpDecoded;
        _tcpOriginal = new NfConntrackTuple(d.Src, d.Dst, d.SrcPort, d.DstPort, d.Protocol, false);
        _tcpReply = new NfConntrackTuple(d.Dst, nat, d.DstPort, 61000, d.Protocol, false);

        _icmp = new byte[Frames.MaxLength];
        _icmp = _icmp.AsSpan(0, Frames.Write(_icmp, FrameKind.IcmpPortUnreachable, rng, out _)).ToArray();
        PacketDecoder.Decode(_icmp, LinkType.Ethernet, _icmp.Length, out _icmpDecoded);
        d = _icmpDecoded;
        if ((d.Flags & PacketFlags.IcmpError) == 0 || (d.Layers & Layers.InnerTransport) == 0)
            throw new InvalidOperationException("benchmark ICMP frame has no quoted transport header");
        _icmpOriginal = new NfConntrackTuple(d.InnerSrc, d.InnerDst, d.InnerSrcPort, d.InnerDstPort, d.InnerProtocol, false);
        _icmpReply = new NfConntrackTuple(d.InnerDst, nat, d.InnerDstPort, 61001, d.InnerProtocol, false);
    }

    private long SetupAll(in NfNatRange2 range, bool clash)
    {
        var taken = new SetTaken(_live);
        long sum = 0;
        for (int i = 0; i < Count; i++)
        {
            var original = clash ? _originals[i] with { Src = _clashSrc, SrcPort = 40000, Dst = _clashDst } : _originals[i];
            var reply = NfNatTuple.Invert(original);
            var status = CtStatus.None;
            var verdict = _core.SetupInfo(ref taken, original, ref reply, ref status, range, NfNatManipType.Src);
            sum += reply.DstPort + (int)verdict + (long)reply.Dst.Lo;
            _core.Destroy(original, reply, status);
        }
        return sum;
    }

    /// <summary>SNAT to one address, the source port free: the common case (one lookup, port kept).</summary>
    [Benchmark(OperationsPerInvoke = Count)]
    public long SetupSnatKeepPort() => SetupAll(_single, clash: false);

    /// <summary>SNAT over a 31-address pool: find_best_ips_proto's jhash on every connection.</summary>
    [Benchmark(OperationsPerInvoke = Count)]
    public long SetupSnatPool() => SetupAll(_pool, clash: false);

    /// <summary>The source port is taken: a port search from a random start (nf_nat_l4proto_unique_tuple).</summary>
    [Benchmark(OperationsPerInvoke = Count)]
    public long SetupSnatClash() => SetupAll(_single, clash: true);

    /// <summary>SNAT of an Ethernet/IPv4/TCP frame: address, port, IP and TCP checksums.</summary>
    [Benchmark(OperationsPerInvoke = Count)]
    public long RewriteTcp()
    {
        const CtStatus status = CtStatus.SrcNat | CtStatus.SrcNatDone | CtStatus.DstNatDone;
        long sum = 0;
        for (int i = 0; i < Count; i++)
            sum += (int)NfNatProto.Packet(_tcp, _tcpDecoded, _tcpOriginal, _tcpReply, status, NfNatManipType.Src, CtDirection.Original);
        return sum + _tcp[^1];
    }

    /// <summary>An ICMP error about a masqueraded connection: quoted header, ICMP checksum, outer header.</summary>
    [Benchmark(OperationsPerInvoke = Count)]
    public long RewriteIcmpError()
    {
        const CtStatus status = CtStatus.SrcNat | CtStatus.SrcNatDone | CtStatus.DstNatDone;
        long sum = 0;
        for (int i = 0; i < Count; i++)
            sum += (int)NfNatProto.Translate(_icmp, _icmpDecoded, _icmpOriginal, _icmpReply, status, CtState.Related, NfNatManipType.Dst, CtDirection.Reply);
        return sum + _icmp[^1];
    }
}
