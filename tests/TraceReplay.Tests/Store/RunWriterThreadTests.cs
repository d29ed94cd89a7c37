using DuckDB.NET.Data;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Store;

namespace TraceReplay.Tests.Store;

/// <summary>
/// RunWriterOptions.WriterThread (batches stored on a second thread) and the text columns' reuse of
/// recent strings' bytes: neither may change a stored value or the order of rows.
/// </summary>
public sealed class RunWriterThreadTests : IDisposable
{
    private const int N = 5000;

    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-store-thread-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // More distinct paths than the text cache keeps (8), one longer than a cache slot (64 bytes), one
    // non-ASCII, and copies made at run time: equal text in a different string object.
    private static readonly string[] Paths =
    [
        .. Enumerable.Range(0, 12).Select(i => "PREROUTING>FORWARD>POSTROUTING#" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new string('x', 100),
        "INPUT (rp_filter: \u00e9chec)",
    ];

    private static string PathOf(int i) => i % 17 == 0 ? new string(Paths[i % Paths.Length].AsSpan()) : Paths[i % Paths.Length];

    private static PacketRow Packet(int i) => new()
    {
        Id = i,
        PacketId = i / 3,
        TimestampUs = 1_795_000_000_000_000 + i,
        CapturePoint = i % 3 == 0 ? "eth0" : i % 3 == 1 ? "docker0" : "veth1",
        Direction = i % 2 == 0 ? SightingDirection.In : SightingDirection.Out,
        Family = RunFamily.Ipv4,
        Protocol = 6,
        Src = IpAddr.FromV4(0x0A000000u + (uint)(i % 300)),
        Dst = IpAddr.FromV4(0xC0A80001),
        SrcPort = (ushort)(1024 + i),
        DstPort = 443,
        Length = 60 + (i % 1400),
        CtId = i / 4,
        CtState = CtState.Established,
        Path = PathOf(i),
        Verdict = i % 10 == 0 ? PacketVerdict.Drop : PacketVerdict.Accept,
        VerdictRuleId = -1,
        DropReason = i % 10 == 0 ? "no route" : null,
    };

    private string Write(string name, bool thread)
    {
        string path = Path.Combine(_dir, name);
        // Small batches: many hand-overs, and the replay side has to wait for spare buffers.
        using var w = RunWriter.Create(path, new RunWriterOptions { BatchRows = 97, WriterThread = thread, ArrowDirectory = Path.Combine(_dir, name + ".arrow") });
        for (int i = 0; i < N; i++)
        {
            var p = Packet(i);
            w.AddPacket(in p);
            if (i % 5 == 0)
                w.AddInfo("k" + (i % 7).ToString(System.Globalization.CultureInfo.InvariantCulture), PathOf(i));
        }
        w.Complete();
        return path;
    }

    private static object? Scalar(string path, string sql)
    {
        using var db = new DuckDBConnection($"Data Source={path};ACCESS_MODE=READ_ONLY");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    [Fact]
    public void Text_columns_read_back_what_was_written_whatever_the_cache_holds()
    {
        string path = Write("one.duckdb", thread: false);
        using var db = new DuckDBConnection($"Data Source={path};ACCESS_MODE=READ_ONLY");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT id, path, capture_point, src, drop_reason FROM packets ORDER BY id";
        using var r = cmd.ExecuteReader();
        int n = 0;
        while (r.Read())
        {
            int id = (int)r.GetInt64(0);
            var expected = Packet(id);
            Assert.Equal(n, id);
            Assert.Equal(expected.Path, r.GetString(1));
            Assert.Equal(expected.CapturePoint, r.GetString(2));
            Assert.Equal(expected.Src.ToString(), r.GetString(3));
            Assert.Equal(expected.DropReason, r.IsDBNull(4) ? null : r.GetString(4));
            n++;
        }
        Assert.Equal(N, n);
    }

    [Fact]
    public void A_writer_thread_stores_the_same_rows_in_the_same_order()
    {
        string one = Write("one.duckdb", thread: false);
        string two = Write("two.duckdb", thread: true);
        foreach (var (table, order) in new[] { ("packets", "id"), ("run_info", "key, value") })
        {
            string digest = $"SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY {order})) FROM {table} t";
            Assert.Equal(Scalar(one, digest), Scalar(two, digest));
        }
        Assert.Equal((long)N, Convert.ToInt64(Scalar(two, "SELECT count(*) FROM packets")));
        // Insertion order is storage order: a plain scan lists packets by id.
        Assert.Equal(0L, Convert.ToInt64(Scalar(two, "SELECT count(*) FROM (SELECT id, row_number() OVER () - 1 AS n FROM packets) WHERE id <> n")));
        Assert.Equal(
            File.ReadAllBytes(Path.Combine(_dir, "one.duckdb.arrow", "packets.arrow")),
            File.ReadAllBytes(Path.Combine(_dir, "two.duckdb.arrow", "packets.arrow")));
    }

    [Fact]
    public void A_run_abandoned_with_batches_in_flight_leaves_nothing()
    {
        string path = Path.Combine(_dir, "run.duckdb");
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
