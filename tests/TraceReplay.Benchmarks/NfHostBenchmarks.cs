using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Host;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Routing;

namespace TraceReplay.Benchmarks;

/// <summary>
/// One packet through the whole simulated host (NfHost.Receive: conntrack, raw/mangle/nat/filter in
/// PREROUTING, routing, FORWARD, POSTROUTING with MASQUERADE, confirm) with docker-host's snapshot:
/// a segment of an established, MASQUERADEd container connection (the bulk of a real capture), and a
/// container's new connection (a SYN with a fresh source port each time: conntrack entry, the nat
/// table's chains, a NAT binding). The frame is restored before each run since NAT rewrites it.
/// </summary>
[MemoryDiagnoser]
public class NfHostBenchmarks
{
    private const uint Container = 0xAC11_0002, Remote = 0xCB00_7109; // 172.17.0.2, 203.0.113.9
    private NfHost _host = null!;
    private readonly byte[] _work = new byte[128];
    private byte[] _established = [];
    private byte[] _syn = [];
    private DecodedPacket _establishedPacket;
    private long _now;
    private int _port;
    private const int SpreadFlows = 50_000;
    private byte[][] _spread = [];
    private int _spreadNext;

    /// <summary>An Ethernet/IPv4/TCP segment with the timestamp option, as Linux sends them.</summary>
    private static byte[] Segment(uint src, uint dst, ushort sport, ushort dport, TcpFlags flags, uint seq, uint ack)
    {
        var f = new byte[66];
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), EtherTypes.Ipv4);
        var ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 52);
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = L4Protocol.Tcp;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], src);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], dst);
        // ip_rcv_core drops a header whose checksum does not fold to zero.
        uint sum = 0;
        for (int i = 0; i < 20; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~sum);
        var tcp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], dport);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], ack);
        tcp[12] = 8 << 4;
        tcp[13] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 502);
        tcp[20] = 1;
        tcp[21] = 1;
        tcp[22] = 8;
        tcp[23] = 10;
        return f;
    }

    [GlobalSetup]
    public void Setup()
    {
        var snapshot = HostSnapshot.Load(Path.Combine(TablesBenchmarks.RepoRoot(), "datasets", "docker-host", "snapshot"));
        _host = NfHost.Create(snapshot, new NfHostOptions { LoadConntrack = false });
        _now = DockerHostTraffic.StartNs;
        // The handshake: container SYN (veth1 → docker0 → eth0, MASQUERADE), the reply to 198.51.100.1, the ACK.
        Forward(Segment(Container, Remote, 40000, 443, TcpFlags.Syn, 1000, 0), "docker0", "veth1");
        Forward(Segment(Remote, 0xC633_6401, 443, 40000, TcpFlags.Syn | TcpFlags.Ack, 5000, 1001), "eth0", null);
        _established = Segment(Container, Remote, 40000, 443, TcpFlags.Ack, 1001, 5001);
        PacketDecoder.Decode(_established, LinkType.Ethernet, _established.Length, out _establishedPacket);
        var r = Forward(_established, "docker0", "veth1");
        if (r.Fate != NfFate.Forwarded || r.CtState != Netfilter.Conntrack.CtState.Established)
            throw new InvalidOperationException($"unexpected path for the established segment: {r.Fate} {r.CtState}");
        // Established connections from 172.17.0.3 (after the one above), visited in a shuffled order:
        // each packet meets a cold conntrack bucket and entry, as a capture of tens of thousands of flows does.
        const uint Spread = 0xAC11_0003;
        var order = Enumerable.Range(0, SpreadFlows).ToArray();
        new Random(9).Shuffle(order);
        _spread = new byte[SpreadFlows][];
        for (int i = 0; i < SpreadFlows; i++)
        {
            ushort port = (ushort)(10_000 + i);
            Forward(Segment(Spread, Remote, port, 443, TcpFlags.Syn, 1000, 0), "docker0", "veth1");
            Forward(Segment(Remote, 0xC633_6401, 443, port, TcpFlags.Syn | TcpFlags.Ack, 5000, 1001), "eth0", null);
        }
        for (int i = 0; i < SpreadFlows; i++)
            _spread[i] = Segment(Spread, Remote, (ushort)(10_000 + order[i]), 443, TcpFlags.Ack, 1001, 5001);
        if (EstablishedSpreadForward().CtState != Netfilter.Conntrack.CtState.Established)
            throw new InvalidOperationException("the spread connections are not established");
        _syn = Segment(Container, Remote, 0, 443, TcpFlags.Syn, 1000, 0);
        if (NewConnection().Fate != NfFate.Forwarded)
            throw new InvalidOperationException("the new connection was not forwarded");
    }

    private NfHookResult Forward(byte[] frame, string dev, string? physIn)
    {
        frame.CopyTo(_work, 0);
        PacketDecoder.Decode(_work.AsSpan(0, frame.Length), LinkType.Ethernet, frame.Length, out var p);
        return _host.Receive(_work.AsSpan(0, frame.Length), ref p, new NfIngress(dev, _now += 1000, PacketType.Host, physIn));
    }

    /// <summary>A segment of an established connection from the container: conntrack finds it, FORWARD's RELATED,ESTABLISHED rule, the NAT binding rewrites the source.</summary>
    [Benchmark]
    public NfHookResult EstablishedMasqueradeForward()
    {
        _established.CopyTo(_work, 0);
        var p = _establishedPacket;
        return _host.Receive(_work.AsSpan(0, _established.Length), ref p, new NfIngress("docker0", _now += 1000, PacketType.Host, "veth1"));
    }

    /// <summary>
    /// A segment of one of <see cref="SpreadFlows"/> established, MASQUERADEd connections, the next in a
    /// shuffled order: the same path as <see cref="EstablishedMasqueradeForward"/> with a cold conntrack
    /// entry (the frame is decoded here, as the replay does).
    /// </summary>
    [Benchmark]
    public NfHookResult EstablishedSpreadForward()
    {
        var f = _spread[_spreadNext];
        _spreadNext = _spreadNext + 1 == _spread.Length ? 0 : _spreadNext + 1;
        return Forward(f, "docker0", "veth1");
    }

    /// <summary>
    /// A new connection from the container, each from the next source port: a conntrack entry, PREROUTING
    /// nat (DOCKER), FORWARD (DOCKER-USER, isolation, accept), POSTROUTING MASQUERADE, confirm. The clock
    /// moves 10 ms per SYN so entries in SYN_SENT (120 s) expire and the table stays near 12,000 entries.
    /// </summary>
    [Benchmark]
    public NfHookResult NewConnection()
    {
        _syn.CopyTo(_work, 0);
        _port = _port == 28_000 ? 0 : _port + 1;
        BinaryPrimitives.WriteUInt16BigEndian(_work.AsSpan(34), (ushort)(32768 + _port));
        PacketDecoder.Decode(_work.AsSpan(0, _syn.Length), LinkType.Ethernet, _syn.Length, out var p);
        return _host.Receive(_work.AsSpan(0, _syn.Length), ref p, new NfIngress("docker0", _now += 10_000_000, PacketType.Host, "veth1"));
    }
}
