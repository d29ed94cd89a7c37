using System.Text;
using TraceReplay.Host.Ebtables;
using TraceReplay.Host.Parsing;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Host.Ebtables;

/// <summary>
/// iptables' own ebtables test vectors (extensions/libebt_*.t, iptables v1.8.11): every OK line of a
/// module this parser implements parses and prints as the expected save form, and FAIL lines are refused.
/// The harness (iptables-test.py) looks for the expected text in ebtables-save's output, which ends
/// every rule with its target; an expectation without -j therefore matches a printed rule that ends in
/// the default "-j CONTINUE". Printing uses the 1.8.11 negation style (`! --opt`), which the vectors use.
/// </summary>
public sealed class ConformanceTests(ITestOutputHelper output)
{
    private static string VectorDir => Path.Combine(Corpus.External, "iptables-tests", "extensions");
    private static string DumpDir => Path.Combine(Corpus.External, "iptables-tests", "shell-dumps", "extracted");

    /// <summary>Modules kept as unknown on purpose: their OK lines round-trip verbatim at best. None now.</summary>
    private static readonly HashSet<string> Unsupported = [];

    private sealed record Vector(string File, int Line, string Table, string Chain, string Rule, string Expected, bool Ok);

    private static List<Vector> Vectors()
    {
        if (!Directory.Exists(VectorDir))
            Assert.Skip($"iptables test vectors not found at {VectorDir} (clone ../shared beside the repository)");
        var list = new List<Vector>();
        foreach (var path in Directory.GetFiles(VectorDir, "libebt_*.t").Order(StringComparer.Ordinal))
        {
            string table = "filter";
            string[] chains = ["INPUT"];
            int n = 0;
            foreach (var line in File.ReadLines(path))
            {
                n++;
                if (line.Length == 0 || line[0] == '#')
                    continue;
                if (line[0] == ':')
                {
                    chains = line[1..].Split(',');
                    table = "filter";
                    continue;
                }
                if (line[0] == '*')
                {
                    table = line[1..];
                    continue;
                }
                var f = line.Split(';');
                if (f.Length > 3 && f[3] == "LEGACY")
                    continue; // expectations of the legacy back-end only
                foreach (var chain in chains)
                    list.Add(new Vector(Path.GetFileName(path), n, table, chain, f[0], f[1] == "=" ? f[0] : f[1], f[2] == "OK"));
            }
        }
        return list;
    }

    private static EbtablesRuleset ParseOne(Vector v, bool strict = false) =>
        EbtablesParser.Parse($"*{v.Table}\n-A {v.Chain} {v.Rule}\n", v.File, strict);

    private static bool Matches(string printed, string expected) =>
        printed == expected || printed == expected + " -j CONTINUE" || printed == expected.TrimEnd() + " -j CONTINUE";

    [Fact]
    public void Every_OK_vector_of_a_supported_module_prints_the_expected_save_form()
    {
        var perModule = new SortedDictionary<string, (int Pass, int Total)>(StringComparer.Ordinal);
        var failures = new List<string>();
        foreach (var v in Vectors().Where(v => v.Ok))
        {
            string printed;
            try
            {
                var rs = ParseOne(v);
                printed = EbtablesPrinter.PrintRule(rs.Tables[0].Chain(v.Chain)!.Rules[0], EbtNegationStyle.Prefix);
            }
            catch (HostParseException e)
            {
                printed = "ERROR " + e.Message;
            }
            bool ok = Matches(printed, v.Expected);
            var (p, t) = perModule.GetValueOrDefault(v.File);
            perModule[v.File] = (p + (ok ? 1 : 0), t + 1);
            if (!ok && !Unsupported.Contains(v.File))
                failures.Add($"{v.File}:{v.Line} [{v.Table} {v.Chain}] '{v.Rule}'\n    expected '{v.Expected}'\n    printed  '{printed}'");
        }
        var report = new StringBuilder();
        foreach (var (file, (p, t)) in perModule)
            report.AppendLine($"{file,-22} {p,3}/{t,-3} OK lines{(Unsupported.Contains(file) ? " (kept as unknown)" : string.Empty)}");
        output.WriteLine(report.ToString());
        Assert.True(failures.Count == 0, string.Join('\n', failures) + "\n" + report);
    }

    [Fact]
    public void Every_FAIL_vector_of_a_supported_module_is_refused_with_a_location()
    {
        var accepted = new List<string>();
        int refused = 0;
        foreach (var v in Vectors().Where(v => !v.Ok && !Unsupported.Contains(v.File)))
        {
            try
            {
                ParseOne(v, strict: true);
                accepted.Add($"{v.File}:{v.Line} [{v.Table} {v.Chain}] '{v.Rule}'");
            }
            catch (HostParseException e)
            {
                refused++;
                Assert.Equal(v.File, e.Location.File);
                Assert.Equal(2, e.Location.Line);
                Assert.True(e.Location.Column > 0, e.Message);
            }
        }
        output.WriteLine($"FAIL vectors refused: {refused}/{refused + accepted.Count}");
        Assert.True(accepted.Count == 0, "accepted FAIL vectors:\n" + string.Join('\n', accepted));
    }

    public static TheoryData<string> DumpFiles()
    {
        var data = new TheoryData<string>();
        if (Directory.Exists(DumpDir))
        {
            foreach (var f in Directory.GetFiles(DumpDir, "ebtables__*").Order(StringComparer.Ordinal))
                data.Add(Path.GetFileName(f));
        }
        if (data.Count == 0)
            data.Add("(shared corpus absent)");
        return data;
    }

    /// <summary>
    /// The shell tests' dumps: EXPECT/RULESET files and 0002's DUMP are ebtables-save output, so they
    /// print back byte for byte; 0003's DUMP is restore input in short forms, which must print as its EXPECT.
    /// </summary>
    [Theory]
    [MemberData(nameof(DumpFiles))]
    public void Shell_dumps_round_trip(string name)
    {
        var path = Path.Combine(DumpDir, name);
        if (!File.Exists(path))
            Assert.Skip($"shell dumps not found at {DumpDir}");
        var text = File.ReadAllText(path);
        var rs = EbtablesParser.Parse(text, name);
        var printed = EbtablesPrinter.Print(rs);
        if (name.Contains("0003", StringComparison.Ordinal) && name.Contains("DUMP", StringComparison.Ordinal))
        {
            Assert.Equal(File.ReadAllText(path.Replace("DUMP", "EXPECT", StringComparison.Ordinal)), printed);
            return;
        }
        Assert.Equal(text.TrimEnd('\n') + "\n", printed);
        Assert.Equal(printed, EbtablesPrinter.Print(EbtablesParser.Parse(printed, name)));
    }
}
