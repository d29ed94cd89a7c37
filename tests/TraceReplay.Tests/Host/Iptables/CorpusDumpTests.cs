using TraceReplay.Host.Iptables;
using TraceReplay.Host.Parsing;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Host.Iptables;

/// <summary>
/// Every real rule dump of the shared corpus (../shared/datasets/external/iptables-save: home routers,
/// Docker, kube-proxy, a 12k-rule university firewall) parses; printing it reproduces the dump apart
/// from comments, blank lines and counters; and parse → print → parse is a fixed point.
/// </summary>
public sealed class CorpusDumpTests(ITestOutputHelper output)
{
    public static string Folder => Path.Combine(Corpus.External, "iptables-save");

    /// <summary>Files that are rule dumps: a `*table` line or (restore fragments) `-A` lines; not ip addr/route/rule text, notes or markdown.</summary>
    public static IEnumerable<string> DumpFiles()
    {
        if (!Directory.Exists(Folder))
            return [];
        return Directory.EnumerateFiles(Folder, "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".md", StringComparison.Ordinal) && !f.EndsWith(".tsv", StringComparison.Ordinal) && !f.EndsWith("LICENSE.upstream", StringComparison.Ordinal))
            .Where(f => File.ReadLines(f).Any(l => l.StartsWith('*') && l.Length > 1 && char.IsAsciiLetterLower(l[1])))
            .Select(f => Path.GetRelativePath(Folder, f))
            .Order(StringComparer.Ordinal);
    }

    public static TheoryData<string> Dumps()
    {
        var data = new TheoryData<string>();
        foreach (var f in DumpFiles())
            data.Add(f);
        if (data.Count == 0)
            data.Add("(shared rule dumps absent)");
        return data;
    }

    private static string Require(string relative)
    {
        if (!Directory.Exists(Folder))
            Assert.Skip($"shared rule dumps not found at {Folder} (clone ../shared beside the repository to run this test)");
        return Path.Combine(Folder, relative);
    }

    /// <summary>One rule per -A/-I line, times the addresses of `-s a,b` / `-d a,b` lists, which iptables expands into one rule each.</summary>
    private static int ExpectedRuleCount(string text)
    {
        int count = 0;
        foreach (var line in text.Split('\n'))
        {
            string l = line.Trim();
            if (l.StartsWith('['))
                l = l[(l.IndexOf(']', StringComparison.Ordinal) + 1)..].TrimStart();
            if (!l.StartsWith("-A ", StringComparison.Ordinal) && !l.StartsWith("-I ", StringComparison.Ordinal))
                continue;
            var words = l.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int n = 1;
            for (int i = 0; i + 1 < words.Length; i++)
            {
                if (words[i] is "-s" or "-d")
                    n *= words[i + 1].Split(',').Length;
            }
            count += n;
        }
        return count;
    }

    /// <summary>
    /// What older iptables versions print differently from 1.8 (the form we print, as the 1.8.11 test
    /// vectors expect): before 1.4 a host address had no /32 (/128); 1.6 named protocol 58 "icmpv6"
    /// where 1.8 asks /etc/protocols and prints "ipv6-icmp"; 1.3 printed masks dotted and `-d ! ADDR`;
    /// recent revision 0 had no --mask.
    /// </summary>
    private static string AcrossVersions(string line, bool v6)
    {
        var words = line.Split(' ');
        for (int i = 0; i + 2 < words.Length && !words[i].StartsWith('"'); i++)
        {
            if (words[i].StartsWith('-') && words[i + 1] == "!")
                (words[i], words[i + 1]) = ("!", words[i]); // 1.3 wrote the inversion after the option: -d ! ADDR
        }
        for (int i = 0; i + 1 < words.Length && !words[i].StartsWith('"'); i++)
        {
            if (words[i] is "-s" or "-d" && !words[i + 1].Contains('/', StringComparison.Ordinal))
                words[i + 1] += words[i + 1].Contains(':', StringComparison.Ordinal) ? "/128" : "/32";
            else if (words[i] is "-s" or "-d" && TraceReplay.Host.Net.IpNetwork.TryParse(words[i + 1], out var n) && n.PrefixLength >= 0)
                words[i + 1] = n.ToString(); // 1.3 printed contiguous masks dotted: /255.255.255.0
            if (words[i] == "-p" && words[i + 1] == "icmpv6")
                words[i + 1] = "ipv6-icmp";
        }
        string result = string.Join(' ', words);
        // xt_recent revision 0 (before 1.4.11) had no --mask; revision 1 prints its all-ones default.
        int recent = result.IndexOf("-m recent ", StringComparison.Ordinal);
        if (recent >= 0 && !result.Contains("--mask ", StringComparison.Ordinal))
        {
            int name = result.IndexOf("--name ", recent, StringComparison.Ordinal);
            int end = name < 0 ? -1 : result.IndexOf(' ', name + 7);
            string mask = v6 ? "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" : "255.255.255.255";
            if (end > 0)
                result = result[..end] + " --mask " + mask + result[end..];
        }
        return result;
    }

    /// <summary>The dump's rule and chain lines without counters, comments and blank lines: what printing must reproduce.</summary>
    private static List<string> Normalised(string text) => text.Split('\n')
        .Select(l => l.TrimEnd('\r').Trim())
        .Where(l => l.Length > 0 && l[0] != '#')
        .Select(l => l.StartsWith('[') ? l[(l.IndexOf(']', StringComparison.Ordinal) + 2)..] : l)
        .Select(l => l.StartsWith(':') && l.EndsWith(']') ? l[..l.LastIndexOf(' ')] : l)
        .ToList();

    /// <summary>
    /// Corpus files that are not loadable dumps, with the line iptables-restore would stop at and why:
    /// the parser must refuse them there with a message, not misread them.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, (int Line, string Why)> NotDumps = new Dictionary<string, (int, string)>(StringComparer.Ordinal)
    {
        ["net-network/blog_a-unikernel-firewall-for-qubesos/iptables-save"] = (1, "a blog post's prose precedes the dump"),
        ["net-network/config_private_root/iptables-save"] = (23, "anonymised: addresses replaced by '<private_ip>'"),
        ["Iptables_Semantics/thy/Iptables_Semantics/Examples/Parser_Test/data/iptables-save"] = (12, "hand-written edge case: '--something-else' is no option of -m multiport"),
    };

    /// <summary>Files that say "Generated by iptables-save" but were written by hand (SOURCES.md): options out of save order.</summary>
    public static readonly IReadOnlySet<string> HandEdited = new HashSet<string>(StringComparer.Ordinal)
    {
        "Iptables_Semantics/thy/Iptables_Semantics/Examples/Parser_Test/data/iptables-save", // "parser edge cases"
    };

    [Theory]
    [MemberData(nameof(Dumps))]
    public void Dump_parses_and_prints_back_as_it_was(string relative)
    {
        string path = Require(relative);
        string text = File.ReadAllText(path);
        if (NotDumps.TryGetValue(relative, out var known))
        {
            var e = Assert.Throws<HostParseException>(() => IptablesParser.Load(path));
            output.WriteLine($"refused as expected ({known.Why}): {e.Message}");
            Assert.Equal(known.Line, e.Location.Line);
            return;
        }
        var ruleset = IptablesParser.Load(path);
        foreach (var w in ruleset.Warnings)
            output.WriteLine(w.ToString());
        Assert.NotEmpty(ruleset.Tables);
        Assert.Equal(ExpectedRuleCount(text), ruleset.AllRules.Count());

        string printed = IptablesPrinter.Print(ruleset, counters: false);
        var again = IptablesParser.Parse(printed, relative + " (printed)", ruleset.Family);
        Assert.Equal(printed, IptablesPrinter.Print(again, counters: false));

        // Only what iptables-save itself wrote is canonical; hand-written restore files (kube-proxy's,
        // test fixtures) may order options freely or leave /32 off, and only the fixed point above holds.
        if ((!text.Contains("# Generated by iptables-save", StringComparison.Ordinal) && !text.Contains("# Generated by ip6tables-save", StringComparison.Ordinal))
            || HandEdited.Contains(relative))
            return;
        var expected = Normalised(text).Select(l => AcrossVersions(l, ruleset.Family == IptFamily.IPv6)).ToList();
        var actual = Normalised(printed);
        // Addresses with host bits set: iptables masks them on load and said so in a warning.
        foreach (var w in ruleset.Warnings.Where(w => w.Message.Contains("has host bits set", StringComparison.Ordinal)))
        {
            string[] words = w.Message.Split(' ');
            string written = words[1], stored = words[Array.IndexOf(words, "as") + 1];
            expected = expected.Select(l => l.Replace(" " + written + " ", " " + stored + " ", StringComparison.Ordinal)).ToList();
        }
        for (int i = 0; i < Math.Min(expected.Count, actual.Count); i++)
            Assert.True(expected[i] == actual[i], $"{relative}: line {i + 1} of the normalised dump differs\n  dump:    {expected[i]}\n  printed: {actual[i]}");
        Assert.Equal(expected.Count, actual.Count);
    }

    [Fact]
    public void Counters_are_kept_per_rule_and_policy()
    {
        // The bundled docker-host dump was taken with iptables-save -c on the real kernel.
        string path = Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot", "iptables.rules");
        var rs = IptablesParser.Load(path);
        Assert.True(rs.HasCounters);
        var filter = rs.Table("filter")!;
        Assert.Equal(new XtCounters(2, 120), filter.Chain("INPUT")!.PolicyCounters); // ":INPUT DROP [2:120]"
        Assert.Equal(ChainPolicy.Drop, filter.Chain("INPUT")!.Policy);
        var forward = filter.Chain("FORWARD")!.Rules;
        Assert.Equal(new XtCounters(47, 2951), forward[0].Counters); // "[47:2951] -A FORWARD -j DOCKER-USER"
        Assert.Equal("-j DOCKER-USER", forward[0].Text);
        Assert.Equal(IptablesPrinter.Print(rs).Split('\n').Where(l => !l.StartsWith('#')), File.ReadAllText(path).Split('\n').Where(l => !l.StartsWith('#')));
    }

    [Fact]
    public void Unknown_module_is_kept_with_a_warning_and_refused_under_strict()
    {
        const string dump = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m frobnicate --level 3 ! --fast -j ACCEPT\nCOMMIT\n";
        var rs = IptablesParser.Parse(dump, "t.rules", IptFamily.IPv4);
        var w = Assert.Single(rs.Warnings);
        Assert.Equal(new SourceLocation("t.rules", 3, 10), w.Location); // the -m that loads it
        Assert.Contains("frobnicate", w.Message, StringComparison.Ordinal);
        Assert.Equal("-m frobnicate --level 3 ! --fast -j ACCEPT", rs.Table("filter")!.Chain("INPUT")!.Rules[0].Text);
        var e = Assert.Throws<HostParseException>(() => IptablesParser.Parse(dump, "t.rules", IptFamily.IPv4, strict: true));
        Assert.StartsWith("t.rules:3:10:", e.Message, StringComparison.Ordinal);
    }
}
