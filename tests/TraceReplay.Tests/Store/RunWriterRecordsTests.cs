using DuckDB.NET.Data;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Store;

namespace TraceReplay.Tests.Store;

/// <summary>
/// Rows handed over as values (PacketRecord with text handles, conntrack events, connections) and
/// turned into columns where batches are stored: the stored rows, their order and run_text's ids
/// must be what filling them one by one gave, with or without a writer thread.
/// </summary>
public sealed class RunWriterRecordsTests : IDisposable
{
    private const int N = 3000;
    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-store-records-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Points = ["eth0", "docker0", "veth1"];
    private static readonly string[] Paths = ["PREROUTING>FORWARD>POSTROUTING", "PREROUTING>INPUT", "OUTPUT>POSTROUTING", "bridge veth1 > veth2"];

    private static PacketRow Packet(int i) => new()
    {
        Id = i % 50 == 49 ? -i : i,
        PacketId = i / 3,
        TimestampUs = 1_795_000_000_000_000 + i,
        CapturePoint = Points[i % 3],
        Direction = (SightingDirection)(i % 3),
        Family = i % 11 == 0 ? RunFamily.None : RunFamily.Ipv4,
        Protocol = 17,
        Src = IpAddr.FromV4(0x0A000000u + (uint)(i % 37)),
        Dst = IpAddr.FromV4(0xC0A80000u + (uint)(i % 5)),
        SrcPort = (ushort)i,
        DstPort = 53,
        HasNat = i % 4 == 0,
        NatSrc = IpAddr.FromV4(0xCB007100u + (uint)(i % 3)),
        NatDst = IpAddr.FromV4(0xC0A80000u + (uint)(i % 5)),
        NatSrcPort = (ushort)(40000 + i),
        NatDstPort = 53,
        Length = 60 + i,
        CtId = i % 7 == 0 ? -1 : i / 2,
        CtState = i % 7 == 0 ? CtState.Untracked : CtState.Established,
        CtDirection = (CtDirection)(i % 2),
        // A copy made at run time: equal text in another string object must read back alike.
        Path = i % 13 == 0 ? new string(Paths[i % 4].AsSpan()) : Paths[i % 4],
        Verdict = i % 10 == 0 ? PacketVerdict.Drop : PacketVerdict.Accept,
        VerdictRuleId = i % 10 == 0 ? 3 : -1,
        DropReason = i % 10 == 0 && i % 20 != 0 ? "no route" : null,
        DependsOnUnknown = i % 9 == 0,
        Observed = i % 6 == 0 ? "explained" : i % 6 == 1 ? "predicted_unseen" : null,
    };

    private static NfConntrackTuple Tuple(int i) => new(IpAddr.FromV4(0x0A000001u + (uint)i), IpAddr.FromV4(0x08080808), (ushort)(1000 + i), 53, 17, false);

    private string Write(string name, bool thread, bool records)
    {
        string path = Path.Combine(_dir, name);
        // Batches of 97 rows: many hand-overs of rows, and stored batches that end mid hand-over.
        using var w = RunWriter.Create(path, new RunWriterOptions { BatchRows = 97, WriterThread = thread });
        for (int i = 0; i < N; i++)
        {
            var p = Packet(i);
            if (records)
                w.AddPacket(RunWriter.Record(p, w.TextHandle(p.CapturePoint), w.TextHandle(p.Path), w.TextHandle(p.DropReason), w.TextHandle(p.Observed)));
            else
                w.AddPacket(in p);
            var t = Tuple(i);
            if (i % 3 == 0)
                w.AddConntrackEvent(new NfConntrackEvent(i % 2 == 0 ? NfctEventType.New : NfctEventType.Destroy, NfctEventMask.New, i * 1000L, i, t, t.Invert(), 0, CtStatus.None, TcpConntrack.None, 0, 1, 60, 0, 0, (i * 1000L) + 30_000_000_000, true));
            if (i % 5 == 0)
                w.AddConnection(new ConnectionRow { CtId = i, Orig = t, Reply = t.Invert(), FirstUs = i, LastUs = i % 2 == 0 ? -1 : i + 1, OrigPackets = (ulong)i });
            if (i % 7 == 0)
                w.AddNatMapping(NatMapping.Create(i * 1000L, t, t.Invert() with { Dst = IpAddr.FromV4(0xCB007100u + (uint)(i % 11)) }, i % 2 == 0 ? -1 : 3, NfNatManipType.Src));
        }
        Assert.Equal(N, w.PacketRows);
        w.Complete();
        return path;
    }

