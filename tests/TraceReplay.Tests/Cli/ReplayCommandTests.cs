using TraceReplay.Cli;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Cli;

public sealed class ReplayCommandTests : CliTestBase
{
    private static string DockerHost => Path.Combine(Corpus.Root, "datasets", "docker-host");

    [Fact]
    public void Replaying_the_docker_host_capture_reports_fates_drops_nat_and_the_kernels_counters()
    {
        var (code, stdout, stderr) = Run("replay", "--host", Path.Combine(DockerHost, "snapshot"), Path.Combine(DockerHost, "captures", "any.pcap"), "--counters");
        Assert.True(code == 0, stderr);
        Assert.Contains("Sightings:   186 = ", stdout, StringComparison.Ordinal); // tcpdump -r any.pcap | wc -l
        Assert.Contains(" 0 bridged between ports", stdout, StringComparison.Ordinal); // the bridge is simulated
        // record.sh: SSH to the host twice (INPUT policy DROP), SMTP from a container (DOCKER-USER REJECT),
        // TCP 5000 between the containers twice (DOCKER-USER DROP, in br_netfilter's FORWARD).
        Assert.Contains("2  filter:INPUT:policy", stdout, StringComparison.Ordinal);
        Assert.Contains("1  filter:DOCKER-USER:rule:1", stdout, StringComparison.Ordinal);
        Assert.Contains("2  filter:DOCKER-USER:rule:2", stdout, StringComparison.Ordinal);
        Assert.Matches(@"DNAT 198\.51\.100\.2:\d+ > 198\.51\.100\.1:8080 via 172\.17\.0\.2:80", stdout);
        Assert.Contains("29 of 29 iptables rules and policies equal", stdout, StringComparison.Ordinal);
        // --counters prints iptables-save -c with the simulated counters: here the kernel's own numbers.
        Assert.Contains("[47:2951] -A FORWARD -j DOCKER-USER", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void The_summarys_fates_add_up_to_the_packets_that_entered_and_its_drops_to_the_dropped()
    {
        // Two counts made apart: the job counts what entered the host, the summary sink each fate and
        // each drop cause (one text per cause, not one per packet): every entered packet has one fate,
        // every dropped one one cause, and the fates are listed most frequent first.
        var (code, stdout, stderr) = Run("replay", "--host", Path.Combine(DockerHost, "snapshot"), Path.Combine(DockerHost, "captures", "any.pcap"));
        Assert.True(code == 0, stderr);
        long entered = long.Parse(System.Text.RegularExpressions.Regex.Match(stdout, @"\((\d+) entered the simulated host").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        string fatesLine = stdout.Split('\n').Single(l => l.StartsWith("Fates:", StringComparison.Ordinal));
        var fates = System.Text.RegularExpressions.Regex.Matches(fatesLine, @"([a-z ]+?) (\d+)(?:,|$)")
            .Select(m => (Name: m.Groups[1].Value.Trim(), Count: long.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture))).ToList();
        Assert.Equal(entered, fates.Sum(f => f.Count));
        Assert.Equal(fates.Select(f => f.Count).OrderDescending(), fates.Select(f => f.Count));
        long dropped = fates.Single(f => f.Name == "dropped").Count;
        var drops = System.Text.RegularExpressions.Regex.Matches(stdout, @"^\s+(\d+)  \S+\s+e\.g\. packet", System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.Equal(dropped, drops.Sum(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void A_changed_rule_set_changes_the_verdicts()
    {
        // What would my change have done? Without the DOCKER-USER REJECT, SMTP from the container is forwarded.
        string rules = File.ReadAllText(Path.Combine(DockerHost, "snapshot", "iptables.rules"))
            .Replace("[1:60] -A DOCKER-USER -i docker0 -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset\n", string.Empty, StringComparison.Ordinal);
        Assert.DoesNotContain("--dport 25 -j REJECT", rules, StringComparison.Ordinal);
        string changed = Write("new.rules", rules);
        var (code, stdout, stderr) = Run("replay", "--host", Path.Combine(DockerHost, "snapshot"), Path.Combine(DockerHost, "captures", "any.pcap"), "--rules", changed);
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain(" 1  filter:DOCKER-USER:rule:1", stdout, StringComparison.Ordinal); // no REJECT line for SMTP any more
        Assert.Contains("2  filter:DOCKER-USER:rule:1", stdout, StringComparison.Ordinal); // the port 5000 DROP moved up to rule 1
        Assert.Contains("2  filter:INPUT:policy", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void The_run_database_holds_every_sighting_the_rules_with_their_counters_and_the_nat_mappings()
    {
        string db = Path.Combine(Dir, "run.duckdb");
        var (code, _, stderr) = Run("replay", "--host", Path.Combine(DockerHost, "snapshot"), Path.Combine(DockerHost, "captures", "any.pcap"), "--out", db);
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
        // tcpdump -r: 186 sightings; one more row per REJECT's reply the host made (id < 0, path "made by the host").
        Assert.Equal(186, Scalar("SELECT count(*) FROM packets WHERE id >= 0"));
        Assert.Equal(Scalar("SELECT count(*) FROM packets WHERE verdict = 'REJECT'"), Scalar("SELECT count(*) FROM packets WHERE id < 0 AND path LIKE 'made by the host (REJECT)%'"));
        Assert.True(Scalar("SELECT count(*) FROM packets WHERE id < 0") > 0);
        // 3 policies + 17 rules in filter, 4 + 5 in nat; the FORWARD jump to DOCKER-USER counted 47 packets, as the kernel did.
        Assert.Equal(29, Scalar("SELECT count(*) FROM rules WHERE position > 0 OR is_policy"));
        // ... and the user chains' own lines (":DOCKER - [0:0]"): 4 in filter, 1 in nat.
        Assert.Equal(5, Scalar("SELECT count(*) FROM rules WHERE position = 0 AND NOT is_policy AND text = '-'"));
        Assert.Equal(47, Scalar("SELECT packets FROM rules WHERE \"table\" = 'filter' AND chain = 'FORWARD' AND position = 1"));
        // Dropped: SSH twice by INPUT's policy, SMTP rejected by DOCKER-USER rule 1 — each joined to its rule.
        Assert.Equal(2, Scalar("SELECT count(*) FROM v_drops WHERE rule_chain = 'INPUT' AND rule_position = 0"));
        Assert.Equal(1, Scalar("SELECT count(*) FROM packets p JOIN rules r ON r.id = p.verdict_rule_id WHERE p.verdict = 'REJECT' AND r.chain = 'DOCKER-USER' AND r.position = 1"));
        Assert.Equal(3, Scalar("SELECT count(*) FROM nat_mappings"));
        // Each mapping joins the nat rule that made it (record.sh: MASQUERADE for the containers' egress,
        // the published port's DNAT for the remote's fetch), not whatever rule shares its table entry number.
        long Joined(string manip, string chain, string target) => Scalar(
            $"SELECT count(*) FROM nat_mappings m JOIN rules r ON r.id = m.rule_id WHERE m.manip = '{manip}' AND r.\"table\" = 'nat' AND r.chain = '{chain}' AND r.text LIKE '%{target}%'");
        Assert.Equal(Scalar("SELECT count(*) FROM nat_mappings WHERE manip = 'SRC' AND rule_id IS NOT NULL"), Joined("SRC", "POSTROUTING", "-j MASQUERADE"));
        Assert.Equal(Scalar("SELECT count(*) FROM nat_mappings WHERE manip = 'DST' AND rule_id IS NOT NULL"), Joined("DST", "DOCKER", "-j DNAT --to-destination 172.17.0.2:80"));
        Assert.True(Joined("SRC", "POSTROUTING", "-j MASQUERADE") > 0 && Joined("DST", "DOCKER", "-j DNAT --to-destination 172.17.0.2:80") > 0);
        Assert.Equal(186, Scalar("SELECT packets FROM captures")); // one file, all of its records
        // The bridged drop: TCP 5000 between the containers, twice, by DOCKER-USER rule 2.
        Assert.Equal(2, Scalar("SELECT count(*) FROM packets p JOIN rules r ON r.id = p.verdict_rule_id WHERE p.verdict = 'DROP' AND r.chain = 'DOCKER-USER' AND r.position = 2 AND p.capture_point = 'veth2'"));
        // Each NEW event's connection has a row (destroyed, or live at the end with no end time), and so has each
        // of the two connections of the starting table (conntrack.txt), which had no NEW here.
        Assert.Equal(Scalar("SELECT count(*) FROM conntrack_events WHERE type = 'NEW'") + 2, Scalar("SELECT count(*) FROM connections"));
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
        var (code, stdout, stderr) = Run("replay", "--host", Path.Combine(DockerHost, "snapshot"), Path.Combine(DockerHost, "captures", "any.pcap"), "--sysctl", "net.ipv4.ip_forward=0");
        Assert.True(code == 0, stderr);
        Assert.Contains("routing:ForwardingDisabled", stdout, StringComparison.Ordinal);
    }
}
