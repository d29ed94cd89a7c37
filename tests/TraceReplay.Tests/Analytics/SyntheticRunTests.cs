using System.Diagnostics;
using TraceReplay.Analytics.Drops;
using TraceReplay.Analytics.Nat;
using TraceReplay.Analytics.Rules;
using TraceReplay.Analytics.Run;
using TraceReplay.Tests.Cli;

namespace TraceReplay.Tests.Analytics;

public sealed class SyntheticRunTests(ITestOutputHelper output) : CliTestBase
{
    [Fact]
    public void A_generated_run_gives_the_answers_its_generator_describes()
    {
        // 100,000 packets = 10,000 flows of 10 packets: flows with f % 100 = 7 (100 flows) to port 22 are
        // dropped by INPUT rule 1, f % 100 = 9 (100 flows) by the policy; every 10th flow is MASQUERADEd.
        string path = Path.Combine(Dir, "synthetic.duckdb");
        SyntheticRun.Create(path, 100_000);
        using var db = RunDatabase.Open(path);
        var drops = DropReports.Build(db, new DropFilter());
        Assert.Equal([("filter:INPUT:policy", 100L, 1000L), ("filter:INPUT:rule:1", 100L, 1000L)],
            drops.Causes.Select(c => (c.Cause, c.Flows, c.Packets)).OrderBy(c => c.Cause, StringComparer.Ordinal));
        Assert.Equal("tcp/22", Assert.Single(drops.Causes.Single(c => c.Cause == "filter:INPUT:rule:1").Ports).Value);

        // 1,000 bindings, one every 10 ms, each live 120 s: all 1,000 live at once at 9.99 s,
        // each on its own port of the default 1024-65535 class: 1,000 / 64,512.
        var nat = Assert.Single(NatUsageReports.Build(db, 60_000_000).Groups);
        Assert.Equal((1000L, 1000L, SyntheticRun.T0Us + 9_990_000), (nat.PeakLive, nat.PeakPorts, nat.PeakLiveUs));
        Assert.Equal(100.0 * 1000 / 64512, nat.PeakUtilisation);

        var usage = RuleUsageReports.Build(db);
        Assert.Equal(["filter:INPUT:rule:2", "nat:POSTROUTING:rule:1"], usage.NeverMatched.Select(r => r.Name));
    }

    /// <summary>
    /// Timing on a large generated run: set TRACEREPLAY_ANALYTICS_ROWS (e.g. 100000000) to measure;
    /// skipped otherwise, since generating it takes minutes and gigabytes.
    /// </summary>
    [Fact]
    public void A_large_generated_run_answers_in_seconds()
    {
        if (!long.TryParse(Environment.GetEnvironmentVariable("TRACEREPLAY_ANALYTICS_ROWS"), System.Globalization.CultureInfo.InvariantCulture, out long rows))
            Assert.Skip("set TRACEREPLAY_ANALYTICS_ROWS=N (e.g. 100000000) to time the reports on an N-packet generated run");
        string path = Environment.GetEnvironmentVariable("TRACEREPLAY_ANALYTICS_DB") ?? Path.Combine(Dir, "large.duckdb");
        var sw = Stopwatch.StartNew();
        if (!File.Exists(path))
            SyntheticRun.Create(path, rows);
        output.WriteLine($"generate {rows:N0} packets: {sw.Elapsed.TotalSeconds:F1} s");
        foreach (var (name, args) in new (string, string[])[]
        {
            ("drops", ["drops", path]),
            ("drops --port 22", ["drops", path, "--port", "22"]),
            ("rules usage", ["rules", "usage", path]),
            ("nat --bucket 1m", ["nat", path, "--bucket", "1m"]),
            ("query count by verdict", ["query", path, "SELECT verdict, count(*) FROM packets GROUP BY ALL"]),
        })
        {
            sw.Restart();
            var (code, _, stderr) = Run(args);
            Assert.True(code == 0, stderr);
            output.WriteLine($"{name}: {sw.Elapsed.TotalSeconds:F2} s");
        }
    }
}