    private static List<string> Column(string path, string sql)
    {
        using var db = new DuckDBConnection($"Data Source={path};ACCESS_MODE=READ_ONLY");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var values = new List<string>();
        while (r.Read())
            values.Add(r.IsDBNull(0) ? "NULL" : Convert.ToString(r.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!);
        return values;
    }

    /// <summary>
    /// run_text's ids: each text gets the next id the first time a row needs it, rows in the order
    /// added and within a row in column order (capture_point, src, dst, nat_src, nat_dst, path,
    /// drop_reason, observed; addresses as IpAddr prints them) — RunSchema.Packets and TextIds.
    /// </summary>
    private static List<string> ExpectedRunText()
    {
        var seen = new List<string>();
        for (int i = 0; i < N; i++)
        {
            var p = Packet(i);
            bool ip = p.Family != RunFamily.None;
            string?[] texts =
            [
                p.CapturePoint, ip ? p.Src.ToString() : null, ip ? p.Dst.ToString() : null,
                ip && p.HasNat ? p.NatSrc.ToString() : null, ip && p.HasNat ? p.NatDst.ToString() : null,
                p.Path, p.DropReason, p.Observed,
            ];
            foreach (var t in texts)
            {
                if (t is not null && !seen.Contains(t))
                    seen.Add(t);
            }
        }
        return seen;
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Rows_come_back_in_order_with_their_texts_and_run_text_ids_in_first_seen_order(bool thread, bool records)
    {
        string path = Write($"run-{thread}-{records}.duckdb", thread, records);
        Assert.Equal(ExpectedRunText(), Column(path, "SELECT text FROM run_text ORDER BY id"));
        Assert.Equal(Enumerable.Range(0, ExpectedRunText().Count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), Column(path, "SELECT id FROM run_text ORDER BY id"));

        // Storage order is the order added (a plain scan), with every text and value as given.
        var expected = Enumerable.Range(0, N).Select(Packet).ToList();
        Assert.Equal(expected.Select(p => p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)), Column(path, "SELECT id FROM packets"));
        Assert.Equal(expected.Select(p => p.CapturePoint), Column(path, "SELECT capture_point FROM packets"));
        Assert.Equal(expected.Select(p => p.Path!), Column(path, "SELECT path FROM packets"));
        Assert.Equal(expected.Select(p => p.DropReason ?? "NULL"), Column(path, "SELECT drop_reason FROM packets"));
        Assert.Equal(expected.Select(p => p.Observed ?? "NULL"), Column(path, "SELECT observed FROM packets"));
        Assert.Equal(expected.Select(p => p.Family == RunFamily.None ? "NULL" : p.Src.ToString()), Column(path, "SELECT src FROM packets"));
        Assert.Equal(expected.Select(p => p.Family != RunFamily.None && p.HasNat ? p.NatSrc.ToString() : "NULL"), Column(path, "SELECT nat_src FROM packets"));
        Assert.Equal(expected.Select(p => p.DependsOnUnknown ? "True" : "False"), Column(path, "SELECT depends_on_unknown FROM packets"));
        Assert.Equal(expected.Select(p => p.CtId < 0 ? "NULL" : p.CtId.ToString(System.Globalization.CultureInfo.InvariantCulture)), Column(path, "SELECT ct_id FROM packets"));

        var events = Enumerable.Range(0, N).Where(i => i % 3 == 0).ToList();
        Assert.Equal(events.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), Column(path, "SELECT ct_id FROM conntrack_events"));
        Assert.Equal(events.Select(i => i % 2 == 0 ? "NEW" : "DESTROY"), Column(path, "SELECT type FROM conntrack_events"));
        // Counters only on a DESTROY with accounting (the event's HasAcct).
        Assert.Equal(events.Select(i => i % 2 == 0 ? "NULL" : "60"), Column(path, "SELECT orig_bytes FROM conntrack_events"));
        var connections = Enumerable.Range(0, N).Where(i => i % 5 == 0).ToList();
        Assert.Equal(connections.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), Column(path, "SELECT ct_id FROM connections"));
        Assert.Equal(connections.Select(i => i % 2 == 0 ? "NULL" : "x"), Column(path, "SELECT CASE WHEN last_ts IS NULL THEN NULL ELSE 'x' END FROM connections"));
        var nat = Enumerable.Range(0, N).Where(i => i % 7 == 0).ToList();
        Assert.Equal(nat.Select(i => Tuple(i).Src.ToString()), Column(path, "SELECT orig_src FROM nat_mappings"));
        Assert.Equal(nat.Select(i => i % 2 == 0 ? "NULL" : "3"), Column(path, "SELECT rule_id FROM nat_mappings"));
    }

    [Fact]
    public void Text_handles_name_texts_by_value_and_zero_is_null()
    {
        using var w = RunWriter.Create(Path.Combine(_dir, "handles.duckdb"), new RunWriterOptions { WriterThread = false });
        Assert.Equal(0, w.TextHandle(null));
        int a = w.TextHandle("PREROUTING>INPUT");
        Assert.NotEqual(0, a);
        Assert.Equal(a, w.TextHandle(new string("PREROUTING>INPUT".AsSpan())));
        Assert.NotEqual(a, w.TextHandle("OUTPUT"));
    }

    [Fact]
    public void A_run_abandoned_with_rows_handed_over_leaves_nothing()
    {
        string path = Path.Combine(_dir, "abandoned.duckdb");
        using (var w = RunWriter.Create(path, new RunWriterOptions { BatchRows = 97, WriterThread = true }))
        {
            for (int i = 0; i < N; i++)
            {
                var p = Packet(i);
                w.AddPacket(in p);
            }
        }
        Assert.Empty(Directory.GetFiles(_dir));
    }
}
