using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Host.Net;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables;

/// <summary>
/// Reads the rule part of an iptables command line (everything after `-A CHAIN`) the way
/// iptables' do_parse/command_default (iptables/xshared.c) does: core options fill the rule header,
/// `-m` loads a match, `-j`/`-g` sets the target, and every other option goes to the most recently
/// loaded extension that knows it — loading the protocol's match implicitly (`-p tcp --dport 22`)
/// when none does, as load_proto does.
/// </summary>
public static class RuleParser
{
    /// <summary>The result: one spec per rule iptables would create (`-s a,b` makes two).</summary>
    public sealed record Parsed(IReadOnlyList<IptRuleHeader> Headers, IReadOnlyList<XtMatch> Matches, XtTarget Target, XtCounters? Counters);

    private const int IfNameMax = 15; // IFNAMSIZ - 1

    public static Parsed Parse(IReadOnlyList<RuleToken> tokens, int start, SourceLocation line, XtRuleContext rule, Func<string, bool> chainExists)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(chainExists);
        var extensions = new List<XtExtension>(); // load order; the target, once set, is in here too
        var matches = new List<XtMatch>();
        XtTarget? target = null;
        var header = new IptRuleHeader();
        List<IpNetwork> sources = [], destinations = [];
        XtCounters? counters = null;
        bool invert = false;
        int invertColumn = 0;
        bool protocolSet = false;

        int i = start;
        while (i < tokens.Count)
        {
            var tok = tokens[i];
            string text = tok.Text;
            SourceLocation at = line with { Column = tok.Column };
            if (Tokenizer.IsBang(tok))
            {
                if (invert)
                    throw new HostParseException(at, "'!' twice in a row", "!", "an option after '!'");
                invert = true;
                invertColumn = tok.Column;
                i++;
                continue;
            }
            if (tok.Quoted || text.Length < 2 || text[0] != '-')
                throw new HostParseException(at, "a word where an option was expected", text, "an option such as -s, -p, -m or -j");

            string? attached = null;
            string name = text;
            if (text.StartsWith("--", StringComparison.Ordinal))
            {
                int eq = text.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    name = text[..eq];
                    attached = text[(eq + 1)..];
                }
            }
            else if (text.Length > 2)
            {
                // getopt clusters a short option with its argument: -ptcp, -s1.2.3.4, -jACCEPT.
                name = text[..2];
                attached = text[2..];
            }
            string core = CoreOption(name);
            i++;

            string CoreArg(string expected)
            {
                if (attached is not null)
                {
                    var a = attached;
                    attached = null;
                    return a;
                }
                if (i < tokens.Count && Tokenizer.IsBang(tokens[i]) && core is "-s" or "-d" or "-i" or "-o" or "-p")
                {
                    invert = !invert; // `-s ! 1.2.3.4`, the spelling before iptables 1.4.3
                    i++;
                }
                if (i >= tokens.Count)
                    throw new HostParseException(at, $"option {name} requires an argument", name, expected);
                return tokens[i++].Text;
            }

            SourceLocation ArgAt() => line with { Column = tokens[Math.Min(i, tokens.Count) - 1].Column };

