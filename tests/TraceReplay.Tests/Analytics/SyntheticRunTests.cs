using TraceReplay.Analytics.Drops;
using TraceReplay.Analytics.Nat;
using TraceReplay.Analytics.Rules;
using TraceReplay.Analytics.Run;
using TraceReplay.Tests.Cli;

namespace TraceReplay.Tests.Analytics;

public sealed class SyntheticRunTests : CliTestBase
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
}
