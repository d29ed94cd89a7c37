using DuckDB.NET.Data;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Store;

namespace TraceReplay.Tests.Store;

/// <summary>
/// packets filled column by column (RunWriter.Packets.cs) against the row path it replaces
/// (RunWriter.AppendPacket, still used when --arrow keeps keyed columns' text): the same records must
/// store the very same packets_data values (keys, ENUM codes, NULLs) and run_text ids. The records
/// walk every value of every ENUM, families with and without an IP header, NAT or not, tracked or
/// not, and batches that end in the middle of a hand-over.
/// </summary>
public sealed class PacketColumnsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-store-columns-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Points = ["eth0", "docker0", "veth1", "br0"];
    private static readonly string?[] Paths = ["PREROUTING>FORWARD>POSTROUTING", "PREROUTING>INPUT", null, "OUTPUT>POSTROUTING"];
    private static readonly RunFamily[] Families = [RunFamily.None, RunFamily.Ipv4, RunFamily.Ipv6, RunFamily.Bridge, RunFamily.Ipv4];
    private static readonly CtState[] States = [CtState.New, CtState.Established, CtState.Related, CtState.Invalid, CtState.Untracked];

    private static PacketRow Packet(int i) => new()
    {
        Id = i,
        PacketId = i / 3,
        TimestampUs = 1_795_000_000_000_000 + (i * 7),
        CapturePoint = Points[i % 4],
        Direction = (SightingDirection)(i % 3),
        Family = Families[i % 5],
        Protocol = (byte)(i % 3 == 0 ? 6 : 17),
        Src = i % 5 == 2 ? IpAddr.Parse("2001:db8::" + (i % 23).ToString("x", System.Globalization.CultureInfo.InvariantCulture)) : IpAddr.FromV4(0x0A000000u + (uint)(i % 37)),
        Dst = IpAddr.FromV4(0xC0A80000u + (uint)(i % 5)),
        SrcPort = (ushort)i,
        DstPort = (ushort)(i % 4 == 0 ? 80 : 53),
        HasNat = i % 4 == 0,
        NatSrc = IpAddr.FromV4(0xCB007100u + (uint)(i % 3)),
        NatDst = IpAddr.FromV4(0xC0A80000u + (uint)(i % 5)),
        NatSrcPort = (ushort)(40000 + i),
        NatDstPort = 53,
        Length = 60 + (i % 1400),
        CtId = i % 7 == 0 ? -1 : i / 2,
        CtState = States[(i / 7) % 5],
        CtDirection = (CtDirection)(i % 2),
        Path = Paths[i % 4],
        Verdict = (PacketVerdict)(i % 5),
        VerdictRuleId = i % 10 == 0 ? -1 : i % 29,
        DropReason = i % 10 == 0 && i % 20 != 0 ? "no route" : null,
        DependsOnUnknown = i % 9 == 0,
        Observed = i % 6 == 0 ? "explained" : i % 6 == 1 ? "predicted_unseen" : null,
    };

    private string Write(string name, bool arrow, bool thread, int batchRows, int count)
    {
        string path = Path.Combine(_dir, name);
        var options = new RunWriterOptions
        {
            BatchRows = batchRows,
            WriterThread = thread,
            // --arrow keeps the row path (keyed columns also keep their text).
            ArrowDirectory = arrow ? Path.Combine(_dir, name + ".arrow") : null,
        };
        using var w = RunWriter.Create(path, options);
        for (int i = 0; i < count; i++)
        {
            var p = Packet(i);
            w.AddPacket(RunWriter.Record(p, w.TextHandle(p.CapturePoint), w.TextHandle(p.Path), w.TextHandle(p.DropReason), w.TextHandle(p.Observed)));
        }
        w.Complete();
        return path;
    }

    private static List<string> Rows(string path, string sql)
    {
        using var db = new DuckDBConnection($"Data Source={path};ACCESS_MODE=READ_ONLY");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var rows = new List<string>();
        while (r.Read())
        {
            var values = new string[r.FieldCount];
            for (int c = 0; c < values.Length; c++)
                values[c] = r.IsDBNull(c) ? "NULL" : Convert.ToString(r.GetValue(c), System.Globalization.CultureInfo.InvariantCulture)!;
            rows.Add(string.Join('|', values));
        }
        return rows;
    }

    /// <remarks>
    /// 997 rows a batch: hand-overs of 997 rows, each filling a batch from row 0. 17,387 (16 K + 1,003):
    /// hand-overs of 16 K rows that fill batches from rows not on a byte of the validity bitmap
    /// (15,381, …), where a column's bits are set or copied from another's (TableBuffer.SameValidity).
    /// </remarks>
    [Theory]
    [InlineData(false, 997, 5000)]
    [InlineData(true, 997, 5000)]
    [InlineData(false, 17_387, 60_000)]
    public void Column_filling_stores_what_row_filling_stored(bool thread, int batchRows, int count)
    {
        string byRow = Write($"rows-{thread}-{batchRows}.duckdb", arrow: true, thread, batchRows, count);
        string byColumn = Write($"columns-{thread}-{batchRows}.duckdb", arrow: false, thread, batchRows, count);

        // packets_data as stored (keys, not texts), in storage order; ENUMs as their codes too.
        const string Stored = "SELECT *, enum_code(direction), enum_code(family), enum_code(ct_state), enum_code(ct_dir), enum_code(verdict) FROM packets_data";
        var expected = Rows(byRow, Stored);
        Assert.Equal(count, expected.Count);
        Assert.Equal(expected, Rows(byColumn, Stored));
        Assert.Equal(Rows(byRow, "SELECT id, text FROM run_text ORDER BY id"), Rows(byColumn, "SELECT id, text FROM run_text ORDER BY id"));

        // And what the view prints is the records themselves (independent of either path).
        var view = Rows(byColumn, "SELECT capture_point, direction, family, src, nat_sport, ct_id, ct_state, ct_dir, path, verdict, verdict_rule_id, depends_on_unknown FROM packets");
        for (int i = 0; i < count; i++)
        {
            var p = Packet(i);
            bool ip = p.Family != RunFamily.None;
            string state = p.CtId >= 0
                ? p.CtState.ToString().ToUpperInvariant()
                : p.CtState is CtState.Invalid or CtState.Untracked ? p.CtState.ToString().ToUpperInvariant() : "NULL";
            string want = string.Join('|',
                p.CapturePoint,
                p.Direction switch { SightingDirection.In => "in", SightingDirection.Out => "out", _ => "NULL" },
                ip ? p.Family.ToString().ToLowerInvariant() : "NULL",
                ip ? p.Src.ToString() : "NULL",
                ip && p.HasNat ? p.NatSrcPort.ToString(System.Globalization.CultureInfo.InvariantCulture) : "NULL",
                p.CtId >= 0 ? p.CtId.ToString(System.Globalization.CultureInfo.InvariantCulture) : "NULL",
                state,
                p.CtId >= 0 ? (p.CtDirection == CtDirection.Original ? "ORIGINAL" : "REPLY") : "NULL",
                p.Path ?? "NULL",
                p.Verdict switch { PacketVerdict.Accept => "ACCEPT", PacketVerdict.Drop => "DROP", PacketVerdict.Reject => "REJECT", PacketVerdict.Queue => "QUEUE", _ => "STOLEN" },
                p.VerdictRuleId >= 0 ? p.VerdictRuleId.ToString(System.Globalization.CultureInfo.InvariantCulture) : "NULL",
                p.DependsOnUnknown ? "True" : "False");
            Assert.Equal(want, view[i]);
        }
    }
}
