using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Tests.Support;

/// <summary>
/// Runs iptables' own extension test vectors (extensions/*.t, the input of iptables-test.py) through
/// the parser, the load-time checker and the printer. Format (SOURCES.md of the corpus folder):
/// `:CHAIN[,CHAIN]` and `*table` set where rules go; `rule;expected save form or "=";OK|FAIL[;backend]`.
/// </summary>
public static class IptablesTestVectors
{
    public sealed record LineResult(string File, int Line, string Table, string Chain, string Rule, bool ExpectOk, string? Expected, bool Passed, string Detail);

    public static string Folder => Path.Combine(Corpus.External, "iptables-tests", "extensions");

    public static string RequireFolder()
    {
        if (!Directory.Exists(Folder))
            Assert.Skip($"iptables test vectors not found at {Folder} (clone ../shared beside the repository to run this test)");
        return Folder;
    }

    /// <summary>libxt_* run with iptables (IPv4) as iptables-test.py does; libipt_* IPv4; libip6t_* IPv6.</summary>
    public static IptFamily? FamilyOf(string fileName) =>
        fileName.StartsWith("libip6t_", StringComparison.Ordinal) ? IptFamily.IPv6
        : fileName.StartsWith("libipt_", StringComparison.Ordinal) || fileName.StartsWith("libxt_", StringComparison.Ordinal) || fileName == "iptables.t" ? IptFamily.IPv4
        : null;

    /// <summary>Lines with a backend restriction (`;NFT`, `;LEGACY`) are left out: they describe one back end's quirks.</summary>
    public static List<LineResult> Run(string path)
    {
        string name = Path.GetFileName(path);
        var family = FamilyOf(name) ?? throw new ArgumentException("not an iptables/ip6tables vector file: " + name);
        var results = new List<LineResult>();
        string table = "filter";
        string[] chains = ["INPUT"];
        var nfacctObjects = new HashSet<string>(StringComparer.Ordinal);
        int lineNo = 0;
        foreach (var raw in File.ReadAllLines(path))
        {
            lineNo++;
            string line = raw.TrimEnd();
            if (line.Length == 0 || line[0] == '#')
                continue;
            if (line[0] == ':')
            {
                chains = line[1..].Split(',');
                continue;
            }
            if (line[0] == '*')
            {
                table = line[1..];
                continue;
            }
            if (line[0] == '@')
            {
                // iptables-test.py runs `@` lines as commands; `@nfacct add NAME` / `del NAME` create and remove the objects -m nfacct needs.
                string[] cmd = line[1..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (cmd.Length == 3 && cmd[0] == "nfacct" && cmd[1] == "add")
                    nfacctObjects.Add(cmd[2]);
                else if (cmd.Length == 3 && cmd[0] == "nfacct" && cmd[1] == "del")
                    nfacctObjects.Remove(cmd[2]);
                continue;
            }
            string[] f = line.Split(';');
            if (f.Length < 3 || f.Length > 3)
                continue;
            bool ok = f[2] == "OK";
            string? expected = ok ? (f[1] == "=" ? f[0] : f[1]) : null;
            foreach (var chain in chains)
                results.Add(RunOne(name, lineNo, family, table, chain, f[0], ok, expected, nfacctObjects));
        }
        return results;
    }

    /// <summary>
    /// One vector line. The tests run in a fresh namespace: no ipsets exist (libxt_set.t / libxt_SET.t
    /// expect `foo` to be refused), and nfacct objects only when an `@nfacct add` line made them.
    /// </summary>
    public static LineResult RunOne(string file, int line, IptFamily family, string table, string chain, string rule, bool ok, string? expected, IReadOnlySet<string>? nfacctObjects = null)
    {
        string text;
        try
        {
            bool builtin = IptablesParser.BuiltinChains.TryGetValue(table, out var b) && b.Contains(chain);
            string dump = $"*{table}\n:{chain} {(builtin ? "ACCEPT" : "-")} [0:0]\n-A {chain} {rule}\nCOMMIT\n";
            var rs = IptablesParser.Parse(dump, $"{file}:{line}", family);
            var problems = RulesetChecker.Check(rs, setExists: _ => false);
            if (problems.Count > 0)
            {
                return new LineResult(file, line, table, chain, rule, ok, expected, !ok, "refused by check: " + problems[0].Message);
            }
            var rules = rs.Table(table)!.Chain(chain)!.Rules;
            if (rules.SelectMany(r => r.Matches).OfType<NfacctMatch>().FirstOrDefault(m => !(nfacctObjects?.Contains(m.ObjectName) ?? true)) is { } missing)
                return new LineResult(file, line, table, chain, rule, ok, expected, !ok, $"refused: nfacct object '{missing.ObjectName}' does not exist");
            text = string.Join(" | ", rules.Select(r => r.Text));
        }
        catch (HostParseException e)
        {
            return new LineResult(file, line, table, chain, rule, ok, expected, !ok, "refused: " + e.Message);
        }
        if (!ok)
            return new LineResult(file, line, table, chain, rule, ok, expected, false, "accepted (printed '" + text + "') but iptables refuses it");
        bool same = text == expected;
        return new LineResult(file, line, table, chain, rule, ok, expected, same, same ? "ok" : $"printed '{text}'");
    }
}
