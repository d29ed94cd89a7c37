using TraceReplay.Cli;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Cli;

public sealed class ReplayCommandTests : CliTestBase
{
    private static string DockerHost => Path.Combine(Corpus.Root, "datasets", "docker-host");

    [Fact]
    public void Replaying_the_docker_host_capture_reports_fates_drops_nat_and_the_kernels_counters()
    {
        var (code, stdout, stderr) = Run("replay", "--host", Path.Combine(DockerHost, "snapshot"), Path.Combine(DockerHost, "captures", "any.pcap"), "--no-initial-conntrack", "--counters");
        Assert.True(code == 0, stderr);
        Assert.Contains("128 = 66 packets", stdout, StringComparison.Ordinal);
        // record.sh: SSH to the host twice (INPUT policy DROP) and SMTP from the container (DOCKER-USER REJECT).
        Assert.Contains("2  filter:INPUT:policy", stdout, StringComparison.Ordinal);
        Assert.Contains("1  filter:DOCKER-USER:rule:1", stdout, StringComparison.Ordinal);
        Assert.Contains("DNAT 198.51.100.2:58354 > 198.51.100.1:8080 via 172.17.0.2:80", stdout, StringComparison.Ordinal);
        Assert.Contains("28 of 28 iptables rules and policies equal", stdout, StringComparison.Ordinal);
        // --counters prints iptables-save -c with the simulated counters: here the kernel's own numbers.
        Assert.Contains("[25:1611] -A FORWARD -j DOCKER-USER", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void A_changed_rule_set_changes_the_verdicts()
    {
        // What would my change have done? Without the DOCKER-USER REJECT, SMTP from the container is forwarded.
        string rules = File.ReadAllText(Path.Combine(DockerHost, "snapshot", "iptables.rules"))
            .Replace("[1:60] -A DOCKER-USER -i docker0 -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset\n", string.Empty, StringComparison.Ordinal);
        string changed = Write("new.rules", rules);
        var (code, stdout, stderr) = Run("replay", "--host", Path.Combine(DockerHost, "snapshot"), Path.Combine(DockerHost, "captures", "any.pcap"), "--no-initial-conntrack", "--rules", changed);
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain("1  filter:DOCKER-USER:rule:1", stdout, StringComparison.Ordinal); // no drop line for it any more
        Assert.Contains("2  filter:INPUT:policy", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_arguments_say_what_is_wrong()
    {
        var (code, _, stderr) = Run("replay", "--host", Path.Combine(Dir, "nope"), Path.Combine(DockerHost, "captures", "any.pcap"));
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("no such directory", stderr, StringComparison.Ordinal);

        (code, _, stderr) = Run("replay", "--host", Path.Combine(DockerHost, "snapshot"), Path.Combine(DockerHost, "captures", "any.pcap"), "--sysctl", "net.ipv4.ip_forward");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("NAME=VALUE", stderr, StringComparison.Ordinal);

        string bad = Write("bad.pcap", "this is not a capture");
        (code, _, stderr) = Run("replay", "--host", Path.Combine(DockerHost, "snapshot"), bad);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("bad.pcap", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Forwarding_switched_off_drops_the_forwarded_packets_with_their_own_reason()
    {
        var (code, stdout, stderr) = Run("replay", "--host", Path.Combine(DockerHost, "snapshot"), Path.Combine(DockerHost, "captures", "any.pcap"), "--no-initial-conntrack", "--sysctl", "net.ipv4.ip_forward=0");
        Assert.True(code == 0, stderr);
        Assert.Contains("routing:ForwardingDisabled", stdout, StringComparison.Ordinal);
    }
}
