using Apache.Arrow;
using Apache.Arrow.Ipc;
using DuckDB.NET.Data;
using TraceReplay.Capture.Decode;
using TraceReplay.Store;

namespace TraceReplay.Tests.Store;

/// <summary>
/// Schema 3: packets rows are stored in packets_data with addresses as integer keys and texts as
/// run_text ids, and the view `packets` must read exactly as the text table of schema 2 did.
/// </summary>
public sealed class PacketsViewTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-pview-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// Each address with the text glibc's inet_ntop gives for it (Python's socket.inet_ntop on this
    /// host): longest zero run compressed, the first of equal runs, a single zero group left alone,
    /// lower-case hex, IPv4-compatible ::a.b.c.d dotted; IPv4 edge values dotted.
    /// </summary>
    public static TheoryData<string, string> Addresses => new()
    {
        { "0.0.0.0", "0.0.0.0" },
        { "255.255.255.255", "255.255.255.255" },
        { "10.0.0.1", "10.0.0.1" },
        { "192.168.100.254", "192.168.100.254" },
        { "::", "::" },
        { "::1", "::1" },
        { "2001:db8::1", "2001:db8::1" },
        { "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1" },
        { "1:0:0:2:0:0:0:3", "1:0:0:2::3" },
        { "fe80::1:2:3:4", "fe80::1:2:3:4" },
        { "::10.1.2.3", "::10.1.2.3" },
        { "64:ff9b::c000:201", "64:ff9b::c000:201" },
        { "2001:DB8:a:b:c:d:e:f", "2001:db8:a:b:c:d:e:f" },
        { "1::", "1::" },
    };

    [Theory]
    [MemberData(nameof(Addresses))]
    public void An_address_reads_back_as_inet_ntop_prints_it_and_as_IpAddr_did(string input, string expected)
    {
        var a = IpAddr.Parse(input);
        string db = Write("a.duckdb", [Row(0, a, a, nat: a)]);
        var row = Rows(db, "SELECT src, dst, nat_src, nat_dst FROM packets")[0];
        Assert.Equal([expected, expected, expected, expected], row);
        // Schema 2 stored IpAddr's text: the view must print the same.
        Assert.Equal(a.ToString(), row[0]);
    }

    [Fact]
    public void An_address_is_stored_as_the_run_text_id_of_its_text_once_per_address()
    {
        var v6 = IpAddr.Parse("2001:db8::7");
        var v4 = IpAddr.FromV4(0x0A000001);
        string db = Write("k.duckdb", [Row(0, v4, v6), Row(1, v6, v4, nat: v4)]);
        var rows = Rows(db, "SELECT src::VARCHAR, dst::VARCHAR, nat_src::VARCHAR FROM packets_data ORDER BY id");
        Assert.Equal(rows[0][0], rows[1][1]); // 10.0.0.1: one id wherever it appears
        Assert.Equal(rows[0][0], rows[1][2]);
        Assert.Equal(rows[0][1], rows[1][0]); // 2001:db8::7
        Assert.Equal("10.0.0.1", Rows(db, $"SELECT text FROM run_text WHERE id = {rows[0][0]}")[0][0]);
        Assert.Equal("2001:db8::7", Rows(db, $"SELECT text FROM run_text WHERE id = {rows[0][1]}")[0][0]);
        Assert.Equal("UINTEGER", Rows(db, "SELECT data_type FROM information_schema.columns WHERE table_name = 'packets_data' AND column_name = 'src'")[0][0]);
        // packets_keyed shows the keys next to the text, for filters that compare integers.
        Assert.Equal(["10.0.0.1", rows[0][0]], Rows(db, "SELECT src, src_key::VARCHAR FROM packets_keyed WHERE id = 0")[0]);
    }

    [Fact]
    public void Text_columns_read_back_with_their_nulls_and_run_text_ids_are_dense()
    {
        string[] paths = ["PREROUTING>INPUT", "PREROUTING>FORWARD>POSTROUTING", "later sighting (not an input)"];
        var rows = new List<PacketRow>();
        for (int i = 0; i < 50; i++)
        {
            var r = Row(i, IpAddr.FromV4(0x0A000000u + (uint)i), IpAddr.Parse($"2001:db8::{i:x}"), nat: i % 3 == 0 ? IpAddr.FromV4(0xCB007101) : null);
            r.CapturePoint = i % 2 == 0 ? "eth0" : "veth" + (i % 5).ToString(System.Globalization.CultureInfo.InvariantCulture); // a fresh string each row: found by value
            r.Path = paths[i % 3];
            r.DropReason = i % 4 == 0 ? "routing:NoRoute" : null;
            r.Observed = i % 5 == 0 ? "match" : null;
            rows.Add(r);
        }
        string db = Write("t.duckdb", rows);
        var got = Rows(db, "SELECT capture_point, path, drop_reason, observed, nat_src FROM packets ORDER BY id");
        for (int i = 0; i < rows.Count; i++)
            Assert.Equal([rows[i].CapturePoint, rows[i].Path, rows[i].DropReason, rows[i].Observed, rows[i].HasNat ? "203.0.113.1" : null], got[i]);
        // Dense ids from 0 (the views index a list by id), each text once.
        Assert.Equal(["true", "true"], Rows(db, "SELECT (min(id) = 0 AND max(id) = count(*) - 1)::VARCHAR, (count(DISTINCT text) = count(*))::VARCHAR FROM run_text")[0]);
    }

    [Fact]
    public void The_view_has_the_columns_and_types_of_the_text_table()
    {
        string db = Write("c.duckdb", [Row(0, IpAddr.FromV4(1), IpAddr.FromV4(2))]);
        string types = Rows(db, "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'packets'")[0][0]!;
        string expected = string.Join(",", RunSchema.Packets.Columns.Select(c => c.Name + ":" + (c.EnumType is null ? c.SqlType.Replace("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", StringComparison.Ordinal) : "ENUM(" + string.Join(", ", RunSchema.EnumValues(c.EnumType).Select(v => "'" + v + "'")) + ")")));
        Assert.Equal(expected, types);
        Assert.Contains("src:VARCHAR", types, StringComparison.Ordinal);
    }

    [Fact]
    public void Arrow_files_keep_the_text_form()
    {
        string arrow = Path.Combine(_dir, "arrow");
        var v6 = IpAddr.Parse("2001:db8::1:0:0:1");
        var r = Row(0, v6, IpAddr.FromV4(0xC0A80001));
        r.CapturePoint = "eth0";
        r.Path = "PREROUTING>INPUT";
        string db = Write("arrow.duckdb", [r, Row(1, IpAddr.FromV4(0x0A000001), v6)], new RunWriterOptions { ArrowDirectory = arrow });
        using var fs = File.OpenRead(Path.Combine(arrow, "packets.arrow"));
        using var reader = new ArrowFileReader(fs);
        var batch = reader.ReadNextRecordBatch();
        var src = (StringArray)batch.Column("src");
        var dst = (StringArray)batch.Column("dst");
        Assert.Equal(["2001:db8::1:0:0:1", "10.0.0.1"], [src.GetString(0), src.GetString(1)]);
        Assert.Equal(["192.168.0.1", "2001:db8::1:0:0:1"], [dst.GetString(0), dst.GetString(1)]);
        Assert.Equal("PREROUTING>INPUT", ((StringArray)batch.Column("path")).GetString(0));
        Assert.True(batch.Column("nat_src").IsNull(0));
        Assert.Equal(Rows(db, "SELECT src FROM packets ORDER BY id").Select(x => x[0]), [src.GetString(0), src.GetString(1)]);
    }

    [Fact]
    public void Rows_inserted_in_text_form_by_SQL_read_back_the_same()
    {
        string db = Write("sql.duckdb", [Row(0, IpAddr.Parse("2001:db8::2"), IpAddr.FromV4(0x0A000001))]);
        using (var c = new DuckDBConnection("Data Source=" + db))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            foreach (var sql in RunSchema.InsertPacketsFromText("""
                SELECT 1 AS id, 1 AS packet_id, TIMESTAMPTZ '2026-01-01 00:00:00+00' AS ts, 'wlan0' AS capture_point, 'ipv4' AS family,
                       '192.0.2.200' AS src, '2001:db8::2' AS dst, '2001:db8::3' AS nat_dst, 60 AS len, 'ACCEPT' AS verdict, 'X>Y' AS path, false AS depends_on_unknown
                """))
            {
                cmd.CommandText = sql;
                cmd.ExecuteNonQuery();
            }
        }
        Assert.Equal(["wlan0", "192.0.2.200", "2001:db8::2", null, "2001:db8::3", "X>Y"], Rows(db, "SELECT capture_point, src, dst, nat_src, nat_dst, path FROM packets WHERE id = 1")[0]);
        // The address the writer already had keeps its id; the new texts continue the dense ids.
        Assert.Equal(["true", "true"], Rows(db, "SELECT (max(id) = count(*) - 1)::VARCHAR, (count(DISTINCT text) = count(*))::VARCHAR FROM run_text")[0]);
    }

    [Fact]
    public void Rows_inserted_in_text_form_are_stored_in_the_order_given()
    {
        // `diff` pairs two runs' rows by storage position (POSITIONAL JOIN). The text-to-id conversion
        // is a hash join, which emits rows in probe order per thread, not input order: 400,000 rows
        // (several row groups, so several probe tasks) with 40,000 distinct addresses must still be
        // stored in id order, as the writer stores them.
        string db = Write("order.duckdb", []);
        using (var c = new DuckDBConnection("Data Source=" + db))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            foreach (var sql in RunSchema.InsertPacketsFromText("""
                SELECT i AS id, i AS packet_id, TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(i) AS ts, 'eth' || (i % 3) AS capture_point,
                       'ipv4' AS family, '10.' || (i % 40000 // 256) || '.' || (i % 256) || '.1' AS src, '192.0.2.' || (i % 200) AS dst,
                       60 AS len, 'ACCEPT' AS verdict, 'PREROUTING>INPUT' AS path, false AS depends_on_unknown
                FROM range(400000) r(i)
                """))
            {
                cmd.CommandText = sql;
                cmd.ExecuteNonQuery();
            }
        }
        Assert.Equal(["400000", "0"], Rows(db, "SELECT count(*), count(*) FILTER (WHERE id <> n - 1) FROM (SELECT id, row_number() OVER (ORDER BY rowid) AS n FROM packets_data)")[0]);
        // 399,999 % 40,000 = 39,999, // 256 = 156; 399,999 % 256 = 127; 399,999 % 200 = 199.
        Assert.Equal(["10.156.127.1", "192.0.2.199"], Rows(db, "SELECT src, dst FROM packets WHERE id = 399999")[0]);
    }

    [Fact]
    public void The_id_table_is_bounded_and_a_text_seen_again_after_it_starts_over_still_reads_right()
    {
        // 70,000 distinct IPv6 addresses pass the 65,536-entry bound: the writer forgets the early
        // ones, so the first address written again gets a second id, and both ids print it.
        var rows = new List<PacketRow>();
        for (int i = 0; i < 70_000; i++)
            rows.Add(Row(i, new IpAddr(0x2001_0db8_0000_0000UL, (ulong)i + 1), IpAddr.FromV4(1)));
        rows.Add(Row(70_000, new IpAddr(0x2001_0db8_0000_0000UL, 1), IpAddr.FromV4(1)));
        string db = Write("bound.duckdb", rows);
        Assert.Equal(["2001:db8::1", "2001:db8::1"], Rows(db, "SELECT src FROM packets WHERE id IN (0, 70000) ORDER BY id").Select(r => r[0]));
        Assert.Equal("2", Rows(db, "SELECT count(*)::VARCHAR FROM run_text WHERE text = '2001:db8::1'")[0][0]);
        Assert.Equal("70001", Rows(db, "SELECT count(DISTINCT src_key)::VARCHAR FROM packets_keyed")[0][0]);
        // 70,000 sources + dst 0.0.0.1 + eth0 + the path, and 2001:db8::1 again after the address table
        // started over at its 65,537th. Not 0.0.0.1: dst's own cache of its last addresses keeps its id.
        Assert.Equal("70004", Rows(db, "SELECT count(*)::VARCHAR FROM run_text")[0][0]);
    }

    private static PacketRow Row(int i, IpAddr src, IpAddr dst, IpAddr? nat = null) => new()
    {
        Id = i,
        PacketId = i,
        TimestampUs = 1_795_575_600_000_000 + i,
        CapturePoint = "eth0",
        Direction = SightingDirection.In,
        Family = src.IsV4 ? RunFamily.Ipv4 : RunFamily.Ipv6,
        Protocol = 6,
        Src = src,
        Dst = dst,
        SrcPort = 1024,
        DstPort = 443,
        HasNat = nat is not null,
        NatSrc = nat ?? default,
        NatDst = nat ?? default,
        Length = 60,
        CtId = -1,
        Path = "PREROUTING>INPUT",
        VerdictRuleId = -1,
    };

    private string Write(string name, IEnumerable<PacketRow> rows, RunWriterOptions? options = null)
    {
        string path = Path.Combine(_dir, name);
        using var w = RunWriter.Create(path, options ?? new RunWriterOptions { BatchRows = 1000 });
        foreach (var r in rows)
            w.AddPacket(r);
        w.Complete();
        return path;
    }

    private static List<string?[]> Rows(string path, string sql)
    {
        using var db = new DuckDBConnection($"Data Source={path};ACCESS_MODE=READ_ONLY");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var rows = new List<string?[]>();
        while (r.Read())
        {
            var row = new string?[r.FieldCount];
            for (int i = 0; i < row.Length; i++)
                row[i] = r.IsDBNull(i) ? null : r.GetValue(i).ToString();
            rows.Add(row);
        }
        return rows;
    }
}
