using TraceReplay.Host.Ipset;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Tests.Host.Ipset;

/// <summary>Every malformed line is a HostParseException naming file:line:column, the word and what was expected.</summary>
public sealed class IpsetBadInputTests
{
    private const string Header = "create n hash:net\ncreate ip hash:ip,port\ncreate b bitmap:ip range 10.0.0.0/24\n";

    [Theory]
    // line 4 is the bad line; column is where the offending word starts
    [InlineData("create x hash:foo", 10, "hash:foo", "unknown set type")]
    [InlineData("create x hash:ip bogus", 18, "bogus", "not a create option")]
    [InlineData("create x hash:ip family inet7", 25, "inet7", "unknown family")]
    [InlineData("create x hash:ip hashsize lots", 27, "lots", "not a number")]
    [InlineData("create x bitmap:ip", 10, "bitmap:ip", "needs a range")]
    [InlineData("create x bitmap:ip range 10.0.0.0/8", 26, "10.0.0.0/8", "range too large")]
    [InlineData("create n hash:ip", 8, "n", "already exists")]
    [InlineData("add n 10.0.0.300", 7, "10.0.0.300", "invalid address")]
    [InlineData("add n 10.0.0.0/33", 16, "33", "invalid prefix length")]
    [InlineData("add n 2001:db8::/32", 7, "2001:db8::", "IPv6 address in a family inet set")]
    [InlineData("add missing 10.0.0.1", 5, "missing", "no set with this name")]
    [InlineData("add ip 10.0.0.1,tcp:70000", 21, "70000", "port out of range")]
    [InlineData("add ip 10.0.0.1,tcp:http-x", 26, "x", "invalid port")]
    [InlineData("add ip 10.0.0.1,bogus:1", 17, "bogus", "unknown protocol")]
    [InlineData("add ip 10.0.0.1,gre:5", 21, "5", "has no ports")]
    [InlineData("add ip 10.0.0.1,icmp:nonsense", 22, "nonsense", "unknown ICMP type")]
    [InlineData("add ip 10.0.0.1", 8, "10.0.0.1", "has 1 part(s)")]
    [InlineData("add ip 10.0.0.1,80 timeout 5", 20, "timeout", "without timeout support")]
    [InlineData("add ip 10.0.0.1,80 nomatch", 20, "nomatch", "has no nomatch flag")]
    [InlineData("add b 10.0.1.1", 7, "10.0.1.1", "outside the set's range")]
    [InlineData("add n 10.0.0.0/8 comment \"x", 26, "\"x", "unterminated quoted string")]
    [InlineData("frobnicate n", 1, "frobnicate", "unknown ipset command")]
    [InlineData("swap n ip", 8, "ip", "cannot be swapped")]
    [InlineData("add n 10.0.0.0/0", 7, "10.0.0.0/0", "prefix length 0")]
    public void Bad_line_names_file_line_column_token_and_expectation(string line, int column, string token, string problem)
    {
        var ex = Assert.Throws<HostParseException>(() => IpsetRegistry.Parse(Header + line + "\n", "snap/ipset.save"));
        Assert.Equal(new SourceLocation("snap/ipset.save", 4, column), ex.Location);
        Assert.Equal(token, ex.Token);
        Assert.Contains(problem, ex.Problem, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(ex.Expected));
        Assert.StartsWith($"snap/ipset.save:4:{column}: ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_add_fails_unless_exist()
    {
        const string text = "create s hash:ip\nadd s 1.1.1.1\nadd s 1.1.1.1\n";
        var ex = Assert.Throws<HostParseException>(() => IpsetRegistry.Parse(text, "dup"));
        Assert.Equal(3, ex.Location.Line);
        Assert.Equal(1, IpsetRegistry.Parse(text, "dup", exist: true)["s"].Count);
        Assert.Equal(1, IpsetRegistry.Parse(text.Replace("add s 1.1.1.1\nadd", "add s 1.1.1.1\n-exist add", StringComparison.Ordinal), "dup")["s"].Count);
    }

    [Fact]
    public void Expansion_stops_at_maxelem()
    {
        var ex = Assert.Throws<HostParseException>(() => IpsetRegistry.Parse("create s hash:ip maxelem 100\nadd s 10.0.0.0/8\n", "big"));
        Assert.Contains("full", ex.Problem, StringComparison.Ordinal);
        Assert.Equal(2, ex.Location.Line);
    }

    [Fact]
    public void One_add_expands_to_at_most_IPSET_MAX_RANGE_elements()
    {
        var ex = Assert.Throws<HostParseException>(
            () => IpsetRegistry.Parse("create s hash:ip maxelem 4294967295\nadd s 0.0.0.1-255.255.255.255\n", "huge"));
        Assert.Contains("more than 1048576", ex.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Legacy_options_and_test_lines_are_warnings()
    {
        var r = IpsetRegistry.Parse("-N s ipporthash --network 2.0.0.0/16 --probes 2\ntest s 1.1.1.1,80\nCOMMIT\n", "old");
        Assert.Equal("hash:ip,port", r["s"].Type.Name);
        Assert.Equal([1, 1, 2], r.Warnings.Select(w => w.Location.Line));
        Assert.All(r.Warnings, w => Assert.StartsWith("old:", w.ToString(), StringComparison.Ordinal));
    }

    [Fact]
    public void Mutated_corpus_lines_raise_only_HostParseException()
    {
        // A deterministic mutation fuzz: lines of the corpus save files (and the witness sample) with
        // characters replaced, deleted, duplicated or words swapped, each parsed after its file's
        // create lines. Anything other than HostParseException is a bug.
        var sources = new List<string[]> { IpsetWitnessTests.Sample.Split('\n').Select(l => l.Trim()).ToArray() };
        foreach (var f in IpsetCorpusTests.SaveFormFiles)
        {
            string path = Path.Combine(IpsetCorpusTests.Folder, f);
            if (File.Exists(path))
                sources.Add([.. File.ReadLines(path).Take(60)]);
        }
        // Each mutated line runs after its own file's create lines (first of each name).
        var seeds = new List<(string Creates, string Line)>();
        foreach (var lines in sources)
        {
            var creates = string.Join('\n', lines
                .Where(l => l.StartsWith("create ", StringComparison.Ordinal))
                .DistinctBy(l => l.Split(' ')[1])) + "\n";
            seeds.AddRange(lines.Where(l => l.Length > 0).Select(l => (creates, l)));
        }
        var rng = new Random(20261126);
        const string alphabet = "0123456789abcdef:,./-x \"!#:;%tcpudpicmp:ping";
        int parsed = 0, rejected = 0;
        for (int n = 0; n < 5000; n++)
        {
            var (creates, seed) = seeds[rng.Next(seeds.Count)];
            var line = seed.ToCharArray().ToList();
            int edits = 1 + rng.Next(3);
            for (int e = 0; e < edits && line.Count > 0; e++)
            {
                int at = rng.Next(line.Count);
                switch (rng.Next(4))
                {
                    case 0: line[at] = alphabet[rng.Next(alphabet.Length)]; break;
                    case 1: line.RemoveAt(at); break;
                    case 2: line.Insert(at, line[at]); break;
                    default: line.InsertRange(at, "1-255.255.255.255/0,"); break;
                }
            }
            string text = creates + new string([.. line]) + "\n";
            try
            {
                IpsetRegistry.Parse(text, "fuzz", exist: rng.Next(2) == 0).Save();
                parsed++;
            }
            catch (HostParseException)
            {
                rejected++;
            }
        }
        Assert.True(parsed > 100 && rejected > 100, $"parsed {parsed}, rejected {rejected}");
    }
}
