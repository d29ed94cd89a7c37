using BenchmarkDotNet.Attributes;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Benchmarks;

/// <summary>
/// nf_conntrack_in on packets of connections already in the table: hash, bucket walk, tracker update,
/// refresh and counters. The table holds <see cref="Live"/> other connections so chains are realistic
/// (kernel default: as many buckets as nf_conntrack_max). Results are per packet. The machine these run
/// on is shared: Min is the figure closest to an idle core.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class ConntrackBenchmarks
{
    private const int Batch = 1024;
    private const long Ns = 1_000_000;

    private NfConntrackTable _table = null!;
    private DecodedPacket[] _tcp = [];
    private DecodedPacket[] _udp = [];
    private long _now;
    private int[] _spread = [];
    private int _cursor;

    [Params(100_000)]
    public int Live { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _table = new NfConntrackTable(new NfConntrackSettings { Max = 262144, Buckets = 262144, Acct = true });
        _table.EventsEnabled = false;
        for (int i = 0; i < Live; i++)
        {
            var p = Udp(IpAddr.FromV4(0x0A000000u | (uint)i), 5000, IpAddr.FromV4(0xC6336407), 53);
            Pass(p);
        }
        // 64 established TCP connections; the batch alternates each one's two directions.
        _tcp = new DecodedPacket[Batch];
        _udp = new DecodedPacket[Batch];
        for (int c = 0; c < 64; c++)
        {
            var cli = IpAddr.FromV4(0xAC110000u | (uint)(c + 2));
            var srv = IpAddr.FromV4(0xCB007109);
            ushort port = (ushort)(40000 + c);
            Pass(Tcp(cli, port, srv, 443, TcpFlags.Syn, 1000, 0));
            Pass(Tcp(srv, 443, cli, port, TcpFlags.Syn | TcpFlags.Ack, 5000, 1001));
            Pass(Tcp(cli, port, srv, 443, TcpFlags.Ack, 1001, 5001));
            Pass(Udp(cli, port, srv, 443));
            Pass(Udp(srv, 443, cli, port));
        }
        for (int i = 0; i < Batch; i++)
        {
            int c = (i / 2) % 64;
            var cli = IpAddr.FromV4(0xAC110000u | (uint)(c + 2));
            var srv = IpAddr.FromV4(0xCB007109);
            ushort port = (ushort)(40000 + c);
            _tcp[i] = i % 2 == 0 ? Tcp(cli, port, srv, 443, TcpFlags.Ack, 1001, 5001) : Tcp(srv, 443, cli, port, TcpFlags.Ack, 5001, 1001);
            _udp[i] = i % 2 == 0 ? Udp(cli, port, srv, 443) : Udp(srv, 443, cli, port);
        }
        // The live flows in a fixed shuffled order: each packet meets another connection's bucket and entry, as a
        // capture of tens of thousands of flows does (the batches above stay in cache).
        _spread = Enumerable.Range(0, Live).ToArray();
        new Random(9).Shuffle(_spread);
        _now = 10 * Ns;
        if (_table.ConntrackIn(in _tcp[0], default, _now).State != CtState.Established)
            throw new InvalidOperationException("benchmark connection is not established");
    }

    private void Pass(DecodedPacket p)
    {
        var info = _table.ConntrackIn(in p, default, _now);
        _table.Confirm(info.Entry, _now);
        _now += 1000;
    }

    private static DecodedPacket Ip(IpAddr src, IpAddr dst, byte proto, int length) => new()
    {
        Layers = Layers.Link | Layers.Ip | Layers.Transport,
        IpVersion = 4,
        Protocol = proto,
        Src = src,
        Dst = dst,
        IpHeaderLength = 20,
        IpTotalLength = length,
        L3Offset = 14,
        L4Offset = 34,
    };

    private static DecodedPacket Tcp(IpAddr src, ushort sport, IpAddr dst, ushort dport, TcpFlags flags, uint seq, uint ack)
    {
        var p = Ip(src, dst, L4Protocol.Tcp, 40);
        p.SrcPort = sport;
        p.DstPort = dport;
        p.TcpFlags = flags;
        p.TcpSeq = seq;
        p.TcpAck = ack;
        p.TcpWindow = 64240;
        p.TcpHeaderLength = 20;
        return p;
    }

    private static DecodedPacket Udp(IpAddr src, ushort sport, IpAddr dst, ushort dport)
    {
        var p = Ip(src, dst, L4Protocol.Udp, 60);
        p.SrcPort = sport;
        p.DstPort = dport;
        return p;
    }

    /// <summary>Established TCP, both directions alternating (tcp_in_window runs on every packet).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int TcpEstablished()
    {
        int sum = 0;
        long now = _now += 1000;
        var pkts = _tcp;
        for (int i = 0; i < pkts.Length; i++)
            sum += _table.ConntrackIn(in pkts[i], default, now).Entry;
        return sum;
    }

    /// <summary>Replied UDP flows, both directions.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int UdpStream()
    {
        int sum = 0;
        long now = _now += 1000;
        var pkts = _udp;
        for (int i = 0; i < pkts.Length; i++)
            sum += _table.ConntrackIn(in pkts[i], default, now).Entry;
        return sum;
    }

    /// <summary>Packets of the <see cref="Live"/> UDP flows in shuffled order: the hash lookup's cache misses dominate.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int UdpSpread()
    {
        int sum = 0;
        long now = _now += 1000;
        var p = Udp(default, 5000, IpAddr.FromV4(0xC6336407), 53);
        var spread = _spread;
        int cursor = _cursor;
        for (int i = 0; i < Batch; i++)
        {
            p.Src = IpAddr.FromV4(0x0A000000u | (uint)spread[cursor]);
            cursor = cursor + 1 == spread.Length ? 0 : cursor + 1;
            sum += _table.ConntrackIn(in p, default, now).Entry;
        }
        _cursor = cursor;
        return sum;
    }
}
