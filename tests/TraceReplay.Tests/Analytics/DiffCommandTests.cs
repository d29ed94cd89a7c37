using System.Buffers.Binary;
using System.Text.Json;
using TraceReplay.Tests.Cli;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Analytics;

/// <summary>
/// `tracereplay diff` on the bundled docker-host dataset (datasets/docker-host/record.sh): the
/// snapshot's rules against a changed copy, both replayed through the real CLI. The expected flows
/// follow from the rule change and the scenario's facts (addresses, ports, rules in record.sh), not
/// from packet counts, so they hold when the dataset is re-recorded with more traffic.
/// </summary>
public sealed class DiffCommandTests : CliTestBase
{
    private static string DockerHost => Path.Combine(Corpus.Root, "datasets", "docker-host");
    private static string Snapshot => Path.Combine(DockerHost, "snapshot");
    private static string Capture => Path.Combine(DockerHost, "captures", "any.pcap");
    private static string Rules => File.ReadAllText(Path.Combine(Snapshot, "iptables.rules"));

    private const string SmtpReject = "-A DOCKER-USER -i docker0 -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset";

    private string Replay(string name, string? rules = null, string? capture = null)
    {
        string db = Path.Combine(Dir, name);
        string[] extra = rules is null ? [] : ["--rules", Write(name + ".rules", rules)];
        var (code, _, stderr) = Run(["replay", "--host", Snapshot, capture ?? Capture, "--no-initial-conntrack", "--out", db, .. extra]);
        Assert.True(code == 0, stderr);
        return db;
    }

    private static JsonElement Diff(string a, string b, params string[] extra)
    {
        var (code, stdout, stderr) = Run(["diff", a, b, "--json", .. extra]);
        Assert.True(code == 0, stderr);
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }

    private static List<JsonElement> Flows(JsonElement diff) => [.. diff.GetProperty("flows").EnumerateArray()];

    private static string? S(JsonElement e, string name) => e.GetProperty(name).ValueKind == JsonValueKind.Null ? null : e.GetProperty(name).GetString();

    [Fact]
    public void Removing_the_docker_user_reject_accepts_exactly_the_containers_smtp_flows_masqueraded()
    {
        // record.sh: the container tries SMTP on the remote (172.17.0.2 -> 203.0.113.9:25), which
        // DOCKER-USER rejects with a TCP RST. Without that rule the SYN goes on through FORWARD's
        // `-i docker0 ! -o docker0 -j ACCEPT` and POSTROUTING's MASQUERADE out of eth0, so its
        // source becomes eth0's 198.51.100.1. No other traffic goes to port 25, and nothing else
        // ever reached that rule. The one other change is the RST that the REJECT made in A: the capture
        // holds it (203.0.113.9:25 -> the container, out of veth1), A explains it as the host's reply, B —
        // with no REJECT — cannot, so it shows as a path change of that reverse flow and nothing else.
        string lines = string.Join('\n', Rules.Split('\n').Where(l => !l.Contains(SmtpReject, StringComparison.Ordinal)));
        Assert.NotEqual(Rules.Split('\n').Length, lines.Split('\n').Length);
        var diff = Diff(Replay("a.duckdb"), Replay("b.duckdb", lines));

        var all = Flows(diff);
        Assert.Equal(all.Count, diff.GetProperty("flows_changed").GetInt64());
        var rst = all.Where(f => S(f, "kind") == "path").ToList();
        Assert.All(rst, f => Assert.Equal(("203.0.113.9", 25, 6), (S(f, "src"), f.GetProperty("sport").GetInt32(), f.GetProperty("proto").GetInt32())));
        var flows = all.Except(rst).ToList();
        Assert.NotEmpty(flows);
        foreach (var f in flows)
        {
            Assert.Equal("now_accepted", S(f, "kind"));
            Assert.Equal(6, f.GetProperty("proto").GetInt32());
            Assert.StartsWith("172.17.", S(f, "src"), StringComparison.Ordinal);
            Assert.Equal("203.0.113.9", S(f, "dst"));
            Assert.Equal(25, f.GetProperty("dport").GetInt32());
            var a = f.GetProperty("a");
            Assert.Equal("REJECT", S(a, "verdict"));
            Assert.Equal("filter:DOCKER-USER:1", S(a.GetProperty("rule"), "label"));
            Assert.Equal(SmtpReject, S(a.GetProperty("rule"), "line"));
            var b = f.GetProperty("b");
            Assert.Equal("ACCEPT", S(b, "verdict"));
            Assert.Equal("198.51.100.1", S(b.GetProperty("nat"), "src"));
            Assert.Equal(S(f, "dst"), S(b.GetProperty("nat"), "dst"));
        }
        var summary = Assert.Single(diff.GetProperty("summary").EnumerateArray(), l => S(l, "kind") != "path");
        Assert.Equal("now_accepted", S(summary, "kind"));
        Assert.Equal(flows.Count, summary.GetProperty("flows").GetInt32());
        Assert.Equal(SmtpReject, S(summary.GetProperty("rule"), "line"));
    }

