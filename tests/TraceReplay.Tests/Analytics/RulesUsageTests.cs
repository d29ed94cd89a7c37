using System.Text.Json;
using TraceReplay.Analytics.Rules;
using TraceReplay.Analytics.Run;
using TraceReplay.Store;
using TraceReplay.Tests.Cli;

namespace TraceReplay.Tests.Analytics;

public sealed class RulesUsageTests(DockerHostRun run) : CliTestBase, IClassFixture<DockerHostRun>
{
    [Fact]
    public void Never_matched_rules_are_those_the_kernel_counted_no_packet_for_and_every_counter_equals_the_hosts()
    {
        using var db = RunDatabase.Open(run.Db);
        var report = RuleUsageReports.Build(db);
        // The kernel's own iptables-save -c after the traffic says which rules no packet matched.
        var kernelNever = run.KernelCounters.Where(kv => !kv.Key.EndsWith(":policy", StringComparison.Ordinal) && kv.Value == 0).Select(kv => kv.Key).Order(StringComparer.Ordinal);
        Assert.Equal(kernelNever, report.NeverMatched.Select(r => r.Name).Order(StringComparer.Ordinal));
        // record.sh's traffic never comes in on lo, and nothing is forwarded from docker0 back to docker0.
        Assert.Contains(report.NeverMatched, r => r.Name == "filter:INPUT:rule:1" && r.Text == "-i lo -j ACCEPT");

        // The host's counters were parsed from the snapshot run_info names: all rules and policies compared, all equal.
        Assert.Equal(run.KernelCounters.Count, report.Host.Compared);
        Assert.Equal(report.Host.Compared, report.Host.Equal);
        Assert.Empty(report.Host.Differ);
        Assert.All(report.Rules, r => Assert.Equal(r.Packets, r.HostPackets));

        // The hottest rule is the one with the kernel's largest counter (FORWARD's jump to DOCKER-USER sees every forwarded packet).
        ulong max = run.KernelCounters.Where(kv => !kv.Key.EndsWith(":policy", StringComparison.Ordinal)).Max(kv => kv.Value);
        Assert.Equal(max, (ulong)report.Hottest[0].Packets);

        // Without --trace, shadowing cannot be told from "reached but not matched", and the report says so.
        Assert.Null(report.Shadowed);
        Assert.Contains("--trace", report.ShadowNote, StringComparison.Ordinal);
    }

    [Fact]
    public void The_command_prints_text_and_json_and_compares_with_another_snapshot_folder()
    {
        var (code, stdout, stderr) = Run("rules", "usage", run.Db);
        Assert.True(code == 0, stderr);
        Assert.Contains("Never matched by this traffic:", stdout, StringComparison.Ordinal);
        Assert.Contains($"{run.KernelCounters.Count} of {run.KernelCounters.Count} rules and policies equal", stdout, StringComparison.Ordinal);
        Assert.Contains("Shadowed: unknown.", stdout, StringComparison.Ordinal);

        (code, stdout, stderr) = Run("rules", "usage", run.Db, "--json", "--top", "3");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(3, doc.RootElement.GetProperty("hottest").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("shadowed").ValueKind);

        // A snapshot without counters: nothing to compare, and the report says why.
        string bare = Path.Combine(Dir, "snap");
        Directory.CreateDirectory(bare);
        File.WriteAllText(Path.Combine(bare, "iptables.rules"), "*filter\n:INPUT DROP\n:FORWARD DROP\n:OUTPUT ACCEPT\nCOMMIT\n");
        (code, stdout, stderr) = Run("rules", "usage", run.Db, "--host", bare);
        Assert.True(code == 0, stderr);
        Assert.Contains("carry no counters", stdout, StringComparison.Ordinal);

        (code, _, stderr) = Run("rules", "usage", run.Db, "--host", Path.Combine(Dir, "nope"));
        Assert.Equal(2, code);
        Assert.Contains("no such directory", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void With_a_trace_rules_no_packet_reached_are_shadowed_by_the_earlier_rule_that_took_every_packet()
    {
        // FORWARD: 1 "-p tcp -j ACCEPT" takes every TCP packet, so 2 "-p tcp --dport 22 -j DROP" is never
        // reached (shadowed by 1); INPUT: 1 "-p udp -j DROP" is reached by a TCP packet and does not match.
        string path = Path.Combine(Dir, "traced.duckdb");
        using (var w = RunWriter.Create(path))
        {
            w.AddRule(new RuleRow { Id = 0, Family = RunFamily.Ipv4, Table = "filter", Chain = "FORWARD", Position = 0, IsPolicy = true, Text = "DROP" });
            w.AddRule(new RuleRow { Id = 1, Family = RunFamily.Ipv4, Table = "filter", Chain = "FORWARD", Position = 1, Text = "-p tcp -j ACCEPT", Packets = 2, Bytes = 120 });
            w.AddRule(new RuleRow { Id = 2, Family = RunFamily.Ipv4, Table = "filter", Chain = "FORWARD", Position = 2, Text = "-p tcp -m tcp --dport 22 -j DROP" });
            w.AddRule(new RuleRow { Id = 3, Family = RunFamily.Ipv4, Table = "filter", Chain = "INPUT", Position = 0, IsPolicy = true, Text = "ACCEPT", Packets = 1, Bytes = 60 });
            w.AddRule(new RuleRow { Id = 4, Family = RunFamily.Ipv4, Table = "filter", Chain = "INPUT", Position = 1, Text = "-p udp -j DROP" });
            // As trace_packet logs them: packets 1 and 2 match FORWARD rule 1; packet 3 misses INPUT rule 1 and
            // takes INPUT's policy (TRACE numbers a policy as the chain's rule count + 1).
            for (int p = 1; p <= 2; p++)
                w.AddRuleTrace(new RuleTraceRow { PacketId = p, Seq = 1, Family = RunFamily.Ipv4, Hook = "FORWARD", Table = "filter", Chain = "FORWARD", RuleNum = 1, RuleId = 1, Type = RuleTraceType.Rule, Matched = true });
            w.AddRuleTrace(new RuleTraceRow { PacketId = 3, Seq = 1, Family = RunFamily.Ipv4, Hook = "INPUT", Table = "filter", Chain = "INPUT", RuleNum = 1, RuleId = 4, Type = RuleTraceType.Rule, Matched = false });
            w.AddRuleTrace(new RuleTraceRow { PacketId = 3, Seq = 2, Family = RunFamily.Ipv4, Hook = "INPUT", Table = "filter", Chain = "INPUT", RuleNum = 2, RuleId = 3, Type = RuleTraceType.Policy, Matched = true, Verdict = "ACCEPT" });
            w.Complete();
        }
        using var db = RunDatabase.Open(path);
        var report = RuleUsageReports.Build(db);
        var shadowed = Assert.Single(report.Shadowed!);
        Assert.Equal(2, shadowed.Rule.Id);
        Assert.Equal(2, shadowed.ChainPackets);
        Assert.Equal(1, Assert.Single(shadowed.Before).Id);
        Assert.Equal(4, Assert.Single(report.ReachedNeverMatched!).Id);
        Assert.Equal([2, 4], report.NeverMatched.Select(r => r.Id));
        Assert.Contains("no snapshot", report.Host.Note, StringComparison.Ordinal);
    }
}
