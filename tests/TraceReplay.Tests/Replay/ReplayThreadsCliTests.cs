using DuckDB.NET.Data;
using TraceReplay.Tests.Cli;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Replay;

/// <summary>
/// `tracereplay replay --threads 1|2|3`: the stages on one, two or three threads write the same
/// report and the same run database; anything else is a usage error (exit 2).
/// </summary>
public sealed class ReplayThreadsCliTests : CliTestBase
{
    private static string Data => Path.Combine(Corpus.Root, "datasets", "docker-host");

    private static string Digest(string db)
    {
        using var c = new DuckDBConnection($"Data Source={db};ACCESS_MODE=READ_ONLY");
        c.Open();
        using var cmd = c.CreateCommand();
        // run_info holds the command line, which names the thread count and the output file.
        cmd.CommandText = "SELECT (SELECT md5(string_agg(p::VARCHAR, '|' ORDER BY id)) FROM packets p) || (SELECT md5(string_agg(r::VARCHAR, '|' ORDER BY id)) FROM rules r)"
            + " || (SELECT md5(string_agg(e::VARCHAR, '|' ORDER BY e.rowid)) FROM conntrack_events e)";
        return (string)cmd.ExecuteScalar()!;
    }

    [Fact]
    public void One_two_or_three_threads_give_the_same_report_and_database()
    {
        var results = new List<(string Out, string Digest)>();
        foreach (string threads in new[] { "1", "2", "3" })
        {
            string db = Path.Combine(Dir, $"run{threads}.duckdb");
            var (code, output, err) = Run("replay", "--threads", threads, "-q", "--host", Path.Combine(Data, "snapshot"), Path.Combine(Data, "captures", "any.pcap"), "--out", db);
            Assert.True(code == 0, err);
            results.Add((output, Digest(db)));
        }
        Assert.All(results, r => Assert.Equal(results[0], r));
        Assert.Contains("186", results[0].Out, StringComparison.Ordinal); // sightings of any.pcap
    }

    [Theory]
    [InlineData("0")]
    [InlineData("4")]
    public void Other_thread_counts_are_a_usage_error(string threads)
    {
        var (code, _, err) = Run("replay", "--threads", threads, "--host", Path.Combine(Data, "snapshot"), Path.Combine(Data, "captures", "any.pcap"));
        Assert.Equal(2, code);
        Assert.Contains($"--threads {threads}", err, StringComparison.Ordinal);
    }
}