    [Fact]
    public void Dropping_the_remotes_ping_drops_its_echo_requests_by_the_new_rule_and_changes_nothing_else()
    {
        // record.sh: the remote (198.51.100.2) pings the host (198.51.100.1), accepted by INPUT's
        // `-p icmp -m icmp --icmp-type 8 -j ACCEPT`. A DROP of exactly that inserted first in INPUT
        // drops every echo request of it. The host's echo replies are still in the capture (it did
        // answer): in A they are the replies the simulated host made (their captured copies are
        // observations of them), in B, with the requests dropped, the host made them on its own and
        // they enter at OUTPUT — a path change, never a verdict change (OUTPUT policy ACCEPT), as
        // 198.51.100.1 -> 198.51.100.2 echo replies (type 0). Nothing else comes from 198.51.100.2
        // with ICMP or reaches the new rule, so no other flow may change.
        const string drop = "-A INPUT -s 198.51.100.2/32 -p icmp -m icmp --icmp-type 8 -j DROP";
        string changed = Rules.Replace("-A INPUT -i lo -j ACCEPT", drop + "\n-A INPUT -i lo -j ACCEPT", StringComparison.Ordinal);
        Assert.NotEqual(Rules, changed);
        var diff = Diff(Replay("a.duckdb"), Replay("b.duckdb", changed));

        var flows = Flows(diff);
        Assert.Contains(flows, f => S(f, "kind") == "now_dropped");
        foreach (var f in flows)
        {
            Assert.Equal(1, f.GetProperty("proto").GetInt32());
            bool reply = S(f, "src") == "198.51.100.1";
            Assert.Equal(reply ? ("198.51.100.1", "198.51.100.2") : ("198.51.100.2", "198.51.100.1"), (S(f, "src"), S(f, "dst")));
            if (reply)
                Assert.Equal((0, "path"), (f.GetProperty("dport").GetInt32(), S(f, "kind")));
            if (S(f, "kind") == "now_dropped")
            {
                Assert.Equal(8 << 8, f.GetProperty("dport").GetInt32());
                Assert.Equal("ACCEPT", S(f.GetProperty("a"), "verdict"));
                Assert.Equal("DROP", S(f.GetProperty("b"), "verdict"));
                Assert.Equal("filter:INPUT:1", S(f.GetProperty("b").GetProperty("rule"), "label"));
                Assert.Equal(drop, S(f.GetProperty("b").GetProperty("rule"), "line"));
            }
            else
            {
                Assert.Equal("ACCEPT", S(f.GetProperty("a"), "verdict"));
                Assert.Equal("ACCEPT", S(f.GetProperty("b"), "verdict"));
            }
        }
        var first = diff.GetProperty("summary")[0];
        Assert.Equal("now_dropped", S(first, "kind"));
        Assert.StartsWith("1 flow (", S(first, "text"), StringComparison.Ordinal);
        Assert.Contains("now dropped by filter:INPUT:1 `" + drop + "`", S(first, "text"), StringComparison.Ordinal);
    }

