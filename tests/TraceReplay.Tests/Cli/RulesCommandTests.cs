using System.Text.Json;
using TraceReplay.Cli;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Cli;

public sealed class RulesCommandTests : CliTestBase
{
    [Fact]
    public void Check_reports_what_the_kernel_would_refuse_with_file_and_line()
    {
        // Each problem is one the kernel refuses at load (x_tables.c / ip_tables.c):
        // line 5 jumps to a chain that does not exist; lines 6-8 make A and B, reached from INPUT, call
        // each other (mark_source_chains walks from the hooks and refuses the table with ELOOP).
        string p = Write("bad.rules", """
            *filter
            :INPUT ACCEPT [0:0]
            :A - [0:0]
            :B - [0:0]
            -A INPUT -j MISSING-CHAIN
            -A INPUT -j A
            -A A -j B
            -A B -j A
            COMMIT

            """);
        var (code, stdout, _) = Run("rules", "check", "--json", p);
        Assert.Equal(ExitCodes.BadInput, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.False(doc.RootElement.GetProperty("ok").GetBoolean());
        var problems = doc.RootElement.GetProperty("files")[0].GetProperty("problems").EnumerateArray().ToList();
        Assert.Contains(problems, x => x.GetProperty("line").GetInt32() == 5 && x.GetProperty("message").GetString()!.Contains("MISSING-CHAIN", StringComparison.Ordinal));
        Assert.Contains(problems, x => x.GetProperty("message").GetString()!.Contains("loop", StringComparison.Ordinal));
    }

    [Fact]
    public void Check_of_the_docker_host_snapshot_summarises_tables_and_modules()
    {
        string snapshot = Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot");
        var (code, stdout, stderr) = Run("rules", "check", "--json", snapshot);
        using var doc = JsonDocument.Parse(stdout);
        var f = doc.RootElement.GetProperty("files")[0];
        // iptables.rules of the dataset: filter with 17 rules in 7 chains, nat with 5 rules in 5 chains.
        Assert.Equal(22, f.GetProperty("rules").GetInt32());
        var tables = f.GetProperty("tables").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!, t => t.GetProperty("rules").GetInt32());
        Assert.Equal(17, tables["filter"]);
        Assert.Equal(5, tables["nat"]);
        Assert.Equal(4, f.GetProperty("matches").GetProperty("tcp").GetInt32()); // four -m tcp rules
        Assert.True(code is 0 or 1, stderr);
    }

