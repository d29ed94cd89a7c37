using System.Globalization;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables;

/// <summary>
/// Reads `iptables-save [-c]` / `ip6tables-save [-c]` output (legacy and nft back ends) and
/// iptables-restore input, as iptables-restore's do_command loop (iptables/iptables-restore.c)
/// reads them: `*table`, `:CHAIN POLICY [p:b]`, commands (-A -I -D -R -N -X -F -P -Z -E) with an
/// optional `[p:b]` prefix, `COMMIT`. Comments and the nft back end's `# Warning:` lines are
/// skipped; everything else that is not understood is an error naming file:line:column.
/// </summary>
public static class IptablesParser
{
    /// <summary>Built-in chains per table in hook order (NF_INET_PRE_ROUTING … POST_ROUTING), as each table's valid_hooks.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> BuiltinChains = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["raw"] = ["PREROUTING", "OUTPUT"],
        ["mangle"] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        ["nat"] = ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        ["filter"] = ["INPUT", "FORWARD", "OUTPUT"],
        ["security"] = ["INPUT", "FORWARD", "OUTPUT"],
    };

    public static IptRuleset Load(string path, IptFamily? family = null, bool strict = false)
    {
        string text = File.ReadAllText(path);
        return Parse(text, path, family ?? GuessFamily(path, text), strict);
    }

    /// <summary>ip6tables when the file name or the generator comment says so, or the first address in it is IPv6.</summary>
    public static IptFamily GuessFamily(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(text);
        string name = Path.GetFileName(path);
        if (name.Contains("ip6", StringComparison.OrdinalIgnoreCase))
            return IptFamily.IPv6;
        if (text.Contains("ip6tables-save", StringComparison.Ordinal))
            return IptFamily.IPv6;
        return IptFamily.IPv4;
    }

    public static IptRuleset Parse(string text, string file, IptFamily family, bool strict = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ruleset = new IptRuleset(family, file);
        IptTable? table = null;
        int tableLine = 0;
        int lineNo = 0, lastContent = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNo++;
            string line = rawLine.TrimEnd('\r');
            var loc = new SourceLocation(file, lineNo, 1);
            string trimmed = line.TrimStart(' ', '\t');
            if (trimmed.Length == 0 || trimmed[0] == '#')
                continue;
            lastContent = lineNo;
            int indent = line.Length - trimmed.Length;
            if (trimmed[0] == '*')
            {
                if (table is not null)
                    throw new HostParseException(loc, $"table '{trimmed[1..]}' starts before table '{table.Name}' (line {tableLine}) was committed", trimmed, "COMMIT first");
                string name = trimmed[1..].Trim();
                if (!BuiltinChains.ContainsKey(name))
                    throw new HostParseException(loc with { Column = indent + 2 }, "unknown table", name, "raw, mangle, nat, filter or security");
                if (ruleset.Table(name) is not null)
                    ruleset.Warnings.Add(new ParseWarning(loc, $"table '{name}' appears a second time; as iptables-restore does, it replaces the first"));
                table = ruleset.GetOrAddTable(name);
                table.Chains.Clear();
                ClearChains(table);
                tableLine = lineNo;
                continue;
            }
            if (table is null)
                throw new HostParseException(loc with { Column = indent + 1 }, "line outside a table", Word(trimmed), "a '*table' line first");
            if (trimmed == "COMMIT" || trimmed.StartsWith("COMMIT ", StringComparison.Ordinal))
            {
                Commit(table);
                table = null;
                continue;
            }
            if (trimmed[0] == ':')
            {
                ParseChainLine(trimmed, loc with { Column = indent + 1 }, table, ruleset);
                continue;
            }
            ParseCommand(line, loc, table, ruleset, strict);
        }
        if (table is not null)
            throw new HostParseException(new SourceLocation(file, lastContent, 0), $"table '{table.Name}' (line {tableLine}) has no COMMIT: iptables-restore would not load it", null, "COMMIT");
        return ruleset;
    }

    /// <summary>
    /// One rule spec (what follows `-A CHAIN`), as `iptables -A CHAIN SPEC` would read it: the .t test
    /// vectors and the `--rules` overrides use this. Returns one rule per address combination.
    /// </summary>
    public static IReadOnlyList<IptRule> ParseRule(string spec, IptFamily family, string table, string chain,
        Func<string, bool>? chainExists = null, string file = "<rule>", int line = 1, bool strict = false, List<ParseWarning>? warnings = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var loc = new SourceLocation(file, line, 1);
        var tokens = Tokenizer.Split(spec, loc);
        var context = new XtRuleContext(family, table, chain, file) { Strict = strict };
        var parsed = RuleParser.Parse(tokens, 0, loc, context, chainExists ?? (_ => false));
        warnings?.AddRange(context.Warnings);
        return parsed.Headers.Select(h => new IptRule
        {
            Header = h,
            Matches = parsed.Matches,
            Target = parsed.Target,
            Counters = parsed.Counters ?? default,
            Location = loc,
            Family = family,
        }).ToList();
    }

    private static string Word(string s)
    {
        int sp = s.IndexOfAny([' ', '\t']);
        return sp < 0 ? s : s[..sp];
    }

    private static void ClearChains(IptTable table)
    {
        foreach (var c in table.Chains.ToList())
            table.Remove(c.Name);
    }

    /// <summary>The kernel has every built-in chain of a table whether the dump declared it or not.</summary>
    private static void Commit(IptTable table)
    {
        foreach (var b in BuiltinChains[table.Name].Where(b => table.Chain(b) is null))
            table.Add(new IptChain(b, ChainPolicy.Accept, default, default) { IsImplicit = true });
    }

    private static void ParseChainLine(string line, SourceLocation loc, IptTable table, IptRuleset ruleset)
    {
        var tokens = Tokenizer.Split(line, loc);
        string name = tokens[0].Text[1..];
        if (name.Length == 0)
            throw new HostParseException(loc, "chain line without a name", ":", ":CHAIN POLICY [PACKETS:BYTES]");
        if (name.Length > 28)
            throw new HostParseException(loc with { Column = loc.Column + 1 }, "chain name longer than 28 characters (XT_EXTENSION_MAXNAMELEN - 1)", name, "a shorter name");
        if (tokens.Count < 2)
            throw new HostParseException(loc, "chain line without a policy", name, "ACCEPT, DROP or '-'");
        var policyTok = tokens[1];
        bool builtin = Array.IndexOf(BuiltinChains[table.Name], name) >= 0;
        ChainPolicy policy = policyTok.Text switch
        {
            "ACCEPT" => ChainPolicy.Accept,
            "DROP" => ChainPolicy.Drop,
            "-" => ChainPolicy.None,
            _ => throw new HostParseException(loc with { Column = loc.Column + policyTok.Column - 1 }, "bad chain policy", policyTok.Text, builtin ? "ACCEPT or DROP" : "'-' for a user-defined chain"),
        };
        // iptables-restore reads '-' on a built-in chain as "leave the policy as it is" (kube-proxy writes ':INPUT - [0:0]').
        if (builtin && policy == ChainPolicy.None)
            policy = table.Chain(name)?.Policy ?? ChainPolicy.Accept;
        if (!builtin && policy != ChainPolicy.None)
            throw new HostParseException(loc with { Column = loc.Column + policyTok.Column - 1 }, $"'{name}' is not a built-in chain of table {table.Name}: user chains have no policy", policyTok.Text, "'-'");
        XtCounters counters = default;
        if (tokens.Count >= 3)
        {
            counters = ParseCounters(tokens[2].Text, loc with { Column = loc.Column + tokens[2].Column - 1 });
            ruleset.HasCounters |= counters != default;
        }
        if (tokens.Count > 3)
            throw new HostParseException(loc with { Column = loc.Column + tokens[3].Column - 1 }, "extra words after the chain's counters", tokens[3].Text, "end of line");
        // iptables-restore flushes a chain that is declared again (kube-proxy relies on it with --noflush).
        if (table.Chain(name) is { } existing)
        {
            existing.IsImplicit = false;
            existing.Rules.Clear();
            existing.Policy = policy;
            existing.PolicyCounters = counters;
        }
        else
        {
            table.Add(new IptChain(name, policy, counters, loc));
        }
    }

    private static XtCounters ParseCounters(string text, SourceLocation loc)
    {
        if (text.Length < 5 || text[0] != '[' || text[^1] != ']')
            throw new HostParseException(loc, "bad counters", text, "[PACKETS:BYTES]");
        var inner = text.AsSpan(1, text.Length - 2);
        int colon = inner.IndexOf(':');
        if (colon <= 0 || !ulong.TryParse(inner[..colon], NumberStyles.None, CultureInfo.InvariantCulture, out ulong p)
            || !ulong.TryParse(inner[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out ulong b))
            throw new HostParseException(loc, "bad counters", text, "[PACKETS:BYTES] with decimal numbers");
        return new XtCounters(p, b);
    }

    private static void ParseCommand(string line, SourceLocation loc, IptTable table, IptRuleset ruleset, bool strict)
    {
        var tokens = Tokenizer.Split(line, loc);
        int i = 0;
        XtCounters? prefixCounters = null;
        if (tokens[0].Text.StartsWith('['))
        {
            prefixCounters = ParseCounters(tokens[0].Text, loc with { Column = tokens[0].Column });
            i++;
        }
        if (i >= tokens.Count)
            throw new HostParseException(loc, "counters without a command", tokens[0].Text, "[PACKETS:BYTES] -A CHAIN ...");
        var cmd = tokens[i];
        var cmdLoc = loc with { Column = cmd.Column };
        string command = cmd.Text switch
        {
            "--append" => "-A",
            "--insert" => "-I",
            "--delete" => "-D",
            "--replace" => "-R",
            "--new-chain" or "--new" => "-N",
            "--delete-chain" => "-X",
            "--flush" => "-F",
            "--policy" => "-P",
            "--zero" => "-Z",
            "--rename-chain" => "-E",
            _ => cmd.Text,
        };
        i++;
        string? ChainArg(bool required)
        {
            if (i < tokens.Count && !tokens[i].Text.StartsWith('-'))
                return tokens[i++].Text;
            if (required)
                throw new HostParseException(cmdLoc, $"{cmd.Text} needs a chain name", cmd.Text, $"{cmd.Text} CHAIN");
            return null;
        }
        IptChain Existing(string name, int column) =>
            table.Chain(name)
            ?? (Array.IndexOf(BuiltinChains[table.Name], name) >= 0 ? table.Add(new IptChain(name, ChainPolicy.Accept, default, loc with { Column = column }) { IsImplicit = true }) : null)
            ?? throw new HostParseException(loc with { Column = column }, $"no chain '{name}' in table {table.Name}", name, "a chain declared with ':NAME' or -N before use");

        switch (command)
        {
            case "-A":
            case "-I":
            case "-R":
            case "-D":
            {
                int chainColumn = i < tokens.Count ? tokens[i].Column : cmd.Column;
                var chain = Existing(ChainArg(true)!, chainColumn);
                int? position = null;
                if (command != "-A" && i < tokens.Count && int.TryParse(tokens[i].Text, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
                {
                    position = n;
                    if (n < 1 || n > chain.Rules.Count + (command == "-I" ? 1 : 0))
                        throw new HostParseException(loc with { Column = tokens[i].Column }, $"rule number {n} out of range for chain {chain.Name} ({chain.Rules.Count} rules)", tokens[i].Text, "an existing rule number");
                    i++;
                }
                if (command == "-R" && position is null)
                    throw new HostParseException(cmdLoc, "-R needs a rule number", cmd.Text, "-R CHAIN NUM rule");
                if (command == "-D" && position is { } del)
                {
                    chain.Rules.RemoveAt(del - 1);
                    return;
                }
                var context = new XtRuleContext(ruleset.Family, table.Name, chain.Name, loc.File) { Strict = strict };
                var parsed = RuleParser.Parse(tokens, i, loc, context, name => table.Chain(name) is not null);
                ruleset.Warnings.AddRange(context.Warnings);
                var counters = prefixCounters ?? parsed.Counters ?? default;
                ruleset.HasCounters |= counters != default;
                var rules = parsed.Headers.Select(h => new IptRule
                {
                    Header = h,
                    Matches = parsed.Matches,
                    Target = parsed.Target,
                    Counters = counters,
                    Location = cmdLoc,
                    Family = ruleset.Family,
                }).ToList();
                switch (command)
                {
                    case "-A":
                        chain.Rules.AddRange(rules);
                        break;
                    case "-I":
                        chain.Rules.InsertRange((position ?? 1) - 1, rules);
                        break;
                    case "-R":
                        if (rules.Count != 1)
                            throw new HostParseException(cmdLoc, "-R with more than one address would replace one rule by several", cmd.Text, "one -s and one -d");
                        chain.Rules[position!.Value - 1] = rules[0];
                        break;
                    default:
                    {
                        foreach (var r in rules)
                        {
                            int at = chain.Rules.FindIndex(x => x.Text == r.Text);
                            if (at < 0)
                                throw new HostParseException(cmdLoc, $"-D: no such rule in chain {chain.Name} (iptables: \"Bad rule (does a matching rule exist in that chain?)\")", r.Text, "a rule that exists");
                            chain.Rules.RemoveAt(at);
                        }
                        break;
                    }
                }
                return;
            }
            case "-N":
            {
                int col = i < tokens.Count ? tokens[i].Column : cmd.Column;
                string name = ChainArg(true)!;
                if (table.Chain(name) is not null)
                    throw new HostParseException(loc with { Column = col }, $"chain '{name}' already exists", name, "a new chain name");
                table.Add(new IptChain(name, ChainPolicy.None, default, loc with { Column = col }));
                break;
            }
            case "-X":
            {
                int col = i < tokens.Count ? tokens[i].Column : cmd.Column;
                if (ChainArg(false) is { } name)
                {
                    var c = Existing(name, col);
                    if (c.IsBuiltin)
                        throw new HostParseException(loc with { Column = col }, "cannot delete a built-in chain", name, "a user-defined chain");
                    table.Remove(name);
                }
                else
                {
                    foreach (var c in table.Chains.Where(c => !c.IsBuiltin).ToList())
                        table.Remove(c.Name);
                }
                break;
            }
            case "-F":
            case "-Z":
            {
                int col = i < tokens.Count ? tokens[i].Column : cmd.Column;
                var chains = ChainArg(false) is { } name ? [Existing(name, col)] : table.Chains.ToList();
                foreach (var c in chains)
                {
                    if (command == "-F")
                    {
                        c.Rules.Clear();
                    }
                    else
                    {
                        c.PolicyCounters = default;
                        for (int k = 0; k < c.Rules.Count; k++)
                        {
                            var r = c.Rules[k];
                            c.Rules[k] = new IptRule { Header = r.Header, Matches = r.Matches, Target = r.Target, Location = r.Location, Family = r.Family };
                        }
                    }
                }
                break;
            }
            case "-P":
            {
                int col = i < tokens.Count ? tokens[i].Column : cmd.Column;
                var c = Existing(ChainArg(true)!, col);
                if (i >= tokens.Count)
                    throw new HostParseException(cmdLoc, "-P needs a policy", cmd.Text, "-P CHAIN ACCEPT|DROP");
                var p = tokens[i++];
                if (!c.IsBuiltin)
                    throw new HostParseException(loc with { Column = col }, "only built-in chains have a policy", c.Name, "a built-in chain");
                c.Policy = p.Text switch
                {
                    "ACCEPT" => ChainPolicy.Accept,
                    "DROP" => ChainPolicy.Drop,
                    _ => throw new HostParseException(loc with { Column = p.Column }, "bad policy", p.Text, "ACCEPT or DROP"),
                };
                break;
            }
            case "-E":
            {
                int col = i < tokens.Count ? tokens[i].Column : cmd.Column;
                var c = Existing(ChainArg(true)!, col);
                string to = ChainArg(true)!;
                if (c.IsBuiltin)
                    throw new HostParseException(loc with { Column = col }, "cannot rename a built-in chain", c.Name, "a user-defined chain");
                int index = table.Chains.IndexOf(c);
                table.Remove(c.Name);
                var renamed = new IptChain(to, ChainPolicy.None, c.PolicyCounters, c.Location);
                renamed.Rules.AddRange(c.Rules);
                table.Add(renamed);
                table.Chains.Remove(renamed);
                table.Chains.Insert(index, renamed);
                break;
            }
            default:
                throw new HostParseException(cmdLoc, "unknown command", cmd.Text, "-A, -I, -D, -R, -N, -X, -F, -P, -Z, -E, a ':CHAIN' line or COMMIT");
        }
        if (i < tokens.Count)
            throw new HostParseException(loc with { Column = tokens[i].Column }, $"extra words after {cmd.Text}", tokens[i].Text, "end of line");
    }
}
