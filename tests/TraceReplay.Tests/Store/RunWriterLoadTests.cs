using Apache.Arrow;
using Apache.Arrow.Ipc;
using DuckDB.NET.Data;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Store;

namespace TraceReplay.Tests.Store;

/// <summary>
/// The Arrow import sends ENUM columns as their codes (UTINYINT) and turns them back into the ENUM in
/// the INSERT; the Arrow files and DuckDB.NET's appender get the text. Whatever the way in, the same
/// values must come out: the expected texts are the documented vocabularies (RunSchema, DESIGN.md),
/// written out here rather than taken from the writer.
/// </summary>
public sealed class RunWriterLoadTests : IDisposable
{
    private const int N = 300;

    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-store-load-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly (SightingDirection Value, string? Text)[] Directions = [(SightingDirection.In, "in"), (SightingDirection.Out, "out"), (SightingDirection.Unknown, null)];
    private static readonly (RunFamily Value, string? Text)[] Families = [(RunFamily.Ipv4, "ipv4"), (RunFamily.Ipv6, "ipv6"), (RunFamily.Bridge, "bridge"), (RunFamily.None, null)];
    private static readonly (PacketVerdict Value, string Text)[] Verdicts = [(PacketVerdict.Accept, "ACCEPT"), (PacketVerdict.Drop, "DROP"), (PacketVerdict.Reject, "REJECT"), (PacketVerdict.Queue, "QUEUE"), (PacketVerdict.Stolen, "STOLEN")];

    // Tracked rows: every state and both directions; untracked rows (negative ct id): INVALID, UNTRACKED, or no state at all.
    private static readonly (CtState State, string Text)[] TrackedStates = [(CtState.New, "NEW"), (CtState.Established, "ESTABLISHED"), (CtState.Related, "RELATED")];
    private static readonly (CtState State, string? Text)[] UntrackedStates = [(CtState.Invalid, "INVALID"), (CtState.Untracked, "UNTRACKED"), (CtState.New, null)];

    private static PacketRow Packet(int i)
    {
        bool tracked = i % 2 == 0;
        return new PacketRow
        {
            Id = i,
            PacketId = i,
            TimestampUs = 1_795_000_000_000_000 + i,
            CapturePoint = "eth0",
            Direction = Directions[i % Directions.Length].Value,
            Family = Families[i % Families.Length].Value,
            Protocol = 17,
            Src = Families[i % Families.Length].Value == RunFamily.Ipv6 ? IpAddr.Parse("2001:db8::1") : IpAddr.FromV4(0x0A000001),
            Dst = IpAddr.FromV4(0x0A000002),
            Length = 100,
            CtId = tracked ? i : -1,
            CtState = tracked ? TrackedStates[i / 2 % TrackedStates.Length].State : UntrackedStates[i / 2 % UntrackedStates.Length].State,
            CtDirection = i % 4 == 0 ? CtDirection.Original : CtDirection.Reply,
            Path = "PREROUTING",
            Verdict = Verdicts[i % Verdicts.Length].Value,
            VerdictRuleId = -1,
        };
    }

    private static string?[] Expected(int i)
    {
        bool tracked = i % 2 == 0;
        return
        [
            Directions[i % Directions.Length].Text,
            Families[i % Families.Length].Text,
            tracked ? TrackedStates[i / 2 % TrackedStates.Length].Text : UntrackedStates[i / 2 % UntrackedStates.Length].Text,
            tracked ? (i % 4 == 0 ? "ORIGINAL" : "REPLY") : null,
            Verdicts[i % Verdicts.Length].Text,
        ];
    }

    private static readonly string[] EnumColumns = ["direction", "family", "ct_state", "ct_dir", "verdict"];

    private string Write(string name, DuckDbLoad load)
    {
        string path = Path.Combine(_dir, name);
        // Batches of 7: many batches, and a batch that does not hold every value of an enum.
        using var w = RunWriter.Create(path, new RunWriterOptions { BatchRows = 7, Load = load, ArrowDirectory = path + ".arrow" });
        for (int i = 0; i < N; i++)
        {
            var p = Packet(i);
            w.AddPacket(in p);
        }
        foreach (var (type, k) in new[] { (RuleTraceType.Rule, 0), (RuleTraceType.Return, 1), (RuleTraceType.Policy, 2) })
            w.AddRuleTrace(new RuleTraceRow { PacketId = k, Seq = 1, Family = k == 1 ? RunFamily.Ipv6 : RunFamily.Ipv4, Hook = "INPUT", Table = "filter", Chain = "INPUT", RuleNum = 1, RuleId = -1, Type = type, Matched = true });
        w.Complete();
        return path;
    }

    [Theory]
    [InlineData(DuckDbLoad.ArrowScan)]
    [InlineData(DuckDbLoad.Appender)]
    public void Every_enum_value_and_null_reads_back_as_written(DuckDbLoad load)
    {
        string path = Write("run.duckdb", load);
        using var db = new DuckDBConnection($"Data Source={path};ACCESS_MODE=READ_ONLY");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = $"SELECT id, {string.Join(", ", EnumColumns.Select(c => c + "::VARCHAR"))} FROM packets ORDER BY id";
        using var r = cmd.ExecuteReader();
        int n = 0;
        while (r.Read())
        {
            Assert.Equal(n, r.GetInt64(0));
            var expected = Expected(n);
            for (int c = 0; c < EnumColumns.Length; c++)
                Assert.Equal(expected[c], r.IsDBNull(c + 1) ? null : r.GetString(c + 1));
            n++;
        }
        Assert.Equal(N, n);

        // The Arrow file carries the same values as plain strings.
        using var stream = File.OpenRead(Path.Combine(path + ".arrow", "packets.arrow"));
        using var reader = new ArrowFileReader(stream);
        int row = 0;
        while (reader.ReadNextRecordBatch() is { } batch)
        {
            using (batch)
            {
                var columns = EnumColumns.Select(c => (StringArray)batch.Column(c)).ToArray();
                for (int i = 0; i < batch.Length; i++, row++)
                {
                    var expected = Expected(row);
                    for (int c = 0; c < columns.Length; c++)
                        Assert.Equal(expected[c], columns[c].GetString(i));
                }
            }
        }
        Assert.Equal(N, row);
    }

    [Fact]
    public void Arrow_import_and_appender_store_identical_tables()
    {
        string scan = Write("scan.duckdb", DuckDbLoad.ArrowScan);
        string append = Write("append.duckdb", DuckDbLoad.Appender);
        foreach (var (table, order) in new[] { ("packets", "id"), ("rule_trace", "packet_id, seq"), ("run_info", "key, value") })
        {
            string digest = $"SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY {order})) FROM {table} t";
            Assert.Equal(Scalar(append, digest), Scalar(scan, digest));
        }
        // The column types themselves are the schema's (ENUMs stay ENUMs).
        string types = "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY table_name, ordinal_position) FROM information_schema.columns";
        Assert.Equal(Scalar(append, types), Scalar(scan, types));
        Assert.Contains("verdict:ENUM('ACCEPT', 'DROP', 'REJECT', 'QUEUE', 'STOLEN')", (string)Scalar(scan, types)!, StringComparison.Ordinal);
    }

    private static object? Scalar(string path, string sql)
    {
        using var db = new DuckDBConnection($"Data Source={path};ACCESS_MODE=READ_ONLY");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }
}