    [Fact]
    public void Show_prints_the_canonical_form()
    {
        string p = Write("r.rules", "*filter\n:INPUT DROP [3:180]\n-A INPUT -p tcp --dport 22 -s 10.1.2.3/8 -j ACCEPT\nCOMMIT\n");
        var (code, stdout, stderr) = Run("rules", "show", "--counters", p);
        Assert.True(code == 0, stderr);
        // -p tcp --dport loads -m tcp implicitly; the source is masked; header fields print in -s -d -i -o -p order.
        Assert.Contains(":INPUT DROP [3:180]\n[0:0] -A INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n", stdout, StringComparison.Ordinal);
        Assert.Contains("has host bits set", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 99999 -j ACCEPT\nCOMMIT\n", "r.rules:3:", "99999")]
    [InlineData("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.0.0.300 -j ACCEPT\nCOMMIT\n", "r.rules:3:13:", "10.0.0.300")]
    [InlineData("*filter\n:INPUT MAYBE [0:0]\nCOMMIT\n", "r.rules:2:8:", "MAYBE")]
    [InlineData("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n", "r.rules:3:", "COMMIT")]
    [InlineData("*fliter\n", "r.rules:1:2:", "fliter")]
    [InlineData("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 --dport 23 -j ACCEPT\nCOMMIT\n", "r.rules:3:28:", "can only be used once")]
    [InlineData("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --syn --tcp-flags SYN SYN -j ACCEPT\nCOMMIT\n", "r.rules:3:23:", "--syn")]
    [InlineData("-A INPUT -j ACCEPT\n", "r.rules:1:1:", "'-A'")]
    [InlineData("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment \"unterminated\nCOMMIT\n", "r.rules:3:31:", "closing")]
    public void Bad_rule_files_exit_1_naming_file_line_and_token(string text, string where, string token)
    {
        Write("r.rules", text);
        var (code, _, stderr) = Run("rules", "check", Path.Combine(Dir, "r.rules"));
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains(Path.Combine(Dir, where), stderr, StringComparison.Ordinal);
        Assert.Contains(token, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Sets_named_by_rules_are_looked_up_in_the_ipset_file_given_with_them()
    {
        string sets = Write("ipset.save", "create blocked hash:net family inet hashsize 1024 maxelem 65536\nadd blocked 10.66.0.0/16\nadd blocked 192.0.2.7\n");
        string rules = Write("r.rules", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m set --match-set blocked src -j DROP\n-A INPUT -m set --match-set allowed src -j ACCEPT\nCOMMIT\n");
        var (code, stdout, _) = Run("rules", "check", "--json", sets, rules);
        Assert.Equal(ExitCodes.BadInput, code);
        using var doc = JsonDocument.Parse(stdout);
        var files = doc.RootElement.GetProperty("files");
        var set = Assert.Single(files[0].GetProperty("sets").EnumerateArray());
        Assert.Equal("hash:net", set.GetProperty("type").GetString());
        Assert.Equal(2, set.GetProperty("entries").GetInt32());
        // 'blocked' exists; 'allowed' (line 4) does not: the kernel's set match refuses the rule (ip_set_nfnl_get_byindex fails).
        var problem = Assert.Single(files[1].GetProperty("problems").EnumerateArray());
        Assert.Equal(4, problem.GetProperty("line").GetInt32());
        Assert.Contains("'allowed'", problem.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Ebtables_files_are_checked_and_shown()
    {
        // dnat is allowed only in nat PREROUTING/OUTPUT and broute (ebt_dnat.c checkentry): FORWARD in filter is refused.
        string p = Write("ebtables.rules", "*filter\n:INPUT ACCEPT\n:FORWARD ACCEPT\n:OUTPUT ACCEPT\n-A FORWARD -p IPv4 --ip-src 10.0.0.1 -j dnat --to-dst 00:11:22:33:44:55\n-A INPUT -p ARP -j DROP\n");
        var (code, stdout, _) = Run("rules", "check", "--json", p);
        Assert.Equal(ExitCodes.BadInput, code);
        using var doc = JsonDocument.Parse(stdout);
        var f = doc.RootElement.GetProperty("files")[0];
        Assert.Equal("ebtables", f.GetProperty("kind").GetString());
        Assert.Equal(2, f.GetProperty("rules").GetInt32());
        Assert.Equal(1, f.GetProperty("matches").GetProperty("ip").GetInt32());
        var problem = Assert.Single(f.GetProperty("problems").EnumerateArray());
        Assert.Equal(5, problem.GetProperty("line").GetInt32());

        var (showCode, shown, err) = Run("rules", "show", p);
        Assert.True(showCode == 0, err);
        Assert.Contains("-A INPUT -p ARP -j DROP", shown, StringComparison.Ordinal);
    }

    [Fact]
    public void A_warning_repeated_on_every_rule_is_shown_three_times_then_counted()
    {
        // Five rules of an unknown module: five warnings with one message; the JSON keeps all five.
        string rules = "*filter\n:INPUT ACCEPT [0:0]\n" + string.Concat(Enumerable.Range(1, 5).Select(i => $"-A INPUT -m frobnicate --level {i} -j ACCEPT\n")) + "COMMIT\n";
        string p = Write("r.rules", rules);
        var (code, stdout, _) = Run("rules", "check", p);
        Assert.Equal(0, code);
        Assert.Equal(3, stdout.Split('\n').Count(l => l.Contains("warning: match module 'frobnicate'", StringComparison.Ordinal)));
        Assert.Contains("... and 2 more warnings like the last one", stdout, StringComparison.Ordinal);
        var (_, json, _) = Run("rules", "check", "--json", p);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(5, doc.RootElement.GetProperty("files")[0].GetProperty("warnings").GetArrayLength());
    }

    [Fact]
    public void A_missing_path_is_a_usage_error()
    {
        var (code, _, stderr) = Run("rules", "check", Path.Combine(Dir, "nope"));
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("no such file or folder", stderr, StringComparison.Ordinal);
    }
}