            switch (core)
            {
                case "-s":
                case "-d":
                {
                    string arg = CoreArg("an address, ADDR/LEN or ADDR/MASK");
                    var list = new List<IpNetwork>();
                    foreach (var part in arg.Split(','))
                    {
                        if (!IpNetwork.TryParse(part, out var n) || n.IsV6 != (rule.Family == IptFamily.IPv6))
                            throw new HostParseException(ArgAt(), $"{name}: not an {(rule.Family == IptFamily.IPv6 ? "IPv6" : "IPv4")} address or network (host names are not resolved offline)", part, rule.Family == IptFamily.IPv6 ? "ADDR[/LEN]" : "ADDR[/LEN] or ADDR/MASK");
                        list.Add(n);
                        int slash = part.IndexOf('/', StringComparison.Ordinal);
                        if (slash > 0 && IpNetwork.TryParse(part.AsSpan(0, slash), out var host) && host.Address != n.Address)
                            Warn(rule, ArgAt(), $"{name} {part} has host bits set: iptables stores it as {n} (a dump from an older iptables that kept them never matched in the kernel)");
                    }
                    if (core == "-s")
                    {
                        Once(sources.Count > 0, at, name);
                        sources = list;
                        header = header with { InvertSource = invert };
                    }
                    else
                    {
                        Once(destinations.Count > 0, at, name);
                        destinations = list;
                        header = header with { InvertDestination = invert };
                    }
                    break;
                }
                case "-i":
                case "-o":
                {
                    string arg = CoreArg("an interface name (a trailing '+' matches a prefix)");
                    if (arg.Length > IfNameMax)
                        throw new HostParseException(ArgAt(), $"{name}: interface name longer than {IfNameMax} characters", arg, "at most 15 characters (IFNAMSIZ)");
                    if (arg.Length == 0 || arg.Contains(' ', StringComparison.Ordinal) || arg.Contains('/', StringComparison.Ordinal))
                        throw new HostParseException(ArgAt(), $"{name}: not a valid interface name", arg, "an interface name");
                    var m = new InterfaceMatch(arg, invert);
                    if (core == "-i")
                    {
                        Once(header.InInterface.Name.Length > 0, at, name);
                        header = header with { InInterface = m };
                    }
                    else
                    {
                        Once(header.OutInterface.Name.Length > 0, at, name);
                        header = header with { OutInterface = m };
                    }
                    break;
                }
                case "-p":
                {
                    string arg = CoreArg("a protocol name or number");
                    Once(protocolSet, at, name);
                    if (!Protocols.TryParse(arg, out byte proto))
                        throw new HostParseException(ArgAt(), "-p: unknown protocol", arg, "a protocol number 0-255 or a name such as tcp, udp, icmp");
                    if (proto == 0 && invert)
                        throw new HostParseException(at, "-p: rule would never match protocol ('! -p all')", "!", "a protocol other than 0/all after '!'");
                    protocolSet = true;
                    header = header with { Protocol = proto, InvertProtocol = invert };
                    break;
                }
                case "-f":
                    if (rule.Family == IptFamily.IPv6)
                        throw new HostParseException(at, "-f is not an ip6tables option (use -m frag)", name, "-m frag");
                    Once(header.Fragment is not null, at, name);
                    header = header with { Fragment = !invert };
                    break;
                case "-m":
                {
                    NoInvert(invert, invertColumn, line, name);
                    string mod = CoreArg("a match module name");
                    extensions.Add(LoadMatch(mod, at, rule, matches));
                    break;
                }
                case "-j":
                case "-g":
                {
                    NoInvert(invert, invertColumn, line, name);
                    string t = CoreArg(core == "-g" ? "a chain name" : "a target or chain name");
                    if (target is not null)
                        throw new HostParseException(at, "more than one target in a rule", name, "one -j or -g");
                    if (core == "-g")
                    {
                        target = new JumpTarget(t, isGoto: true) { Location = at };
                    }
                    else if (StandardTarget.TryParse(t, out var verdict))
                    {
                        target = new StandardTarget(verdict) { Location = at };
                    }
                    else if (chainExists(t))
                    {
                        target = new JumpTarget(t, isGoto: false) { Location = at };
                    }
                    else if (XtRegistry.CreateTarget(t, rule.Family) is { } ext)
                    {
                        ext.Name = t;
                        ext.Location = at;
                        target = ext;
                    }
                    else
                    {
                        target = new UnknownTarget { Name = t, Location = at };
                        Warn(rule, at, $"target '{t}' is neither a chain of table '{rule.Table}' nor a target this build knows; kept as unknown");
                    }
                    extensions.Add(target);
                    break;
                }
                case "-c":
                {
                    NoInvert(invert, invertColumn, line, name);
                    string a = CoreArg("PACKETS,BYTES or PACKETS BYTES");
                    string[] parts = a.Split(',');
                    string bytes;
                    if (parts.Length == 2)
                    {
                        bytes = parts[1];
                    }
                    else if (parts.Length == 1)
                    {
                        bytes = i < tokens.Count ? tokens[i++].Text : throw new HostParseException(at, "-c needs packet and byte counts", name, "-c PACKETS BYTES");
                    }
                    else
                    {
                        throw new HostParseException(ArgAt(), "-c: bad counters", a, "PACKETS,BYTES");
                    }
                    if (!ulong.TryParse(parts[0], out ulong p) || !ulong.TryParse(bytes, out ulong b))
                        throw new HostParseException(ArgAt(), "-c: counters are not numbers", a, "PACKETS,BYTES (decimal)");
                    counters = new XtCounters(p, b);
                    break;
                }
                case "-4":
                case "-6":
                    // iptables-restore takes -4/-6 and ignores a rule for the other family; we only accept matching ones.
                    if ((core == "-6") != (rule.Family == IptFamily.IPv6))
                        throw new HostParseException(at, $"{name} on a rule of an {(rule.Family == IptFamily.IPv6 ? "ip6tables" : "iptables")} file", name, rule.Family == IptFamily.IPv6 ? "-6" : "-4");
                    break;
                default:
                {
                    if (!name.StartsWith("--", StringComparison.Ordinal))
                        throw new HostParseException(at, "unknown option", name, "a rule option (-s -d -i -o -p -f -m -j -g -c) or a module's --option");
                    // Extensions may look at the header while reading options (NAT port ranges need -p).
                    rule.Header = header;
                    DispatchExtensionOption(tokens, ref i, line, tok, name, attached, invert, rule, extensions, matches, header);
                    break;
                }
            }
            invert = false;
        }
        if (invert)
            throw new HostParseException(line with { Column = invertColumn }, "'!' at the end of the rule", "!", "an option after '!'");

        var headers = new List<IptRuleHeader>();
        var srcs = sources.Count == 0 ? [null] : sources.Select(n => (IpNetwork?)n).ToList();
        var dsts = destinations.Count == 0 ? [null] : destinations.Select(n => (IpNetwork?)n).ToList();
        if ((sources.Count > 1 || destinations.Count > 1) && (header.InvertSource || header.InvertDestination))
            throw new HostParseException(line, "'!' with more than one address", "!", "one address after '! -s' / '! -d'");
        foreach (var s in srcs)
        {
            foreach (var d in dsts)
                headers.Add(header with { Source = s, Destination = d });
        }

        target ??= new StandardTarget(StandardVerdict.None);
        rule.Header = headers[0];
        foreach (var ext in extensions)
            ext.FinalCheck(rule, new XtFinalCheck(ext, rule));
        return new Parsed(headers, matches, target, counters);
    }

    private static string CoreOption(string name) => name switch
    {
        "-s" or "--source" or "--src" => "-s",
        "-d" or "--destination" or "--dst" => "-d",
        "-i" or "--in-interface" => "-i",
        "-o" or "--out-interface" => "-o",
        "-p" or "--protocol" => "-p",
        "-f" or "--fragment" => "-f",
        "-m" or "--match" => "-m",
        "-j" or "--jump" => "-j",
        "-g" or "--goto" => "-g",
        "-c" or "--set-counters" => "-c",
        "-4" or "--ipv4" => "-4",
        "-6" or "--ipv6" => "-6",
        _ => name,
    };

    private static void Once(bool already, SourceLocation at, string name)
    {
        if (already)
            throw new HostParseException(at, $"{name} given twice (iptables: \"multiple {name} flags not allowed\")", name, $"one {name}");
    }

    private static void NoInvert(bool invert, int column, SourceLocation line, string name)
    {
        if (invert)
            throw new HostParseException(line with { Column = column }, $"{name} cannot be inverted", "!", $"{name} without '!'");
    }

    private static void Warn(XtRuleContext rule, SourceLocation at, string message)
    {
        if (rule.Strict)
            throw new HostParseException(at, message + " (--strict)");
        rule.Warnings.Add(new ParseWarning(at, message));
    }

    private static XtMatch LoadMatch(string module, SourceLocation at, XtRuleContext rule, List<XtMatch> matches)
    {
        XtMatch m;
        if (XtRegistry.CreateMatch(module, rule.Family) is { } known)
        {
            m = known;
        }
        else
        {
            m = new UnknownMatch();
            Warn(rule, at, $"match module '{module}' is not known to this build; kept as written and evaluated as unknown");
        }
        m.Name = module;
        m.Location = at;
        matches.Add(m);
        return m;
    }

    /// <summary>
    /// An option goes to the most recently loaded extension that knows it (save output always puts
    /// options right after their module); if none does and `-p` names a protocol with a match of the
    /// same name, that match is loaded implicitly, as iptables' load_proto does.
    /// </summary>
    private static void DispatchExtensionOption(IReadOnlyList<RuleToken> tokens, ref int i, SourceLocation line, RuleToken tok, string name, string? attached,
        bool invert, XtRuleContext rule, List<XtExtension> extensions, List<XtMatch> matches, IptRuleHeader header)
    {
        for (int k = extensions.Count - 1; k >= 0; k--)
        {
            var o = new XtOption(tokens, i, line, name, invert, tok.Column, attached, rule);
            if (extensions[k].Parse(o))
            {
                i = o.Next;
                return;
            }
        }
        if (header.Protocol != 0 && !header.InvertProtocol && ProtocolMatch(header.Protocol, rule.Family) is { } proto
            && !matches.Exists(m => m.Name == proto) && XtRegistry.CreateMatch(proto, rule.Family) is { } implicitMatch)
        {
            var o = new XtOption(tokens, i, line, name, invert, tok.Column, attached, rule);
            if (implicitMatch.Parse(o))
            {
                implicitMatch.Name = proto;
                implicitMatch.Location = line with { Column = tok.Column };
                extensions.Add(implicitMatch);
                matches.Add(implicitMatch);
                i = o.Next;
                return;
            }
        }
        string loaded = extensions.Count == 0 ? "no module is loaded" : "not an option of " + string.Join(", ", extensions.Select(e => (e is XtTarget ? "-j " : "-m ") + e.Name));
        throw new HostParseException(line with { Column = tok.Column }, $"unknown option ({loaded})", name, "an option of a loaded module (add -m MODULE before it)");
    }

    /// <summary>The match load_proto picks for `-p`: named after the protocol (icmp6 for ICMPv6 in ip6tables).</summary>
    private static string? ProtocolMatch(byte protocol, IptFamily family) => protocol switch
    {
        Protocols.Tcp => "tcp",
        Protocols.Udp => "udp",
        Protocols.Sctp => "sctp",
        Protocols.Dccp => "dccp",
        Protocols.Icmp when family == IptFamily.IPv4 => "icmp",
        Protocols.IcmpV6 when family == IptFamily.IPv6 => "icmp6",
        Protocols.Esp => "esp",
        Protocols.Ah => "ah",
        Protocols.Mh when family == IptFamily.IPv6 => "mh",
        _ => null,
    };
}
