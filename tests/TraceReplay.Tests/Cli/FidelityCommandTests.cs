using System.Text.Json;
using TraceReplay.Store;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Cli;

/// <summary>
/// `replay` prints the fidelity summary and keeps it (packets.observed, the fidelity table);
/// `fidelity RUN [--json]` shows it again. On docker-host every packet seen leaving the host is
/// explained (FidelityScenarioTests says why), so the figures are those of the capture: the packets
/// tcpdump shows leaving (`tcpdump -nr captures/any.pcap` with Out), counted once per real packet.
/// </summary>
public sealed class FidelityCommandTests : CliTestBase
{
    private static string DockerHost => Path.Combine(Corpus.Root, "datasets", "docker-host");

    [Fact]
    public void Replay_prints_and_keeps_the_summary_and_fidelity_shows_it_again()
    {
        string db = Path.Combine(Dir, "run.duckdb");
        var (code, stdout, stderr) = Run("replay", "--host", Path.Combine(DockerHost, "snapshot"), Path.Combine(DockerHost, "captures", "any.pcap"), "--out", db, "--quiet");
        Assert.True(code == 0, stderr);
        var line = Assert.Single(stdout.Split('\n'), l => l.StartsWith("Fidelity:", StringComparison.Ordinal));
        Assert.Contains("explained (100%)", line, StringComparison.Ordinal);

        (code, stdout, stderr) = Run("fidelity", db, "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        long observed = root.GetProperty("observed_egress").GetInt64();
        Assert.True(observed > 0);
        Assert.Equal(observed, root.GetProperty("explained").GetInt64());
        foreach (var field in new[] { "unexplained", "predicted_unseen", "nat_port_differs", "nat_other_differs" })
            Assert.Equal(0, root.GetProperty(field).GetInt64());

        (code, stdout, _) = Run("fidelity", db);
        Assert.Equal(0, code);
        Assert.StartsWith($"Fidelity of {db}: ", stdout, StringComparison.Ordinal);

        using (var reader = RunReader.Open(db))
            Assert.Contains(reader.Fidelity(), r => r.Metric == "explained" && r.Packets == observed);

        // packets.observed: every real packet's entry row has its outcome (not_applicable appears on entry rows only,
        // so as many packets have it as the fidelity table counts), and no outgoing IP row of a simulated packet is left NULL.
        using var conn = new DuckDB.NET.Data.DuckDBConnection($"Data Source={db};ACCESS_MODE=READ_ONLY");
        conn.Open();
        long Scalar(string sql)
        {
            using var cmd = conn.CreateCommand();
            cmd.CommandText = sql;
            return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }
        Assert.Equal(root.GetProperty("not_applicable").GetInt64(), Scalar("SELECT count(DISTINCT packet_id) FROM packets WHERE observed = 'not_applicable'"));
        Assert.Equal(observed, Scalar("SELECT count(DISTINCT packet_id) FROM packets WHERE observed = 'explained' AND (id < 0 OR path NOT LIKE 'later sighting%')"));
        Assert.Equal(0, Scalar("SELECT count(*) FROM packets WHERE observed IS NULL AND family IS NOT NULL AND direction = 'out' AND path NOT LIKE 'not simulated%'"));
    }

    [Fact]
    public void A_missing_run_is_bad_input()
    {
        var (code, _, stderr) = Run("fidelity", Path.Combine(Dir, "nope.duckdb"));
        Assert.Equal(1, code);
        Assert.Contains("nope.duckdb", stderr, StringComparison.Ordinal);

        // A capture given where the run should be: refused by name, no stack trace.
        string text = Path.Combine(Dir, "capture.pcap");
        File.WriteAllText(text, "not a database");
        (code, _, stderr) = Run("fidelity", text);
        Assert.Equal(1, code);
        Assert.Contains("capture.pcap", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);

        // A run database written without the check (its fidelity table empty).
        string empty = Path.Combine(Dir, "empty.duckdb");
        using (var w = TraceReplay.Store.RunWriter.Create(empty))
            w.Complete();
        (code, _, stderr) = Run("fidelity", empty);
        Assert.Equal(1, code);
        Assert.Contains("empty.duckdb: no fidelity table", stderr, StringComparison.Ordinal);
    }
}
