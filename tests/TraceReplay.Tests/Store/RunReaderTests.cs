using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Store;

namespace TraceReplay.Tests.Store;

/// <summary>
/// RunReader.ConntrackAt rebuilding the table at a time from connections, conntrack_events and
/// packets, on a hand-made run whose answers follow from the kernel's rules: an entry is listed
/// from its NEW until its DESTROY, a slot (ct_id) can be reused by a later entry, every packet
/// refreshes the timeout without an event, and ctnetlink does not list an entry past its deadline.
/// </summary>
public sealed class RunReaderTests : IDisposable
{
    private const long S = 1_000_000; // microseconds
    private static readonly long T0 = new DateTimeOffset(2026, 11, 25, 18, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1000;
    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-reader-").FullName;

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    private static NfConntrackTuple Udp(int sport) => new(IpAddr.FromV4(0x0A000001), IpAddr.FromV4(0x08080808), (ushort)sport, 53, 17, false);

    private static NfConntrackEvent Event(NfctEventType type, long atUs, NfConntrackTuple t, long timeoutS) =>
        new(type, type == NfctEventType.New ? NfctEventMask.New : NfctEventMask.Destroy, atUs * 1000, 0, t, t.Invert(), 0, CtStatus.None, TcpConntrack.None, 0, 0, 0, 0, 0, (atUs + (timeoutS * S)) * 1000, false);

    private string Run()
    {
        string path = Path.Combine(_dir, "run.duckdb");
        using var w = RunWriter.Create(path);
        NfConntrackTuple a = Udp(1000), b = Udp(2000);
        // Slot 0: A from T0 (30 s UDP timeout), destroyed at T0+10 s; then B in the same slot from T0+20 s,
        // refreshed by a packet at T0+25 s (no event: a refresh is not a state change).
        w.AddPacket(new PacketRow { Id = 1, PacketId = 1, TimestampUs = T0, CapturePoint = "eth0", Family = RunFamily.Ipv4, Protocol = 17, Src = a.Src, Dst = a.Dst, SrcPort = 1000, DstPort = 53, CtId = 0, CtState = CtState.New });
        w.AddPacket(new PacketRow { Id = 2, PacketId = 2, TimestampUs = T0 + (20 * S), CapturePoint = "eth0", Family = RunFamily.Ipv4, Protocol = 17, Src = b.Src, Dst = b.Dst, SrcPort = 2000, DstPort = 53, CtId = 0, CtState = CtState.New });
        w.AddPacket(new PacketRow { Id = 3, PacketId = 3, TimestampUs = T0 + (25 * S), CapturePoint = "eth0", Family = RunFamily.Ipv4, Protocol = 17, Src = b.Src, Dst = b.Dst, SrcPort = 2000, DstPort = 53, CtId = 0, CtState = CtState.Established });
        w.AddConntrackEvent(Event(NfctEventType.New, T0, a, 30));
        w.AddConntrackEvent(Event(NfctEventType.Destroy, T0 + (10 * S), a, 0));
        w.AddConntrackEvent(Event(NfctEventType.New, T0 + (20 * S), b, 30));
        w.AddConnection(new ConnectionRow { CtId = 0, Orig = a, Reply = a.Invert(), FirstUs = T0, LastUs = T0 + (10 * S) });
        w.AddConnection(new ConnectionRow { CtId = 0, Orig = b, Reply = b.Invert(), FirstUs = T0 + (20 * S), LastUs = -1 });
        w.Complete();
        return path;
    }

    [Theory]
    [InlineData(5, 1000, 25)]   // A, 5 s after its NEW: 30 - 5
    [InlineData(15, 0, 0)]      // A destroyed, B not yet
    [InlineData(26, 2000, 29)]  // B, refreshed at +25 s: 30 - 1
    [InlineData(60, 0, 0)]      // B's deadline (+55 s) passed: not listed
    public void The_table_at_a_time_follows_each_slot_through_its_entries(int atS, int sport, long left)
    {
        using var reader = RunReader.Open(Run());
        var table = reader.ConntrackAt(T0 + (atS * S), withCounters: false);
        if (sport == 0)
        {
            Assert.Empty(table);
            return;
        }
        var e = Assert.Single(table);
        Assert.Equal(sport, e.Orig.SrcPort);
        Assert.Equal(left, e.SecondsLeft);
    }

    private static NfConntrackTuple Tcp(int sport) => new(IpAddr.FromV4(0x0A000001), IpAddr.FromV4(0x08080808), (ushort)sport, 443, 6, false);

    /// <summary>
    /// A starting-table entry (conntrack.txt) has no NEW event: slot 1 went live at T0 ESTABLISHED with
    /// 1,000 s left (conntrack_start), turned TIME_WAIT with 120 s at T0+10 s (an UPDATE), and is still
    /// live at the end, where connections holds its last state. Before the UPDATE the table shows the
    /// starting state aged from T0, after it the UPDATE's.
    /// </summary>
    private string RunWithStartingTable()
    {
        string path = Path.Combine(_dir, "start.duckdb");
        using var w = RunWriter.Create(path);
        var t = Tcp(5000);
        w.AddPacket(new PacketRow { Id = 1, PacketId = 1, TimestampUs = T0, CapturePoint = "eth0", Family = RunFamily.Ipv4, Protocol = 17, Src = t.Src, Dst = t.Dst, SrcPort = 1, DstPort = 2, CtId = -1 });
        w.AddPacket(new PacketRow { Id = 2, PacketId = 2, TimestampUs = T0 + (10 * S), CapturePoint = "eth0", Family = RunFamily.Ipv4, Protocol = 6, Src = t.Src, Dst = t.Dst, SrcPort = 5000, DstPort = 443, CtId = 1, CtState = CtState.Established });
        w.AddConntrackStart(new ConntrackStartRow { TimestampUs = T0, CtId = 1, Protocol = 6, Status = CtStatus.Confirmed | CtStatus.Assured | CtStatus.SeenReply, TcpState = TcpConntrack.Established, TimeoutSeconds = 1000 });
        w.AddConntrackEvent(new NfConntrackEvent(NfctEventType.Update, NfctEventMask.ProtoInfo, (T0 + (10 * S)) * 1000, 1, t, t.Invert(), 0, CtStatus.Confirmed | CtStatus.Assured | CtStatus.SeenReply,
            TcpConntrack.TimeWait, 0, 0, 0, 0, 0, (T0 + (130 * S)) * 1000, false));
        w.AddConnection(new ConnectionRow { CtId = 1, Orig = t, Reply = t.Invert(), FirstUs = T0, LastUs = -1, Status = CtStatus.Confirmed | CtStatus.Assured | CtStatus.SeenReply, TcpState = TcpConntrack.TimeWait });
        w.Complete();
        return path;
    }

    [Theory]
    [InlineData(5, TcpConntrack.Established, 995)] // the starting state, 5 s into its 1,000
    [InlineData(12, TcpConntrack.TimeWait, 118)]   // the UPDATE's at +10 s: 120 - 2
    public void A_starting_table_entry_shows_its_starting_state_until_its_first_event(int atS, TcpConntrack state, long left)
    {
        using var reader = RunReader.Open(RunWithStartingTable());
        var e = Assert.Single(reader.ConntrackAt(T0 + (atS * S), withCounters: false));
        Assert.Equal((5000, state, left), (e.Orig.SrcPort, e.TcpState, e.SecondsLeft));
    }

    [Fact]
    public void A_slot_taken_back_while_the_starting_table_went_live_shows_the_entry_that_kept_it()
    {
        // At nf_conntrack_max the starting table's load early-drops its own earlier entries: A (mark 1)
        // went into slot 2 and was dropped at T0 (DESTROY at T0) for B (mark 2, 500 s left), which kept
        // slot 2. At T0+1 s the slot holds B as it started: mark 2, 499 s, not A's DESTROY.
        string path = Path.Combine(_dir, "full.duckdb");
        using (var w = RunWriter.Create(path))
        {
            NfConntrackTuple a = Udp(3000), b = Udp(4000);
            w.AddPacket(new PacketRow { Id = 1, PacketId = 1, TimestampUs = T0, CapturePoint = "eth0", Family = RunFamily.Ipv4, Protocol = 17, Src = a.Src, Dst = a.Dst, SrcPort = 9, DstPort = 9, CtId = -1 });
            w.AddConntrackEvent(new NfConntrackEvent(NfctEventType.Destroy, NfctEventMask.Destroy, T0 * 1000, 2, a, a.Invert(), 0, CtStatus.Confirmed, TcpConntrack.None, 1, 0, 0, 0, 0, T0 * 1000, false));
            w.AddConnection(new ConnectionRow { CtId = 2, Orig = a, Reply = a.Invert(), FirstUs = T0, LastUs = T0, Status = CtStatus.Confirmed, Mark = 1 });
            w.AddConntrackStart(new ConntrackStartRow { TimestampUs = T0, CtId = 2, Protocol = 17, Status = CtStatus.Confirmed, Mark = 2, TimeoutSeconds = 500 });
            w.AddConnection(new ConnectionRow { CtId = 2, Orig = b, Reply = b.Invert(), FirstUs = T0, LastUs = -1, Status = CtStatus.Confirmed, Mark = 2 });
            w.Complete();
        }
        using var reader = RunReader.Open(path);
        var e = Assert.Single(reader.ConntrackAt(T0 + S, withCounters: false));
        Assert.Equal((4000, 2u, 499L), (e.Orig.SrcPort, e.Mark, e.SecondsLeft));
    }

    [Fact]
    public void Anything_but_a_run_database_is_refused_naming_the_file()
    {
        string text = Path.Combine(_dir, "x.duckdb");
        File.WriteAllText(text, "not a database");
        Assert.Contains("x.duckdb: not a run database", Assert.Throws<InvalidDataException>(() => RunReader.Open(text)).Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => RunReader.Open(Path.Combine(_dir, "none.duckdb")));
    }
}