    [Fact]
    public void Text_output_has_the_summary_line_and_the_flow_with_both_rules()
    {
        string lines = string.Join('\n', Rules.Split('\n').Where(l => !l.Contains(SmtpReject, StringComparison.Ordinal)));
        var (code, stdout, stderr) = Run("diff", Replay("a.duckdb"), Replay("b.duckdb", lines));
        Assert.True(code == 0, stderr);
        Assert.Contains("newly accepted: were rejected by filter:DOCKER-USER:1 `" + SmtpReject + "`", stdout, StringComparison.Ordinal);
        Assert.Contains("now accepted", stdout, StringComparison.Ordinal);
        Assert.Contains("-> 203.0.113.9:25", stdout, StringComparison.Ordinal);
        Assert.Contains("NAT 198.51.100.1:", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_replays_with_the_same_rules_and_a_run_with_itself_differ_in_nothing()
    {
        // The replay is deterministic (DESIGN.md: same inputs, same run), so nothing may differ.
        string a = Replay("a.duckdb");
        foreach (var b in new[] { Replay("b.duckdb", Rules), a })
        {
            var diff = Diff(a, b);
            Assert.Equal(0, diff.GetProperty("flows_changed").GetInt64());
            Assert.Equal(0, diff.GetProperty("packets_changed").GetInt64());
            Assert.Empty(Flows(diff));
            Assert.Empty(diff.GetProperty("summary").EnumerateArray());
        }
        var (code, stdout, _) = Run("diff", a, a);
        Assert.Equal(0, code);
        Assert.Contains("No flow changed", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Limit_lists_fewer_flows_but_the_summary_counts_all()
    {
        string lines = string.Join('\n', Rules.Split('\n').Where(l => !l.Contains(SmtpReject, StringComparison.Ordinal)));
        var diff = Diff(Replay("a.duckdb"), Replay("b.duckdb", lines), "--limit", "0");
        Assert.Empty(Flows(diff));
        Assert.True(diff.GetProperty("flows_changed").GetInt64() > 0);
        Assert.NotEmpty(diff.GetProperty("summary").EnumerateArray());
        Assert.Equal(2, Run("diff", "a", "b", "--limit", "-1").Code);
    }

    [Fact]
    public void Runs_of_different_captures_are_refused_naming_both_and_compared_with_force()
    {
        // The first half of the capture's records, replayed: the packets it has are the same, the
        // rest are missing, so the runs are not replays of the same captures.
        byte[] pcap = File.ReadAllBytes(Capture);
        bool big = BinaryPrimitives.ReadUInt32LittleEndian(pcap) is 0xd4c3b2a1 or 0x4d3cb2a1;
        int at = 24, records = 0;
        while (at + 16 <= pcap.Length && records < 40)
        {
            uint incl = big ? BinaryPrimitives.ReadUInt32BigEndian(pcap.AsSpan(at + 8)) : BinaryPrimitives.ReadUInt32LittleEndian(pcap.AsSpan(at + 8));
            at += 16 + (int)incl;
            records++;
        }
        string half = Path.Combine(Dir, "any.pcap");
        File.WriteAllBytes(half, pcap[..at]);
        string a = Replay("a.duckdb");
        string b = Replay("b.duckdb", capture: half);

        var (code, _, stderr) = Run("diff", a, b);
        Assert.Equal(1, code);
        Assert.Contains("not replays of the same captures", stderr, StringComparison.Ordinal);
        Assert.Contains(a, stderr, StringComparison.Ordinal);
        Assert.Contains(b, stderr, StringComparison.Ordinal);
        Assert.Contains("--force", stderr, StringComparison.Ordinal);

        // Same rules, and the packets B lacks are left out: nothing changed, with a warning.
        var (fcode, fout, ferr) = Run("diff", a, b, "--force", "--json");
        Assert.True(fcode == 0, ferr);
        Assert.Contains("warning: ", ferr, StringComparison.Ordinal);
        Assert.Equal(0, JsonDocument.Parse(fout).RootElement.GetProperty("flows_changed").GetInt64());
    }

    [Fact]
    public void A_missing_file_or_one_that_is_no_run_database_is_bad_input_naming_it()
    {
        string a = Replay("a.duckdb");
        string missing = Path.Combine(Dir, "missing.duckdb");
        var (code, _, stderr) = Run("diff", a, missing);
        Assert.Equal(1, code);
        Assert.Contains(missing, stderr, StringComparison.Ordinal);
        Assert.Contains("no such file", stderr, StringComparison.Ordinal);

        string text = Write("rules.txt", Rules);
        (code, _, stderr) = Run("diff", text, a);
        Assert.Equal(1, code);
        Assert.Contains(text + ": not a run database", stderr, StringComparison.Ordinal);

        (code, _, stderr) = Run("diff", a, Dir);
        Assert.Equal(1, code);
        Assert.Contains(Dir, stderr, StringComparison.Ordinal);
    }
}
