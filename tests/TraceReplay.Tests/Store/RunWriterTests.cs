using Apache.Arrow;
using Apache.Arrow.Ipc;
using DuckDB.NET.Data;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Store;

namespace TraceReplay.Tests.Store;

public sealed class RunWriterTests : IDisposable
{
    private const int N = 3000;

    // 2026-11-25T17:58:01.500001Z in µs: the odd microsecond proves no rounding to ms on the way.
    private static readonly long T0 = new DateTimeOffset(2026, 11, 25, 17, 58, 1, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1000 + 500_001;

    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-store-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    

    /// <summary>Packet i: every third dropped by rule i % 10, every fifth NATed, every seventh untracked, every eleventh not IP.</summary>
    private static PacketRow Packet(int i) => new()
    {
        Id = i,
        TimestampUs = T0 + i,
        CapturePoint = i % 2 == 0 ? "eth0" : "br0",
        Direction = i % 2 == 0 ? SightingDirection.In : SightingDirection.Out,
        Family = i % 11 == 0 ? RunFamily.None : i % 4 == 0 ? RunFamily.Ipv6 : RunFamily.Ipv4,
        Protocol = 6,
        Src = i % 4 == 0 ? IpAddr.Parse("2001:db8::" + (i % 100).ToString("x")) : IpAddr.FromV4(0x0A000000u + (uint)(i % 100)),
        Dst = IpAddr.FromV4(0xC0A80001),
        SrcPort = (ushort)(1024 + i),
        DstPort = 443,
        HasNat = i % 5 == 0,
        NatSrc = IpAddr.FromV4(0xCB007101),
        NatDst = IpAddr.FromV4(0xC0A80001),
        NatSrcPort = (ushort)(40000 + i),
        NatDstPort = 443,
        Length = 60 + i % 1400,
        CtId = i % 7 == 0 ? -1 : i / 2,
        CtState = i % 7 == 0 ? CtState.Untracked : CtState.Established,
        CtDirection = (CtDirection)(i % 2),
        Path = "PREROUTING>FORWARD>POSTROUTING",
        Verdict = i % 3 != 0 ? PacketVerdict.Accept : i % 2 == 0 ? PacketVerdict.Drop : PacketVerdict.Reject,
        VerdictRuleId = i % 3 == 0 ? i % 10 : -1,
        DropReason = null,
        DependsOnUnknown = i % 13 == 0,
        Observed = null,
    };

    private static NfConntrackTuple Tuple(int i) =>
        new(IpAddr.FromV4(0x0A000001u + (uint)i), IpAddr.FromV4(0x08080808), (ushort)(1000 + i), 53, 17, false);

    private string Write(string name, RunWriterOptions? options = null, int rows = N)
    {
        string path = Path.Combine(_dir, name);
        using var w = RunWriter.Create(path, options ?? new RunWriterOptions { BatchRows = 1000 });
        Fill(w, rows);
        w.Complete();
        return path;
    }

    private static void Fill(RunWriter w, int rows)
    {
        for (int i = 0; i < 10; i++)
            w.AddRule(new RuleRow { Id = i, Family = RunFamily.Ipv4, Table = "filter", Chain = "FORWARD", Position = i + 1, Text = $"-A FORWARD -p tcp --dport {i} -j DROP", Packets = (ulong)i, Bytes = (ulong)i * 60 });
        for (int i = 0; i < rows; i++)
        {
            var p = Packet(i);
            w.AddPacket(in p);
            var t = Tuple(i);
            w.AddConnection(new ConnectionRow { CtId = i, Orig = t, Reply = t.Invert(), FirstUs = T0 + i, LastUs = i % 2 == 0 ? -1 : T0 + i + 30_000_000, OrigPackets = 1, OrigBytes = 60 });
            w.AddNatMapping(NatMapping.Create((T0 + i) * 1000, t, t.Invert() with { Dst = IpAddr.FromV4(0xCB007101) }, i % 4 == 0 ? -1 : 3, NfNatManipType.Src));
            w.AddConntrackEvent(new NfConntrackEvent(NfctEventType.New, NfctEventMask.New, (T0 + i) * 1000, i, t, t.Invert(), 0, CtStatus.None, TcpConntrack.None, 0, 0, 0, 0, 0, (T0 + i) * 1000 + 30_000_000_000, false));
            w.AddRuleTrace(new RuleTraceRow { PacketId = i, Seq = 1, Family = RunFamily.Ipv4, Hook = "FORWARD", Table = "filter", Chain = "FORWARD", RuleNum = 1, RuleId = 0, Type = RuleTraceType.Rule, Matched = false });
        }
        w.AddCapture(new CaptureRow { File = "eth0.pcapng", Format = "pcapng", LinkType = "EN10MB", Interface = "eth0", Packets = rows, FirstUs = T0, LastUs = T0 + rows - 1 });
        w.AddInfo("input", "eth0.pcapng");
    }

    private static DuckDBConnection Open(string path)
    {
        var db = new DuckDBConnection($"Data Source={path};ACCESS_MODE=READ_ONLY");
        db.Open();
        return db;
    }

    private static object? Scalar(DuckDBConnection db, string sql)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    [Theory]
    [InlineData(DuckDbLoad.ArrowScan)]
    [InlineData(DuckDbLoad.Appender)]
    public void Tables_hold_every_row_and_join_and_nulls_read_back(DuckDbLoad load)
    {
        string path = Write("run.duckdb", new RunWriterOptions { BatchRows = 1000, Load = load });
        Assert.False(File.Exists(path + ".partial"));
        using var db = Open(path);
        foreach (var table in new[] { "packets", "connections", "nat_mappings", "conntrack_events", "rule_trace" })
            Assert.Equal((long)N, Convert.ToInt64(Scalar(db, $"SELECT count(*) FROM {table}")));
        Assert.Equal(10L, Convert.ToInt64(Scalar(db, "SELECT count(*) FROM rules")));
        Assert.Equal(RunSchema.Version.ToString(System.Globalization.CultureInfo.InvariantCulture), Scalar(db, "SELECT value FROM run_info WHERE key = 'schema_version'"));

        // Every third packet (i % 3 == 0) is dropped or rejected by rule i % 10: the join finds its text.
        Assert.Equal((long)(N / 3), Convert.ToInt64(Scalar(db, "SELECT count(*) FROM v_drops WHERE rule_text IS NOT NULL")));
        Assert.Equal("-A FORWARD -p tcp --dport 9 -j DROP", Scalar(db, "SELECT rule_text FROM v_drops WHERE id = 9"));
        Assert.Equal("DROP", Scalar(db, "SELECT verdict FROM packets WHERE id = 6"));
        Assert.Equal("REJECT", Scalar(db, "SELECT verdict FROM packets WHERE id = 9"));

        // Timestamps are UTC microseconds, exactly.
        Assert.Equal(T0 + 17, Convert.ToInt64(Scalar(db, "SELECT epoch_us(ts) FROM packets WHERE id = 17")));
        Assert.Equal("2026-11-25 17:58:01.500001", Scalar(db, "SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%f') FROM packets WHERE id = 0"));
        Assert.Equal(T0 + 5, Convert.ToInt64(Scalar(db, "SELECT epoch_us(setup_ts) FROM nat_mappings WHERE orig_sport = 1005")));

        // NULLs: no NAT, untracked, not IP, live connection, null NAT binding, events without counters.
        Assert.Equal(DBNull.Value, Scalar(db, "SELECT nat_src FROM packets WHERE id = 1"));
        Assert.Equal("203.0.113.1", Scalar(db, "SELECT nat_src FROM packets WHERE id = 5"));
        Assert.Equal(DBNull.Value, Scalar(db, "SELECT ct_id FROM packets WHERE id = 7"));
        Assert.Equal("UNTRACKED", Scalar(db, "SELECT ct_state FROM packets WHERE id = 7"));
        Assert.Equal(DBNull.Value, Scalar(db, "SELECT src FROM packets WHERE id = 11"));
        Assert.Equal("2001:db8::8", Scalar(db, "SELECT src FROM packets WHERE id = 8"));
        Assert.Equal("10.0.0.1", Scalar(db, "SELECT src FROM packets WHERE id = 1"));
        Assert.Equal((long)(N / 2), Convert.ToInt64(Scalar(db, "SELECT count(*) FROM connections WHERE last_ts IS NULL")));
        Assert.Equal((long)(N / 4), Convert.ToInt64(Scalar(db, "SELECT count(*) FROM nat_mappings WHERE rule_id IS NULL")));
        Assert.Equal((long)N, Convert.ToInt64(Scalar(db, "SELECT count(*) FROM conntrack_events WHERE orig_packets IS NULL AND timeout_s = 30")));
        Assert.Equal("8.8.8.8", Scalar(db, "SELECT reply_src FROM connections WHERE ct_id = 0"));
        Assert.Equal("203.0.113.1", Scalar(db, "SELECT reply_dst FROM nat_mappings WHERE orig_sport = 1000"));

        // Comments are there for anyone browsing the schema; the staging views are gone.
        Assert.Contains("UTC", (string)Scalar(db, "SELECT comment FROM duckdb_columns() WHERE table_name = 'packets' AND column_name = 'ts'")!, StringComparison.Ordinal);
        Assert.Equal(0L, Convert.ToInt64(Scalar(db, "SELECT count(*) FROM duckdb_views() WHERE view_name LIKE '__tracereplay%'")));
    }

    [Fact]
    public void Same_rows_give_the_same_rows_in_the_same_order()
    {
        string a = Write("a.duckdb");
        string b = Write("b.duckdb");
        using var da = Open(a);
        using var db = Open(b);
        // Content, not bytes: two files written by one process differ in a few catalog bytes (ids
        // DuckDB numbers per process); written by two processes, as the CLI does, they are identical
        // (checked with `TraceReplay.Benchmarks store` run twice, sha256 of run-ArrowScan.duckdb).
        // Storage order is insertion order (one thread): a plain scan lists packets by id, in both runs.
        foreach (var d in new[] { da, db })
        {
            Assert.Equal(0L, Convert.ToInt64(Scalar(d, "SELECT count(*) FROM (SELECT id, row_number() OVER () - 1 AS n FROM packets) WHERE id <> n")));
        }
        const string Digest = "SELECT md5(string_agg(p::VARCHAR, '|' ORDER BY id)) FROM packets p";
        Assert.Equal(Scalar(da, Digest), Scalar(db, Digest));
        Assert.Equal((long)(N / 6), Convert.ToInt64(Scalar(da, "SELECT count(*) FROM packets WHERE verdict = 'REJECT'")));
        Assert.Contains("STOLEN", Scalar(da, "SELECT enum_range(NULL::verdict_t)::VARCHAR")!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Arrow_files_hold_the_same_rows()
    {
        string arrowDir = Path.Combine(_dir, "arrow");
        Write("run.duckdb", new RunWriterOptions { BatchRows = 1000, ArrowDirectory = arrowDir });
        Assert.Empty(Directory.GetFiles(arrowDir, "*.partial"));

        using var stream = File.OpenRead(Path.Combine(arrowDir, "packets.arrow"));
        using var reader = new ArrowFileReader(stream);
        long rows = 0;
        int batches = 0;
        while (reader.ReadNextRecordBatch() is { } batch)
        {
            using (batch)
            {
                var ids = (Int64Array)batch.Column("id");
                var ts = (TimestampArray)batch.Column("ts");
                var src = (StringArray)batch.Column("src");
                var rule = (Int32Array)batch.Column("verdict_rule_id");
                for (int r = 0; r < batch.Length; r++)
                {
                    long id = ids.GetValue(r)!.Value;
                    var expected = Packet((int)id);
                    Assert.Equal(rows + r, id);
                    Assert.Equal(expected.TimestampUs, ts.GetValue(r));
                    Assert.Equal(expected.Family == RunFamily.None ? null : expected.Src.ToString(), src.GetString(r));
                    Assert.Equal(expected.VerdictRuleId < 0 ? null : expected.VerdictRuleId, rule.GetValue(r));
                }
                rows += batch.Length;
                batches++;
            }
        }
        Assert.Equal(N, rows);
        Assert.Equal(3, batches);
        Assert.Equal("UTC", ((Apache.Arrow.Types.TimestampType)reader.Schema.GetFieldByName("ts").DataType).Timezone);

        using var rs = File.OpenRead(Path.Combine(arrowDir, "rules.arrow"));
        using var rr = new ArrowFileReader(rs);
        var rb = rr.ReadNextRecordBatch();
        Assert.Equal("-A FORWARD -p tcp --dport 3 -j DROP", ((StringArray)rb.Column("text")).GetString(3));
    }

    [Fact]
    public void A_run_that_fails_leaves_no_database()
    {
        string path = Path.Combine(_dir, "run.duckdb");
        string arrowDir = Path.Combine(_dir, "arrow");
        void Run()
        {
            using var w = RunWriter.Create(path, new RunWriterOptions { BatchRows = 500, ArrowDirectory = arrowDir });
            Fill(w, 2000);
            Assert.True(File.Exists(path + ".partial"));
            throw new InvalidOperationException("replay failed");
        }
        var e = Assert.Throws<InvalidOperationException>(Run);
        Assert.Equal("replay failed", e.Message);
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_dir));
        Assert.Empty(Directory.GetFiles(arrowDir));
    }

    [Fact]
    public void A_finished_run_replaces_an_older_one_and_a_stale_partial_is_ignored()
    {
        string path = Write("run.duckdb", rows: 10);
        File.WriteAllText(path + ".partial", "left over by a killed run");
        Write("run.duckdb", rows: 20);
        using var db = Open(path);
        Assert.Equal(20L, Convert.ToInt64(Scalar(db, "SELECT count(*) FROM packets")));
    }

    [Fact]
    public void Bad_output_paths_say_what_is_wrong()
    {
        string missing = Path.Combine(_dir, "no-such-dir", "run.duckdb");
        var e = Assert.Throws<RunStoreException>(() => RunWriter.Create(missing));
        Assert.Contains("no-such-dir", e.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<RunStoreException>(() => RunWriter.Create(_dir));
        Assert.Contains("is a directory", e.Message, StringComparison.Ordinal);

        string file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "x");
        e = Assert.Throws<RunStoreException>(() => RunWriter.Create(Path.Combine(_dir, "run.duckdb"), new RunWriterOptions { ArrowDirectory = file }));
        Assert.Contains("a-file", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "run.duckdb.partial")));
    }

    [Fact]
    public void Appending_a_packet_allocates_nothing_between_batches()
    {
        string path = Path.Combine(_dir, "run.duckdb");
        using var w = RunWriter.Create(path, new RunWriterOptions { BatchRows = 1 << 20 });
        var rows = new PacketRow[4096];
        for (int i = 0; i < rows.Length; i++)
            rows[i] = Packet(i);
        void Round()
        {
            for (int i = 0; i < rows.Length; i++)
                w.AddPacket(in rows[i]);
        }
        Round(); // builders grow and the address cache fills once
        Round();
        Assert.Equal(0, Support.Allocations.Quietest(Round));
    }
}
