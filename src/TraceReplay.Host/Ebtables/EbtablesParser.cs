using System.Globalization;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Net;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Ebtables;

/// <summary>
/// Reads `ebtables-save -c` output (legacy and nft back-ends) into <see cref="EbtablesRuleset"/>: the
/// work of ebtables-restore's line loop and do_commandeb()'s option parsing, with each extension's
/// parse and final_check (extensions/libebt_*.c) done here so a rule the real tool would refuse is
/// refused with file:line:column. Options of modules it does not know are kept verbatim with a
/// warning, or refused when <c>strict</c> is set.
/// </summary>
public static class EbtablesParser
{
    public static EbtablesRuleset ParseFile(string path, bool strict = false) =>
        Parse(File.ReadAllText(path), path, strict);

    public static EbtablesRuleset Parse(string text, string fileName, bool strict = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ruleset = new EbtablesRuleset(fileName);
        var state = new FileState(ruleset, fileName, strict);
        int lineNo = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNo++;
            var line = rawLine.EndsWith('\r') ? rawLine[..^1] : rawLine;
            state.Line(line, lineNo);
        }
        state.End(lineNo);
        return ruleset;
    }

    private sealed class FileState(EbtablesRuleset ruleset, string file, bool strict)
    {
        private EbtablesTable? table;
        private bool tableCommitted;
        private bool commitSeen;
        private bool negationStyleKnown;

        private SourceLocation At(int line, int column) => new(file, line, column);

        public void Line(string line, int lineNo)
        {
            var trimmed = line.TrimStart();
            if (trimmed.Length == 0 || trimmed[0] == '#')
                return;
            int col = line.Length - trimmed.Length + 1;
            if (trimmed[0] == '*')
            {
                StartTable(trimmed, lineNo, col);
                return;
            }
            if (trimmed.TrimEnd() == "COMMIT")
            {
                if (table is null || tableCommitted)
                    throw new HostParseException(At(lineNo, col), "COMMIT without an open table", "COMMIT", "a '*table' line before it");
                tableCommitted = true;
                commitSeen = true;
                return;
            }
            var tokens = Tokenize(line, lineNo, file);
            if (tokens.Count == 0)
                return;
            if (trimmed[0] == ':')
            {
                ChainLine(tokens, lineNo);
                return;
            }
            RuleLine(tokens, lineNo);
        }

        public void End(int lineNo)
        {
            CloseTable(At(lineNo, 0), "end of file");
            if (!commitSeen)
                return;
            // ebtables-save never writes COMMIT; a file that commits some tables must commit them all,
            // or it was cut short (iptables-restore's "COMMIT expected").
            foreach (var (t, committed, endAt, endToken) in tableEnds)
            {
                if (!committed)
                    throw new HostParseException(endAt, $"table '{t.Name}' is not closed with COMMIT (the file commits other tables)", endToken, "COMMIT");
            }
        }

        private readonly List<(EbtablesTable Table, bool Committed, SourceLocation End, string EndToken)> tableEnds = [];

        private void CloseTable(SourceLocation at, string token)
        {
            if (table is not null)
                tableEnds.Add((table, tableCommitted, at, token));
        }

        private void StartTable(string trimmed, int lineNo, int col)
        {
            CloseTable(At(lineNo, col), trimmed.TrimEnd());
            var name = trimmed[1..].TrimEnd();
            if (!EbtablesTables.TryParse(name, out var kind))
                throw new HostParseException(At(lineNo, col + 1), "unknown ebtables table", name, "filter, nat or broute");
            if (ruleset.Table(kind) is not null)
                throw new HostParseException(At(lineNo, col + 1), "table appears twice in the file", name, "each table once");
            table = new EbtablesTable(kind, At(lineNo, col));
            ruleset.TableList.Add(table);
            tableCommitted = false;
        }

        private EbtablesTable RequireTable(Token t, int lineNo)
        {
            if (table is null || tableCommitted)
                throw new HostParseException(At(lineNo, t.Column), table is null ? "line before any table header" : "line after COMMIT of its table", t.Text, "a '*filter', '*nat' or '*broute' line first");
            return table;
        }

        private void ChainLine(List<Token> tokens, int lineNo)
        {
            var t = RequireTable(tokens[0], lineNo);
            var name = tokens[0].Text[1..];
            if (name.Length == 0)
                throw new HostParseException(At(lineNo, tokens[0].Column), "chain name missing", tokens[0].Text, ":CHAIN POLICY");
            if (name[0] == '-' || name[0] == '!' || name.Any(c => char.IsWhiteSpace(c) || c is '"' or '\''))
                throw new HostParseException(At(lineNo, tokens[0].Column + 1), "invalid chain name", name, "a name without blanks or quotes, not starting with '-' or '!'");
            if (name.Length > 31)
                throw new HostParseException(At(lineNo, tokens[0].Column + 1), "chain name longer than 31 characters", name, "a shorter name (EBT_CHAIN_MAXNAMELEN)");
            if (tokens.Count < 2)
                throw new HostParseException(At(lineNo, tokens[0].Column + tokens[0].Text.Length), "chain policy missing", name, "ACCEPT, DROP or RETURN");
            if (tokens.Count > 2)
                throw new HostParseException(At(lineNo, tokens[2].Column), "unexpected text after the chain policy", tokens[2].Text, "end of line");
            var pol = tokens[1];
            bool builtin = EbtablesTables.IsBuiltin(t.Kind, name);
            if (!EbtVerdicts.TryParse(pol.Text, out var policy) || policy == EbtVerdict.Continue || (builtin && policy == EbtVerdict.Return))
                throw new HostParseException(At(lineNo, pol.Column), "bad chain policy", pol.Text, builtin ? "ACCEPT or DROP" : "ACCEPT, DROP or RETURN");
            var existing = t.Chain(name);
            if (existing is not null && (!existing.IsBuiltin || existing.Location.Line != 0))
                throw new HostParseException(At(lineNo, tokens[0].Column + 1), "chain declared twice", name, "each chain once");
            if (existing is not null)
            {
                existing.Policy = policy;
                existing.Location = At(lineNo, tokens[0].Column);
                return;
            }
            if (EbtVerdicts.TryParse(name, out _) || KnownTargets.Contains(name))
                throw new HostParseException(At(lineNo, tokens[0].Column + 1), "chain name is a target name", name, "another name");
            t.AddChain(new EbtablesChain(name, false, policy, At(lineNo, tokens[0].Column)));
        }

        private void RuleLine(List<Token> tokens, int lineNo)
        {
            int i = 0;
            var counters = default(EbtCounters);
            var format = EbtCounterFormat.None;
            if (tokens[0].Text.StartsWith('[') && !tokens[0].Quoted)
            {
                counters = ParseBracketCounters(tokens[0], lineNo);
                format = EbtCounterFormat.Bracket;
                i = 1;
            }
            if (i >= tokens.Count)
                throw new HostParseException(At(lineNo, tokens[0].Column + tokens[0].Text.Length), "counters without a rule", tokens[0].Text, "-A CHAIN …");
            var cmd = tokens[i];
            if (cmd.Text is not ("-A" or "--append") || cmd.Quoted)
                throw new HostParseException(At(lineNo, cmd.Column), "unexpected line", cmd.Text, "'*table', ':CHAIN POLICY', '-A CHAIN …' or 'COMMIT'");
            var t = RequireTable(cmd, lineNo);
            if (i + 1 >= tokens.Count)
                throw new HostParseException(At(lineNo, cmd.Column + cmd.Text.Length), "chain name missing", cmd.Text, "-A CHAIN");
            var chainTok = tokens[i + 1];
            var chain = t.Chain(chainTok.Text)
                ?? throw new HostParseException(At(lineNo, chainTok.Column), $"chain does not exist in table '{t.Name}'", chainTok.Text, "a built-in chain or one declared with ':CHAIN POLICY' above");
            var reader = new RuleReader(this, t, chain, tokens, i + 2, lineNo);
            var rule = reader.Read(counters, format, At(lineNo, tokens[0].Column));
            chain.RuleList.Add(rule);
        }

        internal void NoteCounterFormat(EbtCounterFormat f, Token t, int lineNo)
        {
            if (f == EbtCounterFormat.None)
                return;
            if (ruleset.CounterFormat == EbtCounterFormat.None)
                ruleset.CounterFormat = f;
            else if (ruleset.CounterFormat != f)
                throw new HostParseException(At(lineNo, t.Column), "counter formats mixed in one file", t.Text, ruleset.CounterFormat == EbtCounterFormat.Bracket ? "'[P:B]' before -A, as the other rules" : "'-c P B' at the end, as the other rules");
        }

        internal void NoteNegation(EbtNegationStyle style)
        {
            if (negationStyleKnown)
                return;
            negationStyleKnown = true;
            ruleset.NegationStyle = style;
        }

        internal void Unknown(SourceLocation at, string message, string token)
        {
            if (strict)
                throw new HostParseException(at, message + " (strict mode refuses it)", token, "an option this parser knows");
            ruleset.WarningList.Add(new ParseWarning(at, $"{message} '{token}': kept verbatim, rules using it evaluate as unknown"));
        }

        internal SourceLocation Loc(int line, int column) => At(line, column);

        private EbtCounters ParseBracketCounters(Token tok, int lineNo)
        {
            var s = tok.Text;
            int colon = s.IndexOf(':', StringComparison.Ordinal);
            if (!s.EndsWith(']') || colon < 0 ||
                !ulong.TryParse(s.AsSpan(1, colon - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var p) ||
                !ulong.TryParse(s.AsSpan(colon + 1, s.Length - colon - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var b))
                throw new HostParseException(At(lineNo, tok.Column), "bad rule counters", s, "[PACKETS:BYTES]");
            return new EbtCounters(p, b);
        }
    }

    internal readonly record struct Token(string Text, int Column, bool Quoted);

    /// <summary>Splits a line as xtables-restore's add_param_to_argv does: blanks separate, double quotes group, \" escapes.</summary>
    private static List<Token> Tokenize(string line, int lineNo, string file)
    {
        var tokens = new List<Token>();
        int i = 0;
        var sb = new System.Text.StringBuilder();
        while (i < line.Length)
        {
            while (i < line.Length && (line[i] == ' ' || line[i] == '\t'))
                i++;
            if (i >= line.Length)
                break;
            int start = i;
            bool quoted = false;
            sb.Clear();
            while (i < line.Length && line[i] != ' ' && line[i] != '\t')
            {
                if (line[i] == '"')
                {
                    quoted = true;
                    int open = i;
                    i++;
                    while (i < line.Length && line[i] != '"')
                    {
                        if (line[i] == '\\' && i + 1 < line.Length && line[i + 1] == '"')
                            i++;
                        sb.Append(line[i]);
                        i++;
                    }
                    if (i >= line.Length)
                        throw new HostParseException(new SourceLocation(file, lineNo, open + 1), "unterminated quote", line[open..], "a closing '\"'");
                    i++;
                }
                else
                {
                    sb.Append(line[i]);
                    i++;
                }
            }
            // Only a token that opens with a quote is a quoted value: --opt"x" is still an option.
            tokens.Add(new Token(sb.ToString(), start + 1, quoted && line[start] == '"'));
        }
        return tokens;
    }

    private static readonly HashSet<string> KnownTargets = ["redirect", "snat", "dnat", "mark", "arpreply"];

    /// <summary>The option prefixes of modules this parser implements: an unknown option with one is an error, not an unknown module.</summary>
    private static readonly string[] KnownModulePrefixes =
        ["--ip-", "--ip6-", "--arp-", "--vlan-", "--802_3-", "--among-", "--stp-", "--mark-", "--pkttype-", "--limit-", "--log-", "--nflog-"];

    /// <summary>One rule's tokens: do_commandeb()'s getopt loop and the final checks.</summary>
    private sealed class RuleReader(FileState file, EbtablesTable table, EbtablesChain chain, List<Token> tokens, int start, int line)
    {
        private readonly EbtEntry entry = new();
        private readonly List<EbtMatch> matches = [];
        private readonly HashSet<string> seen = [];
        private EbtTarget? target;
        private Token targetToken;
        private readonly int firstOption = start;
        private int pos = start;
        private int end = tokens.Count;
        private EbtUnknownMatch? lastUnknown;

        private SourceLocation At(Token t) => file.Loc(line, t.Column);

        private HostParseException Error(Token t, string problem, string expected) => new(At(t), problem, t.Text, expected);

        public EbtablesRule Read(EbtCounters counters, EbtCounterFormat format, SourceLocation location)
        {
            // Legacy ebtables-save puts the counters last: "... -j ACCEPT -c 12 3456".
            if (end - pos >= 3 && tokens[end - 3].Text is "-c" or "--set-counters" && !tokens[end - 3].Quoted)
            {
                if (format != EbtCounterFormat.None)
                    throw Error(tokens[end - 3], "rule has counters twice", "either '[P:B]' or '-c P B'");
                counters = ParseCounterPair(end - 3);
                format = EbtCounterFormat.Trailing;
                end -= 3;
            }
            file.NoteCounterFormat(format, format == EbtCounterFormat.Bracket ? tokens[0] : tokens[Math.Min(end, tokens.Count - 1)], line);

            while (pos < end)
            {
                var tok = tokens[pos];
                bool invert = false;
                if (tok.Text == "!" && !tok.Quoted)
                {
                    invert = true;
                    pos++;
                    if (pos >= end)
                        throw Error(tok, "'!' at the end of the rule", "an option after '!'");
                    tok = tokens[pos];
                    if (tok.Text == "!")
                        throw Error(tok, "double negation", "one '!'");
                }
                if (tok.Quoted || !tok.Text.StartsWith('-') || tok.Text == "-")
                    throw Error(tok, "unexpected value", "an option such as -p, -s, -i, --ip-src or -j");
                if (tok.Text.Any(char.IsWhiteSpace))
                    throw Error(tok, "malformed option (quotes inside an option name)", "an option name without blanks");
                pos++;
                Option(tok, invert);
            }
            FinalCheck();
            var rule = new EbtablesRule(chain.Name, entry, matches, target ?? EbtStandardTarget.Continue, counters, location);
            return rule;
        }

        private EbtCounters ParseCounterPair(int at)
        {
            var p = tokens[at + 1];
            var b = tokens[at + 2];
            if (!ulong.TryParse(p.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var pv))
                throw Error(p, "bad packet counter", "a decimal number");
            if (!ulong.TryParse(b.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var bv))
                throw Error(b, "bad byte counter", "a decimal number");
            return new EbtCounters(pv, bv);
        }

        /// <summary>The option's argument, reading a legacy-style '!' after the option name.</summary>
        private (Token Arg, bool Invert) Arg(Token opt, bool invert, bool invertible)
        {
            if (pos >= end)
                throw Error(opt, "option needs an argument", "a value after " + opt.Text);
            var a = tokens[pos++];
            if (a.Text == "!" && !a.Quoted)
            {
                if (invert)
                    throw Error(a, "double negation", "one '!'");
                if (pos >= end)
                    throw Error(a, "option needs an argument", "a value after '!'");
                invert = true;
                if (invertible)
                    file.NoteNegation(EbtNegationStyle.Infix);
                a = tokens[pos++];
            }
            // getopt would take "-j" as the value; ebtables values never start with '-', so it is a missing value.
            if (!a.Quoted && a.Text.Length > 1 && a.Text[0] == '-')
                throw Error(a, "option value missing", "a value after " + opt.Text);
            else if (invert && invertible)
            {
                file.NoteNegation(EbtNegationStyle.Prefix);
            }
            if (invert && !invertible)
                throw Error(opt, "option cannot be negated", opt.Text + " without '!'");
            return (a, invert);
        }

        private void NoInvert(Token opt, bool invert)
        {
            if (invert)
                throw Error(opt, "option cannot be negated", opt.Text + " without '!'");
        }

        private void Once(Token opt, string key)
        {
            if (!seen.Add(key))
                throw Error(opt, "option given twice", "each option once per rule");
        }

        private T Module<T>(string name) where T : EbtMatch, new()
        {
            lastUnknown = null;
            foreach (var m in matches)
            {
                if (m is T t && m.Name == name)
                    return t;
            }
            var created = new T();
            matches.Add(created);
            return created;
        }

        /// <summary>ebt_check_option2 (libebtables): an option of a module once per rule.</summary>
        private void CheckOption<TFlags>(EbtFlagsMatch<TFlags> m, Token opt, TFlags flag)
            where TFlags : struct, Enum
        {
            if (m.Has(flag))
                throw Error(opt, "option given twice", "each option once per rule");
        }

        /// <summary>
        /// What each flag-driven module's parse does first: the option once per rule (ebt_check_option2), its
        /// argument read with a leading or trailing `!` (ebt_check_inverse2), and the option recorded in the
        /// module's bitmask and invflags. Returns the argument for the module's own parsing.
        /// </summary>
        private Token FlagArg<TFlags>(EbtFlagsMatch<TFlags> m, Token opt, TFlags flag, bool invert)
            where TFlags : struct, Enum
        {
            CheckOption(m, opt, flag);
            var (a, inv) = Arg(opt, invert, true);
            m.Set(flag, inv);
            return a;
        }

        private void Option(Token opt, bool invert)
        {
            var o = opt.Text;
            switch (o)
            {
                case "-p" or "--protocol":
                    Once(opt, "-p");
                    Protocol(opt, invert);
                    return;
                case "-s" or "--source" or "--src":
                    Once(opt, "-s");
                    Mac(opt, invert, source: true);
                    return;
                case "-d" or "--destination" or "--dst":
                    Once(opt, "-d");
                    Mac(opt, invert, source: false);
                    return;
                case "-i" or "--in-interface" or "--in-if":
                    Once(opt, "-i");
                    Iface(opt, invert, EbtInvFlags.In);
                    return;
                case "-o" or "--out-interface" or "--out-if":
                    Once(opt, "-o");
                    Iface(opt, invert, EbtInvFlags.Out);
                    return;
                case "--logical-in":
                    Once(opt, o);
                    Iface(opt, invert, EbtInvFlags.LogicalIn);
                    return;
                case "--logical-out":
                    Once(opt, o);
                    Iface(opt, invert, EbtInvFlags.LogicalOut);
                    return;
                case "-j" or "--jump":
                    Once(opt, "-j");
                    NoInvert(opt, invert);
                    Jump(opt);
                    return;
                case "-c" or "--set-counters":
                    throw Error(opt, "counters in the middle of a rule", "'-c P B' at the end of the line or '[P:B]' before -A");
            }
            if (IpOption(opt, invert) || Ip6Option(opt, invert) || ArpOption(opt, invert) || VlanOption(opt, invert) ||
                Option8023(opt, invert) || AmongOption(opt, invert) || StpOption(opt, invert) || SmallMatchOption(opt, invert) ||
                WatcherOption(opt, invert) || TargetOption(opt, invert))
                return;
            UnknownOption(opt, invert);
        }

        private void UnknownOption(Token opt, bool invert)
        {
            var o = opt.Text;
            string module;
            if (o.StartsWith("--among-", StringComparison.Ordinal) && o.EndsWith("-file", StringComparison.Ordinal))
            {
                module = "among";
            }
            else
            {
                foreach (var p in KnownModulePrefixes)
                {
                    if (o.StartsWith(p, StringComparison.Ordinal))
                        throw Error(opt, $"unknown option of the {p[2..^1]} module", "an option of libebt_" + p[2..^1]);
                }
                if (target is not null && target is not (EbtStandardTarget or EbtJumpTarget) &&
                    o.StartsWith("--" + target.Name + "-", StringComparison.Ordinal))
                    throw Error(opt, $"unknown option of the {target.Name} target", "an option of libebt_" + target.Name);
                if (!o.StartsWith("--", StringComparison.Ordinal))
                    throw Error(opt, "unknown option", "an ebtables option such as -p, -s, -d, -i, -o, -j or --MODULE-OPTION");
                var body = o[2..];
                int dash = body.IndexOf('-', StringComparison.Ordinal);
                module = dash > 0 ? body[..dash] : body;
            }
            if (lastUnknown is null || lastUnknown.Module != module)
            {
                file.Unknown(At(opt), $"unknown ebtables module '{module}', option", o);
                lastUnknown = new EbtUnknownMatch(module, At(opt));
                matches.Add(lastUnknown);
            }
            var u = lastUnknown;
            if (invert)
                u.Add("!", false);
            u.Add(o, false);
            while (pos < end && (tokens[pos].Quoted || !tokens[pos].Text.StartsWith('-') || tokens[pos].Text == "-"))
            {
                if (tokens[pos].Text == "!" && !tokens[pos].Quoted &&
                    (pos + 1 >= end || tokens[pos + 1].Text == "!" || (tokens[pos + 1].Text.StartsWith('-') && !tokens[pos + 1].Quoted)))
                    break; // a '!' that negates the next option (or dangles), not a legacy "--opt ! value"
                u.Add(tokens[pos].Text, tokens[pos].Quoted);
                pos++;
            }
        }

        // ---- ebt_entry ------------------------------------------------------------------------

        private void Protocol(Token opt, bool invert)
        {
            var (a, inv) = Arg(opt, invert, true);
            if (inv)
                entry.InvFlags |= EbtInvFlags.Proto;
            entry.Bitmask &= ~EbtEntryFlags.NoProto;
            if (string.Equals(a.Text, "length", StringComparison.OrdinalIgnoreCase))
            {
                entry.Bitmask |= EbtEntryFlags.Is8023;
                return;
            }
            if (TryHex(a.Text, out var v))
            {
                if (v > 0xFFFF)
                    throw Error(a, "protocol out of range", "a 16-bit ethertype");
                if (v < 0x0600)
                    throw Error(a, "protocols have values above or equal to 0x0600", "an ethertype >= 0x0600, a name, or LENGTH");
                entry.EthProto = (ushort)v;
                return;
            }
            if (!EbtNames.TryEtherTypeByName(a.Text, out var type))
                throw Error(a, "unknown ethertype", "a hexadecimal ethertype, a name from /etc/ethertypes (IPv4, IPv6, ARP, 802_1Q …) or LENGTH");
            entry.EthProto = type;
        }

        private void Mac(Token opt, bool invert, bool source)
        {
            var (a, inv) = Arg(opt, invert, true);
            var (mac, mask) = ParseMacAndMask(a, allowNames: true);
            if (source)
            {
                entry.Bitmask |= EbtEntryFlags.SourceMac;
                entry.SourceMac = mac;
                entry.SourceMask = mask;
                if (inv)
                    entry.InvFlags |= EbtInvFlags.Source;
            }
            else
            {
                entry.Bitmask |= EbtEntryFlags.DestMac;
                entry.DestMac = mac;
                entry.DestMask = mask;
                if (inv)
                    entry.InvFlags |= EbtInvFlags.Dest;
            }
        }

        private void Iface(Token opt, bool invert, EbtInvFlags which)
        {
            var (a, inv) = Arg(opt, invert, true);
            if (a.Text.Length > 15)
                throw Error(a, "interface name longer than 15 characters", "a name of at most 15 characters (IFNAMSIZ)");
            if (a.Text.Length == 0)
                throw Error(a, "empty interface name", "an interface name, or NAME+ for a prefix");
            // dev_valid_name() refuses these, so no interface can carry them.
            if (a.Text.Any(c => char.IsWhiteSpace(c) || c is '/' or ':' or '"' or '\''))
                throw Error(a, "invalid character in interface name", "a name without blanks, quotes, '/' or ':'");
            // A bare "+" matches every interface: ebtables drops it unless negated.
            var name = a.Text == "+" && !inv ? string.Empty : a.Text;
            if (inv)
                entry.InvFlags |= which;
            switch (which)
            {
                case EbtInvFlags.In: entry.In = name; break;
                case EbtInvFlags.Out: entry.Out = name; break;
                case EbtInvFlags.LogicalIn: entry.LogicalIn = name; break;
                default: entry.LogicalOut = name; break;
            }
            var opt2 = opt.Text is "-i" or "--in-interface" or "--in-if" ? "-i" : opt.Text is "-o" or "--out-interface" or "--out-if" ? "-o" : opt.Text;
            if (chain.IsBuiltin)
            {
                bool isIn = which is EbtInvFlags.In or EbtInvFlags.LogicalIn;
                if (isIn && !EbtablesTables.HasInDevice(chain.Name))
                    throw Error(opt, $"{opt2} is not allowed in chain {chain.Name}", $"{opt2} only in INPUT, FORWARD, PREROUTING and BROUTING chains");
                if (!isIn && !EbtablesTables.HasOutDevice(chain.Name))
                    throw Error(opt, $"{opt2} is not allowed in chain {chain.Name}", $"{opt2} only in OUTPUT, FORWARD and POSTROUTING chains");
            }
        }

        private void Jump(Token opt)
        {
            if (pos >= end)
                throw Error(opt, "target missing", "a target after -j");
            var a = tokens[pos++];
            targetToken = a;
            if (EbtVerdicts.TryParse(a.Text, out var v))
            {
                target = EbtStandardTarget.For(v);
                return;
            }
            switch (a.Text)
            {
                case "redirect": target = new EbtRedirectTarget(); return;
                case "snat": target = new EbtSnatTarget(); return;
                case "dnat": target = new EbtDnatTarget(); return;
                case "mark": target = new EbtMarkTarget(); return;
                case "arpreply": target = new EbtArpReplyTarget(); return;
            }
            if (a.Text.Length == 0 || a.Text.StartsWith('-') || a.Text == "!")
                throw Error(a, "target missing", "a target or chain name after -j");
            if (a.Quoted || a.Text.Length > 31 || a.Text.Any(c => char.IsWhiteSpace(c) || c is '"' or '\''))
                throw Error(a, "bad target or chain name", "a name of at most 31 characters without blanks or quotes");
            if (table.Chain(a.Text) is null && pos < end && tokens[pos].Text.StartsWith("--", StringComparison.Ordinal))
            {
                // Not a chain of this table and followed by options: a target extension we do not know.
                file.Unknown(At(a), "unknown ebtables target", a.Text);
                var u = new EbtUnknownTarget(a.Text, At(a));
                for (; pos < end; pos++)
                    u.Add(tokens[pos].Text, tokens[pos].Quoted);
                target = u;
                return;
            }
            target = new EbtJumpTarget(a.Text);
        }

        // ---- ip / ip6 -------------------------------------------------------------------------

        private bool IpOption(Token opt, bool invert)
        {
            EbtIpFlags flag = opt.Text switch
            {
                "--ip-source" or "--ip-src" => EbtIpFlags.Source,
                "--ip-destination" or "--ip-dst" => EbtIpFlags.Dest,
                "--ip-tos" => EbtIpFlags.Tos,
                "--ip-protocol" or "--ip-proto" => EbtIpFlags.Proto,
                "--ip-source-port" or "--ip-sport" => EbtIpFlags.SPort,
                "--ip-destination-port" or "--ip-dport" => EbtIpFlags.DPort,
                "--ip-icmp-type" => EbtIpFlags.Icmp,
                "--ip-igmp-type" => EbtIpFlags.Igmp,
                _ => EbtIpFlags.None,
            };
            if (flag == EbtIpFlags.None)
                return false;
            var (m, a) = IpFamilyArg<EbtIpMatch>(opt, invert, flag, "ip", v6: false);
            switch (flag)
            {
                case EbtIpFlags.Tos: m.Tos = Byte16(a, "a hexadecimal TOS value 0x00-0xFF"); break;
                case EbtIpFlags.Icmp:
                    if (m.Has(EbtIpFlags.Igmp))
                        throw Error(opt, "--ip-icmp-type and --ip-igmp-type together", "one of them");
                    (m.IcmpType, m.IcmpCode) = IcmpType(a, EbtNames.IcmpCodes);
                    break;
                case EbtIpFlags.Igmp:
                    if (m.Has(EbtIpFlags.Icmp))
                        throw Error(opt, "--ip-icmp-type and --ip-igmp-type together", "one of them");
                    m.IcmpType = IgmpType(a);
                    break;
            }
            return true;
        }

        private bool Ip6Option(Token opt, bool invert)
        {
            EbtIpFlags flag = opt.Text switch
            {
                "--ip6-source" or "--ip6-src" => EbtIpFlags.Source,
                "--ip6-destination" or "--ip6-dst" => EbtIpFlags.Dest,
                "--ip6-tclass" => EbtIpFlags.Tos,
                "--ip6-protocol" or "--ip6-proto" => EbtIpFlags.Proto,
                "--ip6-source-port" or "--ip6-sport" => EbtIpFlags.SPort,
                "--ip6-destination-port" or "--ip6-dport" => EbtIpFlags.DPort,
                "--ip6-icmp-type" => EbtIpFlags.Icmp,
                _ => EbtIpFlags.None,
            };
            if (flag == EbtIpFlags.None)
                return false;
            var (m, a) = IpFamilyArg<EbtIp6Match>(opt, invert, flag, "ip6", v6: true);
            switch (flag)
            {
                case EbtIpFlags.Tos: m.TrafficClass = Byte16(a, "a hexadecimal traffic class 0x00-0xFF"); break;
                case EbtIpFlags.Icmp: (m.IcmpType, m.IcmpCode) = IcmpType(a, EbtNames.Icmpv6Codes); break;
            }
            return true;
        }

        /// <summary>
        /// The part brip_parse and brip6_parse (libebt_ip.c, libebt_ip6.c) have in common: the option once
        /// per rule, its argument and inversion recorded, and the fields both infos share parsed. The caller
        /// parses the family's own fields (TOS or traffic class, ICMP/IGMP) from the returned argument.
        /// </summary>
        private (T Match, Token Arg) IpFamilyArg<T>(Token opt, bool invert, EbtIpFlags flag, string name, bool v6)
            where T : EbtIpFamilyMatch, new()
        {
            var m = Module<T>(name);
            var a = FlagArg(m, opt, flag, invert);
            switch (flag)
            {
                case EbtIpFlags.Source: m.Source = Network(a, v6); break;
                case EbtIpFlags.Dest: m.Dest = Network(a, v6); break;
                case EbtIpFlags.Proto: m.Protocol = Proto(a); break;
                case EbtIpFlags.SPort: m.SPort = PortRange(a); break;
                case EbtIpFlags.DPort: m.DPort = PortRange(a); break;
            }
            return (m, a);
        }

        // ---- arp ------------------------------------------------------------------------------

        private bool ArpOption(Token opt, bool invert)
        {
            EbtArpFlags flag = opt.Text switch
            {
                "--arp-opcode" or "--arp-op" => EbtArpFlags.Opcode,
                "--arp-htype" => EbtArpFlags.HType,
                "--arp-ptype" => EbtArpFlags.PType,
                "--arp-ip-src" => EbtArpFlags.SrcIp,
                "--arp-ip-dst" => EbtArpFlags.DstIp,
                "--arp-mac-src" => EbtArpFlags.SrcMac,
                "--arp-mac-dst" => EbtArpFlags.DstMac,
                "--arp-gratuitous" => EbtArpFlags.Gratuitous,
                _ => EbtArpFlags.None,
            };
            if (flag == EbtArpFlags.None)
                return false;
            var m = Module<EbtArpMatch>("arp");
            if (flag == EbtArpFlags.Gratuitous)
            {
                // --arp-gratuitous takes no argument: only given (and maybe negated) or not.
                CheckOption(m, opt, flag);
                m.Set(flag, invert);
                return true;
            }
            var a = FlagArg(m, opt, flag, invert);
            switch (flag)
            {
                case EbtArpFlags.Opcode:
                    if (ushort.TryParse(a.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var op))
                    {
                        m.Opcode = op;
                    }
                    else
                    {
                        int idx = Array.FindIndex(EbtNames.ArpOpcodes, n => string.Equals(n, a.Text, StringComparison.OrdinalIgnoreCase));
                        if (idx < 0)
                            throw Error(a, "unknown ARP opcode", "a number 0-65535 or Request, Reply, Request_Reverse, Reply_Reverse, DRARP_Request, DRARP_Reply, DRARP_Error, InARP_Request, ARP_NAK");
                        m.Opcode = (ushort)(idx + 1);
                    }
                    break;
                case EbtArpFlags.HType:
                    if (string.Equals(a.Text, "Ethernet", StringComparison.OrdinalIgnoreCase))
                        m.HType = 1;
                    else if (ushort.TryParse(a.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var ht))
                        m.HType = ht;
                    else
                        throw Error(a, "bad ARP hardware type", "a number 0-65535 or Ethernet");
                    break;
                case EbtArpFlags.PType:
                    if (TryHex(a.Text, out var pt) && pt <= 0xFFFF)
                        m.PType = (ushort)pt;
                    else if (EbtNames.TryEtherTypeByName(a.Text, out var ptn))
                        m.PType = ptn;
                    else
                        throw Error(a, "bad ARP protocol type", "a hexadecimal ethertype or a name from /etc/ethertypes");
                    break;
                case EbtArpFlags.SrcIp: m.SrcIp = Network(a, v6: false); break;
                case EbtArpFlags.DstIp: m.DstIp = Network(a, v6: false); break;
                case EbtArpFlags.SrcMac: (m.SrcMac, m.SrcMacMask) = ParseMacAndMask(a, allowNames: true); break;
                default: (m.DstMac, m.DstMacMask) = ParseMacAndMask(a, allowNames: true); break;
            }
            return true;
        }

        // ---- vlan, 802_3 ----------------------------------------------------------------------

        private bool VlanOption(Token opt, bool invert)
        {
            EbtVlanFlags flag = opt.Text switch
            {
                "--vlan-id" => EbtVlanFlags.Id,
                "--vlan-prio" => EbtVlanFlags.Prio,
                "--vlan-encap" => EbtVlanFlags.Encap,
                _ => EbtVlanFlags.None,
            };
            if (flag == EbtVlanFlags.None)
                return false;
            var m = Module<EbtVlanMatch>("vlan");
            var a = FlagArg(m, opt, flag, invert);
            switch (flag)
            {
                case EbtVlanFlags.Id:
                    if (!ushort.TryParse(a.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id > 4094)
                        throw Error(a, "bad VLAN id", "a number 0-4094");
                    m.Id = id;
                    break;
                case EbtVlanFlags.Prio:
                    if (!byte.TryParse(a.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var prio) || prio > 7)
                        throw Error(a, "bad VLAN priority", "a number 0-7");
                    m.Prio = prio;
                    break;
                default:
                    if (TryHex(a.Text, out var enc) && enc <= 0xFFFF)
                        m.Encap = (ushort)enc;
                    else if (EbtNames.TryEtherTypeByName(a.Text, out var encn))
                        m.Encap = encn;
                    else
                        throw Error(a, "bad VLAN encapsulated ethertype", "a hexadecimal ethertype or a name from /etc/ethertypes");
                    if (m.Encap < 0x0600)
                        throw Error(a, "encapsulated frame type below 0x0600", "an ethertype >= 0x0600");
                    break;
            }
            return true;
        }

        private bool Option8023(Token opt, bool invert)
        {
            Ebt8023Flags flag = opt.Text switch
            {
                "--802_3-sap" => Ebt8023Flags.Sap,
                "--802_3-type" => Ebt8023Flags.Type,
                _ => Ebt8023Flags.None,
            };
            if (flag == Ebt8023Flags.None)
                return false;
            var m = Module<Ebt8023Match>("802_3");
            var a = FlagArg(m, opt, flag, invert);
            if (!TryHex(a.Text, out var v) || v > (flag == Ebt8023Flags.Sap ? 0xFFu : 0xFFFFu))
                throw Error(a, flag == Ebt8023Flags.Sap ? "bad 802.3 SAP" : "bad 802.3 SNAP type", flag == Ebt8023Flags.Sap ? "a hexadecimal byte" : "a hexadecimal 16-bit value");
            if (flag == Ebt8023Flags.Sap)
                m.Sap = (byte)v;
            else
                m.Type = (ushort)v;
            return true;
        }

        // ---- among ----------------------------------------------------------------------------

        private bool AmongOption(Token opt, bool invert)
        {
            bool src = opt.Text == "--among-src";
            if (!src && opt.Text != "--among-dst")
                return false;
            var m = Module<EbtAmongMatch>("among");
            if (src ? m.Src is not null : m.Dst is not null)
                throw Error(opt, "option given twice", "each option once per rule");
            var (a, inv) = Arg(opt, invert, true);
            var list = new List<EbtAmongEntry>();
            foreach (var part in a.Text.Split(','))
            {
                var item = part.Trim();
                if (item.Length == 0)
                    throw Error(a, "empty element in among list", "MAC[=IP],MAC[=IP],…");
                int eq = item.IndexOf('=', StringComparison.Ordinal);
                var macText = eq < 0 ? item : item[..eq];
                if (!TryEtherAton(macText, out var mac))
                    throw new HostParseException(At(a), "bad MAC address in among list", macText, "six hexadecimal bytes separated by ':'");
                IpAddr? ip = null;
                if (eq >= 0)
                {
                    var ipText = item[(eq + 1)..];
                    if (!IpNetwork.TryParse(ipText, out var n) || n.IsV6 || ipText.Contains('/', StringComparison.Ordinal))
                        throw new HostParseException(At(a), "bad IPv4 address in among list", ipText, "a dotted IPv4 address");
                    ip = n.Address;
                }
                var e = new EbtAmongEntry(mac, ip);
                if (!list.Contains(e))
                    list.Add(e);
            }
            list.Sort();
            if (src)
            {
                m.Src = list;
                m.SrcInvert = inv;
            }
            else
            {
                m.Dst = list;
                m.DstInvert = inv;
            }
            return true;
        }

        // ---- stp ------------------------------------------------------------------------------

        private bool StpOption(Token opt, bool invert)
        {
            EbtStpFlags flag = opt.Text switch
            {
                "--stp-type" => EbtStpFlags.Type,
                "--stp-flags" => EbtStpFlags.Flags,
                "--stp-root-prio" => EbtStpFlags.RootPrio,
                "--stp-root-addr" => EbtStpFlags.RootAddr,
                "--stp-root-cost" => EbtStpFlags.RootCost,
                "--stp-sender-prio" => EbtStpFlags.SenderPrio,
                "--stp-sender-addr" => EbtStpFlags.SenderAddr,
                "--stp-port" => EbtStpFlags.Port,
                "--stp-msg-age" => EbtStpFlags.MsgAge,
                "--stp-max-age" => EbtStpFlags.MaxAge,
                "--stp-hello-time" => EbtStpFlags.HelloTime,
                "--stp-forward-delay" => EbtStpFlags.ForwardDelay,
                _ => EbtStpFlags.None,
            };
            if (flag == EbtStpFlags.None)
                return false;
            var m = Module<EbtStpMatch>("stp");
            var a = FlagArg(m, opt, flag, invert);
            switch (flag)
            {
                case EbtStpFlags.Type:
                    m.Type = StpByte(a, "config", EbtStpMatch.TypeConfig, "tcn", EbtStpMatch.TypeTcn);
                    break;
                case EbtStpFlags.Flags:
                    m.Flags = StpByte(a, "topology-change", EbtStpMatch.FlagTc, "topology-change-ack", EbtStpMatch.FlagTcAck);
                    break;
                case EbtStpFlags.RootAddr: (m.RootAddr, m.RootAddrMask) = ParseMacAndMask(a, allowNames: false); break;
                case EbtStpFlags.SenderAddr: (m.SenderAddr, m.SenderAddrMask) = ParseMacAndMask(a, allowNames: false); break;
                case EbtStpFlags.RootCost:
                {
                    var (lo, hi) = Range32(a, uint.MaxValue);
                    m.RootCost = new EbtRange32(lo, hi);
                    break;
                }
                default:
                {
                    var (lo, hi) = Range32(a, ushort.MaxValue);
                    var r = new EbtRange((ushort)lo, (ushort)hi);
                    switch (flag)
                    {
                        case EbtStpFlags.RootPrio: m.RootPrio = r; break;
                        case EbtStpFlags.SenderPrio: m.SenderPrio = r; break;
                        case EbtStpFlags.Port: m.Port = r; break;
                        case EbtStpFlags.MsgAge: m.MsgAge = r; break;
                        case EbtStpFlags.MaxAge: m.MaxAge = r; break;
                        case EbtStpFlags.HelloTime: m.HelloTime = r; break;
                        default: m.ForwardDelay = r; break;
                    }
                    break;
                }
            }
            return true;
        }

        /// <summary>libebt_stp's type and flags: one of two names, else strtol(…, 0) in 0-255.</summary>
        private byte StpByte(Token a, string name0, byte value0, string name1, byte value1)
        {
            if (a.Text == name0)
                return value0;
            if (a.Text == name1)
                return value1;
            if (TryStrToUl(a.Text, out var v) && v <= 0xFF)
                return (byte)v;
            throw Error(a, "bad value", $"{name0}, {name1} or a number 0-255");
        }

        /// <summary>libebt_stp parse_range: N, N:M, :M, N: or ':' within 0..max.</summary>
        private (uint Lo, uint Hi) Range32(Token a, uint max)
        {
            var s = a.Text;
            int colon = s.IndexOf(':', StringComparison.Ordinal);
            uint lo, hi;
            if (colon < 0)
            {
                lo = hi = Num(s);
            }
            else
            {
                lo = colon == 0 ? 0 : Num(s[..colon]);
                hi = colon == s.Length - 1 ? max : Num(s[(colon + 1)..]);
            }
            if (lo > hi)
                throw Error(a, "invalid range (min > max)", "MIN:MAX with MIN <= MAX");
            return (lo, hi);

            uint Num(string t)
            {
                if (!TryStrToUl(t, out var v) || v > max)
                    throw Error(a, "bad number in range", $"N or MIN:MAX within 0-{max.ToString(CultureInfo.InvariantCulture)}");
                return v;
            }
        }

        // ---- mark_m, pkttype, limit -----------------------------------------------------------

        private bool SmallMatchOption(Token opt, bool invert)
        {
            switch (opt.Text)
            {
                case "--mark":
                {
                    var m = Module<EbtMarkMatch>("mark_m");
                    Once(opt, opt.Text);
                    var (a, inv) = Arg(opt, invert, true);
                    m.Invert = inv;
                    var s = a.Text;
                    int slash = s.IndexOf('/', StringComparison.Ordinal);
                    if (slash == 0)
                    {
                        // "--mark /MASK": match when any bit of MASK is set (EBT_MARK_OR).
                        m.IsOr = true;
                        m.Mark = 0;
                        m.Mask = StrToUl(a, s[1..], "a mask such as /0x10");
                    }
                    else
                    {
                        m.Mark = StrToUl(a, slash < 0 ? s : s[..slash], "VALUE[/MASK] in decimal or 0x hexadecimal");
                        m.Mask = slash < 0 ? uint.MaxValue : StrToUl(a, s[(slash + 1)..], "VALUE[/MASK] in decimal or 0x hexadecimal");
                    }
                    return true;
                }
                case "--pkttype-type":
                {
                    var m = Module<EbtPktTypeMatch>("pkttype");
                    Once(opt, opt.Text);
                    var (a, inv) = Arg(opt, invert, true);
                    m.Invert = inv;
                    int idx = Array.FindIndex(EbtNames.PktTypes, n => string.Equals(n, a.Text, StringComparison.OrdinalIgnoreCase));
                    if (idx >= 0)
                        m.PktType = (byte)idx;
                    else if (byte.TryParse(a.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var pt))
                        m.PktType = pt;
                    else
                        throw Error(a, "bad packet type", "host, broadcast, multicast, otherhost, outgoing, loopback or a number");
                    return true;
                }
                case "--limit":
                {
                    var m = Module<EbtLimitMatch>("limit");
                    Once(opt, opt.Text);
                    var (a, _) = Arg(opt, invert, false);
                    m.Avg = ParseRate(a);
                    return true;
                }
                case "--limit-burst":
                {
                    var m = Module<EbtLimitMatch>("limit");
                    Once(opt, opt.Text);
                    var (a, _) = Arg(opt, invert, false);
                    if (!uint.TryParse(a.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var b) || b > 10000)
                        throw Error(a, "bad limit burst", "a number 0-10000");
                    m.Burst = b;
                    return true;
                }
                default:
                    return false;
            }
        }

        /// <summary>libebt_limit parse_rate: N[/second|minute|hour|day] → period in 1/10000 s.</summary>
        private uint ParseRate(Token a)
        {
            var s = a.Text;
            int slash = s.IndexOf('/', StringComparison.Ordinal);
            ulong mult = EbtLimitMatch.Scale;
            if (slash >= 0)
            {
                var unit = s[(slash + 1)..];
                if (unit.Length == 0)
                    throw Error(a, "rate unit missing", "N/second, N/minute, N/hour or N/day");
                if ("second".StartsWith(unit, StringComparison.OrdinalIgnoreCase))
                    mult = EbtLimitMatch.Scale;
                else if ("minute".StartsWith(unit, StringComparison.OrdinalIgnoreCase))
                    mult = EbtLimitMatch.Scale * 60;
                else if ("hour".StartsWith(unit, StringComparison.OrdinalIgnoreCase))
                    mult = EbtLimitMatch.Scale * 60 * 60;
                else if ("day".StartsWith(unit, StringComparison.OrdinalIgnoreCase))
                    mult = EbtLimitMatch.Scale * 60 * 60 * 24;
                else
                    throw Error(a, "bad rate unit", "second, minute, hour or day");
                s = s[..slash];
            }
            if (!uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var r) || r == 0)
                throw Error(a, "bad rate", "a positive number, optionally /second, /minute, /hour or /day");
            if (mult / r == 0)
                throw Error(a, "rate too fast", "at most 10000/second");
            return (uint)(mult / r);
        }

        // ---- log, nflog -----------------------------------------------------------------------

        private bool WatcherOption(Token opt, bool invert)
        {
            switch (opt.Text)
            {
                case "--log":
                    NoInvert(opt, invert);
                    Once(opt, opt.Text);
                    Module<EbtLogWatcher>("log");
                    return true;
                case "--log-level":
                {
                    NoInvert(opt, invert);
                    Once(opt, opt.Text);
                    var m = Module<EbtLogWatcher>("log");
                    var (a, _) = Arg(opt, false, false);
                    int idx = Array.IndexOf(EbtNames.LogLevels, a.Text);
                    if (idx < 0 && byte.TryParse(a.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var lv) && lv <= 7)
                        idx = lv;
                    if (idx < 0)
                        throw Error(a, "bad log level", "emerg, alert, crit, error, warning, notice, info, debug or 0-7");
                    m.Level = (byte)idx;
                    return true;
                }
                case "--log-prefix":
                {
                    NoInvert(opt, invert);
                    Once(opt, opt.Text);
                    var m = Module<EbtLogWatcher>("log");
                    var (a, _) = Arg(opt, false, false);
                    if (a.Text.Length > 29)
                        throw Error(a, "log prefix longer than 29 characters", "a prefix of at most 29 characters (EBT_LOG_PREFIX_SIZE)");
                    if (a.Text.Contains('"', StringComparison.Ordinal))
                        throw Error(a, "'\"' in the log prefix", "a prefix without double quotes");
                    m.Prefix = a.Text;
                    return true;
                }
                case "--log-ip" or "--log-arp" or "--log-ip6":
                {
                    NoInvert(opt, invert);
                    Once(opt, opt.Text);
                    var m = Module<EbtLogWatcher>("log");
                    m.Flags |= opt.Text switch
                    {
                        "--log-ip" => EbtLogFlags.Ip,
                        "--log-arp" => EbtLogFlags.Arp,
                        _ => EbtLogFlags.Ip6,
                    };
                    return true;
                }
                case "--nflog":
                    NoInvert(opt, invert);
                    Once(opt, opt.Text);
                    Module<EbtNflogWatcher>("nflog");
                    return true;
                case "--nflog-group" or "--nflog-range" or "--nflog-threshold":
                {
                    NoInvert(opt, invert);
                    Once(opt, opt.Text);
                    var m = Module<EbtNflogWatcher>("nflog");
                    var (a, _) = Arg(opt, false, false);
                    if (!uint.TryParse(a.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ||
                        (opt.Text != "--nflog-range" && v > 0xFFFF))
                        throw Error(a, "bad number", opt.Text == "--nflog-range" ? "a 32-bit number" : "a number 0-65535");
                    if (opt.Text == "--nflog-group")
                        m.Group = (ushort)v;
                    else if (opt.Text == "--nflog-range")
                        m.Range = v;
                    else
                        m.Threshold = (ushort)v;
                    return true;
                }
                case "--nflog-prefix":
                {
                    NoInvert(opt, invert);
                    Once(opt, opt.Text);
                    var m = Module<EbtNflogWatcher>("nflog");
                    var (a, _) = Arg(opt, false, false);
                    if (a.Text.Length > 63)
                        throw Error(a, "nflog prefix longer than 63 characters", "a prefix of at most 63 characters");
                    if (a.Text.Contains('"', StringComparison.Ordinal))
                        throw Error(a, "'\"' in the nflog prefix", "a prefix without double quotes");
                    m.Prefix = a.Text;
                    return true;
                }
                default:
                    return false;
            }
        }

        // ---- target options -------------------------------------------------------------------

        private bool TargetOption(Token opt, bool invert)
        {
            var o = opt.Text;
            switch (target)
            {
                case EbtRedirectTarget r when o == "--redirect-target":
                    Once(opt, o);
                    r.Verdict = TargetVerdict(opt, invert);
                    return true;
                case EbtSnatTarget s when o is "--to-src" or "--to-source":
                    Once(opt, "--to-src");
                    s.Mac = TargetMac(opt, invert);
                    return true;
                case EbtSnatTarget s when o == "--snat-target":
                    Once(opt, o);
                    s.Verdict = TargetVerdict(opt, invert);
                    return true;
                case EbtSnatTarget s when o == "--snat-arp":
                    Once(opt, o);
                    NoInvert(opt, invert);
                    s.SnatArp = true;
                    return true;
                case EbtDnatTarget d when o is "--to-dst" or "--to-destination":
                    Once(opt, "--to-dst");
                    d.Mac = TargetMac(opt, invert);
                    return true;
                case EbtDnatTarget d when o == "--dnat-target":
                    Once(opt, o);
                    d.Verdict = TargetVerdict(opt, invert);
                    return true;
                case EbtArpReplyTarget ar when o == "--arpreply-mac":
                    Once(opt, o);
                    ar.Mac = TargetMac(opt, invert);
                    return true;
                case EbtArpReplyTarget ar when o == "--arpreply-target":
                    Once(opt, o);
                    ar.Verdict = TargetVerdict(opt, invert);
                    return true;
                case EbtMarkTarget mt when o == "--mark-target":
                    Once(opt, o);
                    mt.Verdict = TargetVerdict(opt, invert);
                    return true;
                case EbtMarkTarget mt when o is "--mark-set" or "--set-mark" or "--mark-or" or "--mark-and" or "--mark-xor":
                {
                    if (!seen.Add("--mark-op"))
                        throw Error(opt, "more than one mark operation", "one of --mark-set, --mark-or, --mark-and, --mark-xor");
                    var (a, _) = Arg(opt, invert, false);
                    mt.Op = o switch
                    {
                        "--mark-or" => EbtMarkOp.Or,
                        "--mark-and" => EbtMarkOp.And,
                        "--mark-xor" => EbtMarkOp.Xor,
                        _ => EbtMarkOp.Set,
                    };
                    mt.Value = StrToUl(a, a.Text, "a number in decimal or 0x hexadecimal");
                    return true;
                }
                default:
                    return false;
            }
        }

        private EbtVerdict TargetVerdict(Token opt, bool invert)
        {
            var (a, _) = Arg(opt, invert, false);
            if (!EbtVerdicts.TryParse(a.Text, out var v))
                throw Error(a, "bad target verdict", "ACCEPT, DROP, CONTINUE or RETURN");
            return v;
        }

        private MacAddr TargetMac(Token opt, bool invert)
        {
            var (a, _) = Arg(opt, invert, false);
            if (!TryEtherAton(a.Text, out var mac))
                throw Error(a, "bad MAC address", "six hexadecimal bytes separated by ':'");
            return mac;
        }

        // ---- final checks (each extension's final_check) ---------------------------------------

        private void FinalCheck()
        {
            var at = tokens[Math.Max(firstOption - 1, 0)];
            foreach (var m in matches)
            {
                switch (m)
                {
                    case EbtIpMatch ip:
                        if (!entry.ProtoIs(0x0800))
                            throw Error(at, "--ip-* options need -p IPv4 (not negated)", "-p IPv4 in the rule");
                        CheckL4(ip.Bitmask, ip.InvFlags, ip.Protocol, "ip", at);
                        if (ip.Has(EbtIpFlags.Icmp) && (!ip.Has(EbtIpFlags.Proto) || ip.Inverted(EbtIpFlags.Proto) || ip.Protocol != 1))
                            throw Error(at, "--ip-icmp-type needs --ip-proto icmp", "--ip-proto icmp");
                        if (ip.Has(EbtIpFlags.Igmp) && (!ip.Has(EbtIpFlags.Proto) || ip.Inverted(EbtIpFlags.Proto) || ip.Protocol != 2))
                            throw Error(at, "--ip-igmp-type needs --ip-proto igmp", "--ip-proto igmp");
                        break;
                    case EbtIp6Match ip6:
                        if (!entry.ProtoIs(0x86DD))
                            throw Error(at, "--ip6-* options need -p IPv6 (not negated)", "-p IPv6 in the rule");
                        CheckL4(ip6.Bitmask, ip6.InvFlags, ip6.Protocol, "ip6", at);
                        if (ip6.Has(EbtIpFlags.Icmp) && (!ip6.Has(EbtIpFlags.Proto) || ip6.Inverted(EbtIpFlags.Proto) || ip6.Protocol != 58))
                            throw Error(at, "--ip6-icmp-type needs --ip6-proto ipv6-icmp", "--ip6-proto ipv6-icmp");
                        break;
                    case EbtArpMatch:
                        if (!entry.ProtoIs(0x0806) && !entry.ProtoIs(0x8035))
                            throw Error(at, "--arp-* options need -p ARP or -p RARP (not negated)", "-p ARP in the rule");
                        break;
                    case EbtVlanMatch:
                        if (!entry.ProtoIs(0x8100))
                            throw Error(at, "--vlan-* options need -p 802_1Q (not negated)", "-p 802_1Q in the rule");
                        break;
                    case Ebt8023Match:
                        if (!entry.Is8023 || entry.Inverted(EbtInvFlags.Proto))
                            throw Error(at, "--802_3-* options need -p LENGTH", "-p LENGTH in the rule");
                        break;
                }
            }
            switch (target)
            {
                case EbtSnatTarget when !seen.Contains("--to-src"):
                    throw Error(targetToken, "snat needs --to-src", "-j snat --to-src MAC");
                case EbtDnatTarget when !seen.Contains("--to-dst"):
                    throw Error(targetToken, "dnat needs --to-dst", "-j dnat --to-dst MAC");
                case EbtMarkTarget when !seen.Contains("--mark-op"):
                    throw Error(targetToken, "mark needs an operation", "--mark-set, --mark-or, --mark-and or --mark-xor");
                case EbtArpReplyTarget when !entry.ProtoIs(0x0806):
                    throw Error(targetToken, "arpreply needs -p ARP (not negated)", "-p ARP in the rule");
            }
        }

        private void CheckL4(EbtIpFlags bits, EbtIpFlags inv, byte proto, string module, Token at)
        {
            if ((bits & (EbtIpFlags.SPort | EbtIpFlags.DPort)) == 0)
                return;
            if ((bits & EbtIpFlags.Proto) == 0 || (inv & EbtIpFlags.Proto) != 0 || proto is not (6 or 17 or 33 or 132 or 136))
                throw Error(at, $"--{module}-sport/--{module}-dport need --{module}-proto tcp, udp, udplite, sctp or dccp", $"--{module}-proto tcp|udp|udplite|sctp|dccp");
            if ((bits & EbtIpFlags.Icmp) != 0)
                throw Error(at, "ports and ICMP type together", "one of them");
        }

        // ---- value parsers --------------------------------------------------------------------

        private IpNetwork Network(Token a, bool v6)
        {
            if (!IpNetwork.TryParse(a.Text, out var n) || n.IsV6 != v6)
                throw Error(a, v6 ? "bad IPv6 address" : "bad IPv4 address", v6 ? "ADDR[/LEN] in IPv6 notation" : "A.B.C.D[/LEN|/MASK]");
            return n;
        }

        private byte Byte16(Token a, string expected)
        {
            if (!TryHex(a.Text, out var v) || v > 0xFF)
                throw Error(a, "bad value", expected);
            return (byte)v;
        }

        private byte Proto(Token a)
        {
            if (!EbtNames.TryParseProtocol(a.Text, out var p))
                throw Error(a, "unknown protocol", "a number 0-255 or a name from /etc/protocols (tcp, udp, icmp …)");
            return p;
        }

        private EbtRange PortRange(Token a)
        {
            var s = a.Text;
            int colon = s.IndexOf(':', StringComparison.Ordinal);
            ushort lo, hi;
            if (colon < 0)
            {
                lo = hi = Port(a, s);
            }
            else
            {
                lo = colon == 0 ? (ushort)0 : Port(a, s[..colon]);
                hi = colon == s.Length - 1 ? ushort.MaxValue : Port(a, s[(colon + 1)..]);
            }
            if (lo > hi)
                throw Error(a, "invalid port range (min > max)", "MIN:MAX with MIN <= MAX");
            return new EbtRange(lo, hi);
        }

        private ushort Port(Token a, string s)
        {
            if (!ushort.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var p))
                throw Error(a, "bad port", "a port 0-65535, or MIN:MAX");
            return p;
        }

        /// <summary>ebt_parse_icmp: NAME, or TYPE[:TYPE][/CODE[:CODE]] (no code = 0:255).</summary>
        private (EbtRange Type, EbtRange Code) IcmpType(Token a, EbtNames.IcmpName[] table)
        {
            var s = a.Text;
            if (s.Length > 0 && !char.IsAsciiDigit(s[0]))
            {
                int i = EbtNames.FindIcmpName(table, s);
                if (i == -2)
                    throw Error(a, "ambiguous ICMP type name", "a longer name");
                if (i < 0)
                    throw Error(a, "unknown ICMP type", "a name such as echo-request, or TYPE[/CODE]");
                var n = table[i];
                return (new EbtRange(n.Type, n.Type), new EbtRange(n.CodeMin, n.CodeMax));
            }
            int slash = s.IndexOf('/', StringComparison.Ordinal);
            var type = ByteRange(a, slash < 0 ? s : s[..slash]);
            var code = slash < 0 ? new EbtRange(0, 255) : ByteRange(a, s[(slash + 1)..]);
            return (type, code);
        }

        private EbtRange IgmpType(Token a)
        {
            var s = a.Text;
            if (s.Length > 0 && !char.IsAsciiDigit(s[0]))
            {
                int i = EbtNames.FindIcmpName(EbtNames.IgmpTypes, s);
                if (i < 0)
                    throw Error(a, "unknown IGMP type", "membership-query, membership-report-v1, membership-report-v2, leave-group, membership-report-v3 or TYPE[:TYPE]");
                return new EbtRange(EbtNames.IgmpTypes[i].Type, EbtNames.IgmpTypes[i].Type);
            }
            return ByteRange(a, s);
        }

        private EbtRange ByteRange(Token a, string s)
        {
            int colon = s.IndexOf(':', StringComparison.Ordinal);
            var loText = colon < 0 ? s : s[..colon];
            var hiText = colon < 0 ? s : s[(colon + 1)..];
            if (!byte.TryParse(loText, NumberStyles.None, CultureInfo.InvariantCulture, out var lo) ||
                !byte.TryParse(hiText, NumberStyles.None, CultureInfo.InvariantCulture, out var hi) || lo > hi)
                throw Error(a, "bad type/code range", "N or MIN:MAX with 0 <= MIN <= MAX <= 255");
            return new EbtRange(lo, hi);
        }

        private (MacAddr Mac, MacAddr Mask) ParseMacAndMask(Token a, bool allowNames)
        {
            var s = a.Text;
            if (allowNames)
            {
                // ebt_get_mac_and_mask's names (libebtc.c): the kernel sees a MAC and a mask.
                switch (s.ToLowerInvariant())
                {
                    case "unicast": return (new MacAddr(0), new MacAddr(0x0100_0000_0000));
                    case "multicast": return (new MacAddr(0x0100_0000_0000), new MacAddr(0x0100_0000_0000));
                    case "broadcast": return (new MacAddr(0xFFFF_FFFF_FFFF), new MacAddr(0xFFFF_FFFF_FFFF));
                    case "bga": return (new MacAddr(0x0180_C200_0000), new MacAddr(0xFFFF_FFFF_FFFF));
                }
            }
            int slash = s.IndexOf('/', StringComparison.Ordinal);
            var macText = slash < 0 ? s : s[..slash];
            if (!TryEtherAton(macText, out var mac))
                throw Error(a, "bad MAC address", "six hexadecimal bytes separated by ':' (optionally /MASK), or Unicast, Multicast, Broadcast, BGA");
            var mask = new MacAddr(0xFFFF_FFFF_FFFF);
            if (slash >= 0 && !TryEtherAton(s[(slash + 1)..], out mask))
                throw Error(a, "bad MAC mask", "MAC/MASK with MASK six hexadecimal bytes separated by ':'");
            // ebt_get_mac_and_mask stores the address already masked, as the kernel compares it.
            return (new MacAddr(mac.Value & mask.Value), mask);
        }

        private uint StrToUl(Token a, string s, string expected)
        {
            if (TryStrToUl(s, out var v))
                return v;
            throw Error(a, "bad number", expected);
        }
    }

    /// <summary>strtoul(s, &amp;end, 0) accepting the whole string: 0x hexadecimal, leading-0 octal, else decimal.</summary>
    internal static bool TryStrToUl(string s, out uint v)
    {
        v = 0;
        if (s.Length == 0)
            return false;
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return s.Length > 2 && uint.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v);
        if (s.Length > 1 && s[0] == '0')
        {
            ulong acc = 0;
            foreach (var c in s)
            {
                if (c is < '0' or > '7')
                    return false;
                acc = (acc * 8) + (ulong)(c - '0');
                if (acc > uint.MaxValue)
                    return false;
            }
            v = (uint)acc;
            return true;
        }
        return uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
    }

    /// <summary>strtol(s, &amp;end, 16) accepting the whole string, with or without 0x.</summary>
    internal static bool TryHex(string s, out uint v)
    {
        var span = s.AsSpan();
        if (span.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            span = span[2..];
        v = 0;
        return span.Length is > 0 and <= 8 && uint.TryParse(span, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v);
    }

    /// <summary>ether_aton: six groups of one or two hexadecimal digits separated by ':'.</summary>
    internal static bool TryEtherAton(string s, out MacAddr mac)
    {
        mac = default;
        var parts = s.Split(':');
        if (parts.Length != 6)
            return false;
        ulong v = 0;
        foreach (var p in parts)
        {
            if (p.Length is < 1 or > 2 || !byte.TryParse(p, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
                return false;
            v = (v << 8) | b;
        }
        mac = new MacAddr(v);
        return true;
    }
}
