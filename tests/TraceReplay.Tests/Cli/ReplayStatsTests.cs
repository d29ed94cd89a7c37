using System.Globalization;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Cli;

/// <summary>`replay --stats`: the cost figures `make bench` reads (scripts/bench.sh), as `name: value` lines.</summary>
public sealed class ReplayStatsTests : CliTestBase
{
    private static string DockerHost => Path.Combine(Corpus.Root, "datasets", "docker-host");

    private static Dictionary<string, string> Stats(string stdout)
    {
        int at = stdout.IndexOf("Stats:\n", StringComparison.Ordinal);
        Assert.True(at >= 0, stdout);
        return stdout[(at + 7)..].Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal))
            .Select(l => l.Trim().Split(": ", 2))
            .ToDictionary(f => f[0], f => f[1]);
    }

    private static double D(Dictionary<string, string> s, string key) => double.Parse(s[key], CultureInfo.InvariantCulture);

    [Fact]
    public void Stats_count_the_captures_records_and_the_runs_packets_and_say_what_they_cost()
    {
        string db = Path.Combine(Dir, "run.duckdb");
        var (code, stdout, stderr) = Run("replay", "-q", "--host", Path.Combine(DockerHost, "snapshot"), Path.Combine(DockerHost, "captures", "any.pcap"), "--out", db, "--stats");
        Assert.True(code == 0, stderr);
        var s = Stats(stdout.ReplaceLineEndings("\n"));
        // `tcpdump -r captures/any.pcap | wc -l`: 186 records, each a sighting.
        Assert.Equal("186", s["sightings"]);
        // Real packets: the distinct packet ids the run database holds.
        var (qc, q, qe) = Run("query", db, "SELECT count(DISTINCT packet_id) AS n FROM packets", "--format", "csv");
        Assert.True(qc == 0, qe);
        Assert.Equal(q.Split("\r\n")[1], s["real_packets"]);
        double wall = D(s, "wall_seconds"), cpu = D(s, "cpu_seconds");
        Assert.True(wall > 0 && cpu > 0, stdout);
        // Rates are the counts over the wall time (printed rounded, so within one unit and the 3-decimal time).
        Assert.InRange(D(s, "sightings_per_second"), 186 / (wall + 0.0005) - 1, 186 / Math.Max(wall - 0.0005, 1e-6) + 1);
        // cpu_seconds is printed to the millisecond: up to 0.5 ms off, spread over 186 sightings.
        Assert.Equal(cpu * 1e9 / 186, D(s, "cpu_ns_per_sighting"), (0.0005 * 1e9 / 186) + 0.1);
        Assert.True(D(s, "allocated_bytes") > 0, stdout);
        Assert.Equal(D(s, "allocated_bytes") / 186, D(s, "allocated_bytes_per_sighting"), 0.1);
        // VmHWM of a .NET process with DuckDB loaded is tens of megabytes at least.
        Assert.True(D(s, "peak_rss_mb") > 10, stdout);
        Assert.Matches(@"^[0-9.]+ [0-9.]+ [0-9.]+$", s["load_average"]);

        // The three phases are consecutive spans of the one stopwatch: they add up to the wall time
        // (each printed to the millisecond).
        Assert.Equal(wall, D(s, "startup_seconds") + D(s, "replay_loop_seconds") + D(s, "tail_seconds"), 0.002);
        Assert.Equal(cpu, D(s, "startup_cpu_seconds") + D(s, "replay_loop_cpu_seconds") + D(s, "tail_cpu_seconds"), 0.002);
        Assert.True(D(s, "runtime_start_seconds") >= 0, stdout);
        // The thread groups partition the process's CPU time: procfs counts it in ticks of 10 ms,
        // Process.TotalProcessorTime in finer units, and the two are read one after the other.
        double threads = D(s, "simulate_thread_cpu_seconds") + D(s, "receive_thread_cpu_seconds") + D(s, "writer_thread_cpu_seconds") + D(s, "other_threads_cpu_seconds");
        Assert.Equal(cpu, threads, 0.05);
        // The test's own thread ran the command and its replay loop.
        Assert.True(D(s, "simulate_thread_cpu_seconds") > 0, stdout);
    }

    [Fact]
    public void Without_stats_there_is_no_stats_block()
    {
        var (code, stdout, stderr) = Run("replay", "-q", "--host", Path.Combine(DockerHost, "snapshot"), Path.Combine(DockerHost, "captures", "any.pcap"));
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain("Stats:", stdout, StringComparison.Ordinal);
    }
}
