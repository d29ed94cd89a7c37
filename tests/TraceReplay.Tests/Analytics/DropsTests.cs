using System.Text.Json;
using TraceReplay.Analytics.Drops;
using TraceReplay.Analytics.Run;
using TraceReplay.Cli;
using TraceReplay.Tests.Cli;

namespace TraceReplay.Tests.Analytics;

public sealed class DropsTests(DockerHostRun run) : CliTestBase, IClassFixture<DockerHostRun>
{
    private DropReport Report(DropFilter? filter = null)
    {
        using var db = RunDatabase.Open(run.Db);
        return DropReports.Build(db, filter ?? new DropFilter());
    }

    [Fact]
    public void The_remotes_ssh_attempt_is_one_flow_dropped_by_the_input_policy_with_its_syn_retransmission()
    {
        var cause = Assert.Single(Report().Causes, c => c.Cause == "filter:INPUT:policy");
        // record.sh: `nc -z -w 2 198.51.100.1 22` from the remote. The SYN and its retransmissions keep
        // one source port, so they are one flow; the kernel retransmits a SYN after its initial RTO of
        // 1 s and nc gives up after 2 s, so the flow has 2 packets: the SYN and one retransmission.
        var ssh = Assert.Single(cause.TopFlows, f => f.Dport == 22);
        Assert.Equal((DockerHostRun.Remote, DockerHostRun.HostUplink, 6), (ssh.Src, ssh.Dst, ssh.Proto));
        Assert.Equal(2, ssh.Packets);
        Assert.True(ssh.LastUs - ssh.FirstUs >= 900_000, "the retransmission comes about a second after the SYN");
        Assert.Equal("DROP", cause.Verdicts);
        Assert.Contains(ssh.ExamplePacketId, cause.ExamplePacketIds);
    }

    [Fact]
    public void The_containers_smtp_attempt_is_rejected_by_docker_user_rule_1()
    {
        var cause = Assert.Single(Report().Causes, c => c.Cause == "filter:DOCKER-USER:rule:1");
        Assert.Equal("REJECT", cause.Verdicts);
        Assert.Contains("--dport 25 -j REJECT", cause.RuleText, StringComparison.Ordinal);
        // record.sh: `nc -z -w 1 203.0.113.9 25` from the container; the SYN is answered by a RST, so one packet.
        var smtp = Assert.Single(cause.TopFlows, f => f.Src == DockerHostRun.Container && f.Dst == DockerHostRun.RemoteServer);
        Assert.Equal((6, 25, 1L), (smtp.Proto, smtp.Dport, smtp.Packets));
        Assert.Equal(DockerHostRun.Container, cause.Sources[0].Value);
        Assert.Equal("tcp/25", cause.Ports[0].Value);
    }

    [Fact]
    public void Every_rule_or_policy_that_dropped_dropped_as_many_packets_as_the_kernel_counted_for_it()
    {
        // A DROP/REJECT rule's or a policy's kernel counter counts exactly the packets it decided.
        var report = Report();
        Assert.NotEmpty(report.Causes);
        foreach (var c in report.Causes.Where(c => c.RuleId is not null))
            Assert.True(run.KernelCounters[c.Cause] == (ulong)c.Packets, $"{c.Cause}: kernel {run.KernelCounters[c.Cause]}, drops report {c.Packets}");
        Assert.Equal(report.Causes.Sum(c => c.Packets), report.Packets);
    }

