using System.Globalization;
using DuckDB.NET.Data;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;
using TraceReplay.Capture.Writers;
using TraceReplay.Host;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Replay.Pipeline;
using TraceReplay.Store;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Replay;

/// <summary>
/// ReplayJob.ReceiveThread (the receive stage on a thread of its own, handing batches to the
/// simulation) and the run writer's thread: the simulation reads the same packets in the same order
/// with the same bytes, so the run database must be the one the one-thread loop writes, row for row.
/// The expected values are the one-thread run's; the rows the two runs write are compared, not our numbers.
/// </summary>
public sealed class ReceiveStageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-receive-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Snapshot => Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot");

    private sealed class ListSink : IReplaySink
    {
        public List<(long Number, long PacketId, SightingHandling Handling, string Point, PacketDirection Direction, long TimeNs, NfFate Fate, DecodedPacket Packet)> Rows { get; } = [];

        public void Add(in ReplayedSighting s, in DecodedPacket packet) =>
            Rows.Add((s.SightingNumber, s.Sighting.PacketId, s.Handling, s.Point, s.Direction, s.TimeNs, s.Result.Fate, packet));
    }

    private (ReplaySummary Summary, string Database) Replay(string name, IReadOnlyList<CaptureSource> captures, bool receiveThread, bool writerThread)
    {
        var snapshot = HostSnapshot.Load(Snapshot);
        var relay = new RunDatabaseSink.EventRelay();
        var nf = NfHost.Create(snapshot, new NfHostOptions { Seed = 1, Events = relay });
        string db = Path.Combine(_dir, name + ".duckdb");
        // Small batches: many hand-overs to the writer thread while the receive thread fills its ring.
        using var sink = new RunDatabaseSink(db, snapshot, nf, new RunWriterOptions { BatchRows = 301, WriterThread = writerThread });
        relay.Target = sink;
        var summary = new ReplayJob(snapshot, nf) { ReceiveThread = receiveThread }.Run(captures, sink);
        sink.Complete(summary, [("test", "receive stage")]);
        return (summary, db);
    }

    private static List<string> Tables(string db)
    {
        using var c = Open(db);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' ORDER BY 1";
        using var r = cmd.ExecuteReader();
        var tables = new List<string>();
        while (r.Read())
            tables.Add(r.GetString(0));
        return tables;
    }

    private static DuckDBConnection Open(string db)
    {
        var c = new DuckDBConnection($"Data Source={db};ACCESS_MODE=READ_ONLY");
        c.Open();
        return c;
    }

    /// <summary>Each table's rows in storage order, as one digest, and its row count.</summary>
    private static Dictionary<string, (long Rows, string Digest)> Digests(string db)
    {
        var result = new Dictionary<string, (long, string)>(StringComparer.Ordinal);
        foreach (string table in Tables(db))
        {
            using var c = Open(db);
            using var cmd = c.CreateCommand();
            cmd.CommandText = $"SELECT count(*), coalesce(md5(string_agg(t::VARCHAR, '|' ORDER BY t.rowid)), '') FROM \"{table}\" t";
            using var r = cmd.ExecuteReader();
            r.Read();
            result[table] = (r.GetInt64(0), r.GetString(1));
        }
        return result;
    }

    private static void AssertSameRun((ReplaySummary Summary, string Database) one, (ReplaySummary Summary, string Database) other)
    {
        Assert.Equal(one.Summary, other.Summary with { Captures = one.Summary.Captures, Fidelity = one.Summary.Fidelity });
        Assert.Equal(one.Summary.Captures, other.Summary.Captures);
        Assert.Equal(one.Summary.Fidelity.Format(), other.Summary.Fidelity.Format());
        var a = Digests(one.Database);
        var b = Digests(other.Database);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (table, digest) in a)
            Assert.True(digest == b[table], $"{table}: {digest} one thread, {b[table]} staged");
        Assert.True(a["packets_data"].Rows > 0, "packets_data (the stored packets rows, schema 3) is empty");
    }

    [Fact]
    public void Docker_host_run_database_is_the_same_with_the_receive_and_writer_threads()
    {
        var captures = new[] { CaptureSource.Parse(Path.Combine(Corpus.Root, "datasets", "docker-host", "captures", "any.pcap")) };
        var one = Replay("one", captures, receiveThread: false, writerThread: false);
        Assert.Equal(186, one.Summary.Sightings); // `tcpdump -r any.pcap | wc -l`
        AssertSameRun(one, Replay("rx", captures, receiveThread: true, writerThread: false));
        AssertSameRun(one, Replay("staged", captures, receiveThread: true, writerThread: true));
    }

    [Fact]
    public void Generated_multi_file_run_database_is_the_same_with_the_receive_and_writer_threads()
    {
        var captures = WriteCaptures(flows: 700);
        var one = Replay("one", captures, receiveThread: false, writerThread: false);
        // Rounds of the ring (16 batches of 128) and batches closed by a full arena and by a frame larger than it.
        Assert.True(one.Summary.Sightings > 2 * ReceiveStage.RingSize * PacketBatch.Capacity, $"{one.Summary.Sightings} sightings");
        Assert.True(one.Summary.Simulated > 0 && one.Summary.Observations > 0, $"{one.Summary.Simulated} simulated, {one.Summary.Observations} observations");
        AssertSameRun(one, Replay("staged", captures, receiveThread: true, writerThread: true));
    }

    [Fact]
    public void Every_packet_and_its_bytes_reach_the_simulation_in_order()
    {
        var captures = WriteCaptures(flows: 600);
        var snapshot = HostSnapshot.Load(Snapshot);
        var interfaces = new InterfaceTable(snapshot.Network.Devices.Select(d => new HostInterface(d.IfIndex, d.Name, d.Mac, d.Master, d.Kind)));
        using var a = new PacketStream(captures, interfaces);
        using var bStream = new PacketStream(captures, interfaces);
        using var b = new ReceiveStage(bStream);
        long n = 0;
        int largest = 0;
        while (a.MoveNext())
        {
            largest = Math.Max(largest, a.Frame.Length);
            Assert.True(b.MoveNext(), $"staged stream ended at {n}");
            n++;
            Assert.Equal(a.Record, b.Record);
            Assert.Equal(a.Source, b.Source);
            Assert.Equal((a.Point, a.Points.Name(a.Point), a.Direction), (b.Point, b.PointName, b.Direction));
            Assert.True(a.Frame.SequenceEqual(b.Frame), $"packet {n}: frame bytes differ");
            // DecodedPacket holds offsets into the frame: equal structs over equal bytes decode alike.
            Assert.Equal(a.Packet, b.Packet);
            Assert.Equal(TraceReplay.Replay.Correlate.SightingCorrelator.Fingerprint(a.Packet, a.Frame), b.Fingerprint);
        }
        Assert.False(b.MoveNext());
        Assert.False(b.MoveNext());
        Assert.True(n > 2 * ReceiveStage.RingSize * PacketBatch.Capacity, $"{n} packets");
        Assert.Equal(140_000, largest); // larger than a batch's first arena (128 KiB): it had to grow
    }

    [Fact]
    public void A_bad_record_stops_the_run_with_the_same_message_after_the_same_rows()
    {
        string file = Path.Combine(_dir, "bad.pcap");
        using (var w = PcapWriter.Create(file, LinkType.Ethernet))
        {
            for (int i = 0; i < 1000; i++)
                w.Write(Base + i * 1000L, Inbound(Frames.UdpV4("203.0.113.7", (ushort)(1024 + i), "198.51.100.1", 53), Eth0Mac));
            var frame = Frames.UdpV4("203.0.113.7", 999, "198.51.100.1", 53);
            w.Write(Base + 1_000_000, frame, wireLength: frame.Length - 1); // captured longer than the wire: a bad record
            w.Write(Base + 1_001_000, frame);
        }
        var captures = new[] { new CaptureSource(file, "eth0") };
        var (oneRows, one) = Fails(captures, receiveThread: false);
        var (stagedRows, staged) = Fails(captures, receiveThread: true);
        Assert.Equal(one.GetType(), staged.GetType());
        Assert.Equal(one.Message, staged.Message);
        Assert.Contains("record 1001", one.Message, StringComparison.Ordinal);
        Assert.Equal(1000, oneRows.Count);
        Assert.Equal(oneRows, stagedRows);
    }

    private static (List<(long, long, SightingHandling, string, PacketDirection, long, NfFate, DecodedPacket)> Rows, Exception Error) Fails(IReadOnlyList<CaptureSource> captures, bool receiveThread)
    {
        var snapshot = HostSnapshot.Load(Snapshot);
        var sink = new ListSink();
        var e = Assert.ThrowsAny<CaptureFormatException>(() => new ReplayJob(snapshot, NfHost.Create(snapshot)) { ReceiveThread = receiveThread }.Run(captures, sink));
        return (sink.Rows, e);
    }

    private sealed class FailingSink(int after) : IReplaySink
    {
        public int Rows { get; private set; }

        public void Add(in ReplayedSighting sighting, in DecodedPacket packet)
        {
            if (++Rows == after)
                throw new IOException("disk full");
        }
    }

    [Fact]
    public void A_failing_sink_stops_the_receive_thread_and_its_error_reaches_the_caller()
    {
        // The receive thread is then blocked on a full ring or still reading: the job must stop and join it, not hang.
        var captures = WriteCaptures(flows: 600);
        var snapshot = HostSnapshot.Load(Snapshot);
        var sink = new FailingSink(after: 300);
        var e = Assert.Throws<IOException>(() => new ReplayJob(snapshot, NfHost.Create(snapshot)) { ReceiveThread = true }.Run(captures, sink));
        Assert.Equal("disk full", e.Message);
        Assert.Equal(300, sink.Rows);
    }

    [Fact]
    public void The_receive_thread_allocates_nothing_once_its_ring_is_full()
    {
        // No datagram larger than a batch's arena: growing it, once per batch of the ring that meets one, is not the steady state.
        var captures = WriteCaptures(flows: 600, jumbo: false);
        // Tiered compilation may allocate on the thread while it runs: the quietest of a few runs.
        long quietest = long.MaxValue;
        for (int round = 0; round < 5 && quietest != 0; round++)
        {
            using var stream = new PacketStream(captures);
            using var stage = new ReceiveStage(stream);
            while (stage.MoveNext())
            {
            }
            stage.Finish();
            Assert.True(stage.SteadyAllocatedBytes >= 0, "the run did not go round the ring");
            quietest = Math.Min(quietest, stage.SteadyAllocatedBytes);
        }
        Assert.Equal(0, quietest);
    }

    private static readonly long Base = 1_795_000_000_000_000_000L;
    private static readonly byte[] Eth0Mac = [0x8e, 0x0f, 0xd1, 0x12, 0x88, 0x08];     // link.json: eth0
    private static readonly byte[] Docker0Mac = [0x02, 0x42, 0xac, 0x11, 0x00, 0x01];  // link.json: docker0

    /// <summary>A frame addressed to the interface (eth_type_trans: PACKET_HOST) from a station that is not the host.</summary>
    private static byte[] Inbound(byte[] frame, byte[] to)
    {
        to.CopyTo(frame, 0);
        return frame;
    }

    /// <summary>A frame the host sent from the interface (its source MAC is the interface's: outgoing).</summary>
    private static byte[] Outbound(byte[] frame, byte[] from)
    {
        from.CopyTo(frame, 6);
        return frame;
    }

    /// <summary>
    /// Three plain-Ethernet files bound to docker-host's interfaces, in time order each, interleaved
    /// with one another (and some records of different files at the same nanosecond, which the merge
    /// orders by file): inbound TCP to the published port 8080 on eth0 and its replies leaving eth0,
    /// the container's connections out through veth1 and their SNATed copies on eth0, DNS to the host,
    /// full-size segments and 9,000-byte datagrams (a batch's arena fills before its 128 packets), and
    /// a 65,549-byte UDP datagram with 140,000 bytes captured (a trailer past the IP packet, as Ethernet
    /// padding is), larger than the arena a batch starts with.
    /// </summary>
    private IReadOnlyList<CaptureSource> WriteCaptures(int flows, bool jumbo = true)
    {
        string eth0 = Path.Combine(_dir, $"eth0-{flows}.pcap"), veth1 = Path.Combine(_dir, $"veth1-{flows}.pcap"), docker0 = Path.Combine(_dir, $"docker0-{flows}.pcap");
        using (var e = PcapWriter.Create(eth0, LinkType.Ethernet))
        using (var v = PcapWriter.Create(veth1, LinkType.Ethernet))
        using (var d = PcapWriter.Create(docker0, LinkType.Ethernet))
        {
            long t = Base;
            for (int i = 0; i < flows; i++)
            {
                string client = "203.0.113." + (1 + (i % 200)).ToString(CultureInfo.InvariantCulture);
                ushort port = (ushort)(20000 + i);
                uint seq = (uint)(i * 7919);
                e.Write(t += 1000, Inbound(Frames.TcpV4(client, port, "198.51.100.1", 8080, syn: true, seq: seq), Eth0Mac));
                e.Write(t += 1000, Inbound(Frames.TcpV4(client, port, "198.51.100.1", 8080, syn: false, ack: true, seq: seq + 1, ackNumber: 5), Eth0Mac));
                e.Write(t += 1000, Inbound(Frames.TcpV4(client, port, "198.51.100.1", 8080, syn: false, ack: true, payload: 1400, seq: seq + 1, ackNumber: 5), Eth0Mac));
                e.Write(t += 1000, Outbound(Frames.TcpV4("198.51.100.1", 8080, client, port, syn: false, ack: true, payload: 1400, seq: 5, ackNumber: seq + 1401), Eth0Mac));
                // The container's own connection, seen on its port and (SNATed) leaving eth0, and on docker0 at the same nanosecond.
                var out1 = Inbound(Frames.TcpV4("172.17.0.2", port, "192.0.2.10", 443, syn: true, seq: seq), Docker0Mac);
                v.Write(t += 1000, out1);
                d.Write(t, out1);
                e.Write(t += 1000, Outbound(Frames.TcpV4("198.51.100.1", port, "192.0.2.10", 443, syn: true, seq: seq), Eth0Mac));
                v.Write(t += 1000, Inbound(Frames.UdpV4("172.17.0.2", port, "192.0.2.53", 53, payload: 30), Docker0Mac));
                e.Write(t, Inbound(Frames.UdpV4(client, port, "198.51.100.1", 53, payload: 30), Eth0Mac));
                if (i % 40 == 7)
                {
                    var big = Inbound(Frames.UdpV4(client, port, "198.51.100.1", 5353, payload: jumbo && i % 80 == 7 ? 65507 : 9000), Eth0Mac);
                    if (big.Length > 65000)
                        Array.Resize(ref big, 140_000);
                    e.Write(t += 1000, big);
                }
            }
        }
        return [new CaptureSource(eth0, "eth0"), new CaptureSource(veth1, "veth1"), new CaptureSource(docker0, "docker0")];
    }
}
