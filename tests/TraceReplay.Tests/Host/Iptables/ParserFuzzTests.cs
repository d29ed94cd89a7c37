using System.Diagnostics;
using System.Text;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Parsing;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Host.Iptables;

/// <summary>
/// Mutates lines of every iptables-save dump of the shared corpus (a character replaced, a word
/// dropped, duplicated or swapped, the line or the file cut short) and requires that
/// IptablesParser.Parse either succeeds or throws HostParseException — never anything else.
/// The seed is fixed so a failure reproduces; the case number is in the report.
/// </summary>
public sealed class ParserFuzzTests(ITestOutputHelper output)
{
    private const int Cases = 10000;
    private const int Seed = 20240611;

    // Characters that matter to the tokenizer and to option parsers, plus plain ones.
    private const string Alphabet = "\"\\!-:,/|@&=<>+ .0123456789xXaAfF%\t\u00e9";

    private static string Folder => Path.Combine(Corpus.External, "iptables-save");

    [Fact]
    public void Only_HostParseException_escapes_the_parser()
    {
        if (!Directory.Exists(Folder))
            Assert.Skip($"iptables-save dumps not found at {Folder} (clone ../shared beside the repository to run this test)");
        var dumps = Directory.EnumerateFiles(Folder, "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".md", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .Select(f => (Path: f, Lines: File.ReadAllLines(f)))
            .Where(d => d.Lines.Any(l => l.StartsWith("-A ", StringComparison.Ordinal)))
            .Concat(VectorDumps())
            .ToList();
        Assert.NotEmpty(dumps);

        int cleanFailures = 0;
        foreach (var (path, lines) in dumps)
        {
            try
            {
                IptablesParser.Parse(string.Join('\n', lines), Path.GetFileName(path), IptablesParser.GuessFamily(path, string.Join('\n', lines)));
            }
            catch (HostParseException e)
            {
                cleanFailures++;
                output.WriteLine("unmutated dump refused: " + e.Message);
            }
        }

        var rng = new Random(Seed);
        var crashes = new Dictionary<string, string>(StringComparer.Ordinal);
        int refused = 0;
        var clock = Stopwatch.StartNew();
        for (int n = 0; n < Cases; n++)
        {
            var (path, lines) = dumps[rng.Next(dumps.Count)];
            var family = IptablesParser.GuessFamily(path, lines.Length > 0 ? lines[0] : string.Empty);
            string text = Mutate(rng, lines, out string what);
            try
            {
                IptablesParser.Parse(text, Path.GetFileName(path), family);
            }
            catch (HostParseException)
            {
                refused++;
            }
#pragma warning disable CA1031 // the point of the test is to catch whatever escapes
            catch (Exception e)
#pragma warning restore CA1031
            {
                string frame = e.StackTrace?.Split('\n').FirstOrDefault()?.Trim() ?? "?";
                crashes.TryAdd($"{e.GetType().Name} {frame}", $"case {n}: {Path.GetFileName(path)}: {what}: {e.Message}");
            }
        }
        output.WriteLine($"{dumps.Count} dumps, {cleanFailures} refused unmutated; {Cases} cases in {clock.ElapsedMilliseconds} ms, {refused} refused with HostParseException, {crashes.Count} distinct crashes");
        foreach (var (k, v) in crashes)
            output.WriteLine($"{k}\n    {v}");
        Assert.Empty(crashes.Select(c => c.Key + " <- " + c.Value));
    }

    /// <summary>
    /// One mutation of one line (a rule line three times in four), or a cut of the file. Only the
    /// rules near the mutated line are kept (with every table, chain and COMMIT line) so that each
    /// case stays small and thousands run in a few seconds.
    /// </summary>
    private static string Mutate(Random rng, string[] lines, out string what)
    {
        const int Window = 12;
        int centre = rng.Next(lines.Length);
        var copy = lines.Where((l, i) => !IsRule(l) || Math.Abs(i - centre) <= Window).ToArray();
        int[] rules = Enumerable.Range(0, copy.Length).Where(i => IsRule(copy[i])).ToArray();
        int at = rules.Length > 0 && rng.Next(4) != 0 ? rules[rng.Next(rules.Length)] : rng.Next(copy.Length);
        string line = copy[at];
        var words = line.Split(' ').ToList();
        switch (rng.Next(6))
        {
            case 0 when line.Length > 0:
            {
                var sb = new StringBuilder(line);
                sb[rng.Next(sb.Length)] = Alphabet[rng.Next(Alphabet.Length)];
                copy[at] = sb.ToString();
                what = "character replaced";
                break;
            }
            case 1 when words.Count > 1:
                words.RemoveAt(rng.Next(words.Count));
                copy[at] = string.Join(' ', words);
                what = "word dropped";
                break;
            case 2:
            {
                int k = rng.Next(words.Count);
                words.Insert(k, words[k]);
                copy[at] = string.Join(' ', words);
                what = "word duplicated";
                break;
            }
            case 3 when words.Count > 1:
            {
                int a = rng.Next(words.Count), b = rng.Next(words.Count);
                (words[a], words[b]) = (words[b], words[a]);
                copy[at] = string.Join(' ', words);
                what = "words swapped";
                break;
            }
            case 4:
                copy[at] = line[..rng.Next(line.Length + 1)];
                what = "line truncated";
                break;
            default:
            {
                string whole = string.Join('\n', copy);
                what = "file truncated";
                return whole[..rng.Next(whole.Length + 1)];
            }
        }
        what += $" at line {at + 1} of the window around line {centre + 1}: {copy[at]}";
        return string.Join('\n', copy) + "\n";
    }

    /// <summary>
    /// The rules of the IPv6 extension-header and payload matches' .t vectors as small dumps, so the
    /// fuzzing reaches their option parsers too (the corpus dumps seldom use them).
    /// </summary>
    private static IEnumerable<(string Path, string[] Lines)> VectorDumps()
    {
        string[] modules = ["libip6t_ah", "libipt_ah", "libxt_esp", "libxt_ipcomp", "libip6t_frag", "libip6t_hbh", "libip6t_dst", "libip6t_rt",
            "libip6t_ipv6header", "libip6t_mh", "libip6t_eui64", "libip6t_srh", "libxt_u32", "libxt_string"];
        foreach (var m in modules)
        {
            string path = Path.Combine(IptablesTestVectors.Folder, m + ".t");
            if (!File.Exists(path))
                continue;
            var rules = File.ReadAllLines(path).Where(l => l.Length > 0 && l[0] is not ('#' or ':' or '*')).Select(l => "-A INPUT " + l.Split(';')[0]);
            yield return (path, ["*filter", ":INPUT ACCEPT [0:0]", .. rules, "COMMIT"]);
        }
    }

    private static bool IsRule(string line) => line.StartsWith("-A ", StringComparison.Ordinal) || (line.StartsWith('[') && line.Contains("-A ", StringComparison.Ordinal));
}
