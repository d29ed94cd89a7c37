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
    public void The_run_database_holds_every_sighting_the_rules_with_their_counters_and_the_nat_mappings()
    {
        string db = Path.Combine(Dir, "run.duckdb");
        var (code, _, stderr) = Run("replay", "--host", Path.Combine(DockerHost, "snapshot"), Path.Combine(DockerHost, "captures", "any.pcap"), "--no-initial-conntrack", "--out", db);
        Assert.True(code == 0, stderr);
        Assert.False(File.Exists(db + ".partial"));
        using var conn = new DuckDB.NET.Data.DuckDBConnection($"Data Source={db};ACCESS_MODE=READ_ONLY");
        conn.Open();
        long Scalar(string sql)
        {
            using var cmd = conn.CreateCommand();
            cmd.CommandText = sql;
            return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }
        // capinfo: 128 sightings; the correlator: 66 real packets. One more row: the RST REJECT made (id < 0),
        // whose captured copy on veth1 is one of the 128 sightings, so still 66 packets.
        Assert.Equal(129, Scalar("SELECT count(*) FROM packets"));
        Assert.Equal(1, Scalar("SELECT count(*) FROM packets WHERE id < 0 AND capture_point = 'veth1' AND path LIKE 'made by the host%'"));
        Assert.Equal(66, Scalar("SELECT count(DISTINCT packet_id) FROM packets"));
        // 3 policies + 16 rules in filter, 4 + 5 in nat; the FORWARD jump to DOCKER-USER counted 25 packets, as the kernel did.
        Assert.Equal(28, Scalar("SELECT count(*) FROM rules WHERE position > 0 OR is_policy"));
        // ... and the user chains' own lines (":DOCKER - [0:0]"): 4 in filter, 1 in nat.
        Assert.Equal(5, Scalar("SELECT count(*) FROM rules WHERE position = 0 AND NOT is_policy AND text = '-'"));
        Assert.Equal(25, Scalar("SELECT packets FROM rules WHERE \"table\" = 'filter' AND chain = 'FORWARD' AND position = 1"));
        // Dropped: SSH twice by INPUT's policy, SMTP rejected by DOCKER-USER rule 1 — each joined to its rule.
        Assert.Equal(2, Scalar("SELECT count(*) FROM v_drops WHERE rule_chain = 'INPUT' AND rule_position = 0"));
        Assert.Equal(1, Scalar("SELECT count(*) FROM packets p JOIN rules r ON r.id = p.verdict_rule_id WHERE p.verdict = 'REJECT' AND r.chain = 'DOCKER-USER' AND r.position = 1"));
        Assert.Equal(3, Scalar("SELECT count(*) FROM nat_mappings"));
        // Each mapping joins the nat rule that made it (record.sh: MASQUERADE for the container's egress,
        // the published port's DNAT for the remote's fetch), not whatever rule shares its table entry number.
        Assert.Equal(2, Scalar("SELECT count(*) FROM nat_mappings m JOIN rules r ON r.id = m.rule_id WHERE m.manip = 'SRC' AND r.\"table\" = 'nat' AND r.chain = 'POSTROUTING' AND r.text LIKE '%-j MASQUERADE%'"));
        Assert.Equal(1, Scalar("SELECT count(*) FROM nat_mappings m JOIN rules r ON r.id = m.rule_id WHERE m.manip = 'DST' AND r.\"table\" = 'nat' AND r.chain = 'DOCKER' AND r.text LIKE '%-j DNAT --to-destination 172.17.0.2:80%'"));
        Assert.Equal(128, Scalar("SELECT packets FROM captures")); // one file, all of its records
        // Each NEW event's connection has a row (destroyed, or live at the end with no end time).
        Assert.Equal(Scalar("SELECT count(*) FROM conntrack_events WHERE type = 'NEW'"), Scalar("SELECT count(*) FROM connections"));
        Assert.Equal(1, Scalar("SELECT count(*) FROM captures WHERE link_type = 'LINUX_SLL2' AND format = 'pcap (microsecond)'"));
        // Every packet that was NEW and accepted confirmed a new connection, and conntrack said so with a NEW
        // event (no accepted SYN is retransmitted in this capture; the two SSH SYNs were dropped and left nothing).
        Assert.Equal(Scalar("SELECT count(*) FROM packets WHERE ct_state = 'NEW' AND verdict = 'ACCEPT' AND path NOT LIKE 'later%'"),
            Scalar("SELECT count(*) FROM conntrack_events WHERE type = 'NEW'"));
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

        (code, _, stderr) = Run("replay", "--host", Path.Combine(DockerHost, "snapshot"), Path.Combine(DockerHost, "captures", "any.pcap"), "--arrow", Dir);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--arrow needs --out", stderr, StringComparison.Ordinal);

        (code, _, stderr) = Run("replay", "--host", Path.Combine(DockerHost, "snapshot"), Path.Combine(DockerHost, "captures", "any.pcap"), "--out", Path.Combine(Dir, "no", "such", "run.duckdb"));
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("does not exist", stderr, StringComparison.Ordinal);

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