    [Fact]
    public void Filters_select_the_flows_they_name()
    {
        Assert.All(Report(new DropFilter { Port = 22 }).Causes, c => Assert.All(c.TopFlows, f => Assert.True(f.Dport == 22 || f.Sport == 22)));
        Assert.Equal("filter:INPUT:policy", Assert.Single(Report(new DropFilter { Port = 22 }).Causes).Cause);
        Assert.Equal("filter:DOCKER-USER:rule:1", Assert.Single(Report(new DropFilter { Src = DockerHostRun.Container, Port = 25 }).Causes).Cause);
        Assert.Equal("filter:INPUT:policy", Assert.Single(Report(new DropFilter { Rule = "filter:input:POLICY" }).Causes).Cause);
        Assert.All(Report(new DropFilter { Rule = "filter:DOCKER-*" }).Causes, c => Assert.StartsWith("filter:DOCKER-", c.Cause, StringComparison.Ordinal));
        Assert.Single(Report(new DropFilter { Dst = DockerHostRun.HostUplink, Port = 22 }).Causes);
        Assert.Empty(Report(new DropFilter { Dst = "192.0.2.77" }).Causes);
        // Prefixes: the container network 172.17.0.0/16 holds both containers' drops (record.sh 3: the SMTP
        // attempt, REJECTed by DOCKER-USER rule 1; 9: ctr2's TCP 5000, dropped by rule 2), not the remote's SSH.
        Assert.Equal(["filter:DOCKER-USER:rule:1", "filter:DOCKER-USER:rule:2"], Report(new DropFilter { Src = "172.17.0.0/16" }).Causes.Select(c => c.Cause).Order(StringComparer.Ordinal));
        Assert.Equal("filter:DOCKER-USER:rule:1", Assert.Single(Report(new DropFilter { Src = DockerHostRun.Container }).Causes).Cause);
        // A /32 prefix is the address itself.
        Assert.Equal("filter:DOCKER-USER:rule:1", Assert.Single(Report(new DropFilter { Src = DockerHostRun.Container + "/32" }).Causes).Cause);
        Assert.Equal("filter:INPUT:policy", Assert.Single(Report(new DropFilter { Src = "198.51.100.0/24", Port = 22 }).Causes).Cause);
        // 0.0.0.0/0 holds every IPv4 source: at least the SSH and SMTP flows.
        Assert.Equal(2, Report(new DropFilter { Src = "0.0.0.0/0", Port = 22 }).Packets);
        Assert.Equal(1, Report(new DropFilter { Src = "0.0.0.0/0", Port = 25 }).Flows);

        // --since after the SSH SYN keeps only its retransmission; --until before it leaves none of the flow.
        var ssh = Report(new DropFilter { Port = 22 }).Causes[0].TopFlows[0];
        Assert.Equal(1, Report(new DropFilter { Port = 22, SinceUs = ssh.FirstUs + 1 }).Causes[0].Packets);
        Assert.Empty(Report(new DropFilter { Port = 22, UntilUs = ssh.FirstUs - 1 }).Causes);
    }

    [Fact]
    public void The_command_prints_causes_and_packets_to_trace_and_json_for_scripts()
    {
        var (code, stdout, stderr) = Run("drops", run.Db);
        Assert.True(code == 0, stderr);
        Assert.Contains("filter:INPUT:policy  DROP  1 flow, 2 packets", stdout, StringComparison.Ordinal);
        Assert.Contains($"tcp {DockerHostRun.Remote}:", stdout, StringComparison.Ordinal);
        Assert.Contains("tracereplay trace", stdout, StringComparison.Ordinal);

        (code, stdout, stderr) = Run("drops", run.Db, "--json", "--port", "25", "--since", "2000-01-01T00:00:00Z");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var cause = Assert.Single(doc.RootElement.GetProperty("causes").EnumerateArray());
        Assert.Equal("filter:DOCKER-USER:rule:1", cause.GetProperty("cause").GetString());
        Assert.Equal(1, cause.GetProperty("flows").GetInt32());

        (code, stdout, _) = Run("drops", run.Db, "--since", "4102444800"); // 2100-01-01 in seconds since the epoch
        Assert.Equal(0, code);
        Assert.Contains("No drops", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_arguments_say_what_is_wrong()
    {
        var (code, _, stderr) = Run("drops", Path.Combine(Dir, "missing.duckdb"));
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("missing.duckdb: no such file", stderr, StringComparison.Ordinal);

        (code, _, stderr) = Run("drops", run.Db, "--since", "yesterday");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--since yesterday: not a time", stderr, StringComparison.Ordinal);

        (code, _, stderr) = Run("drops", run.Db, "--src", "10.0.0.0/33");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--src 10.0.0.0/33: not an address or prefix", stderr, StringComparison.Ordinal);

        (code, _, stderr) = Run("drops", run.Db, "--dst", "2001:db8::/129");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--dst 2001:db8::/129: not an address or prefix (such as 10.0.0.0/8 or 2001:db8::/32)", stderr, StringComparison.Ordinal);

        (code, _, stderr) = Run("drops", run.Db, "--port", "70000");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--port 70000", stderr, StringComparison.Ordinal);
    }
}
