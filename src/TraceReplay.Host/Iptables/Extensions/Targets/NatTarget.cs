using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// What DNAT, SNAT, MASQUERADE and REDIRECT share, as they share extensions/libxt_NAT.c: one mapping
/// option (`--to-destination`/`--to-source` `[ADDR[-ADDR]][:PORT[-PORT[/BASE]]]`, or `--to-ports
/// PORT[-PORT]` for the two that take the address from the interface), the flag options
/// `--random`, `--random-fully`, `--persistent` each target allows, __NAT_parse's port check, and
/// __NAT_print. Every NAT target is table nat; its hooks are its own.
/// </summary>
public abstract class NatTarget : XtTarget
{
    private static readonly (string Name, NfNatRangeFlags Flag)[] FlagOptions =
    [
        ("--random", NfNatRangeFlags.ProtoRandom),
        ("--random-fully", NfNatRangeFlags.ProtoRandomFully),
        ("--persistent", NfNatRangeFlags.Persistent),
    ];

    private readonly string _toOption;
    private readonly bool _portsOnly;
    private readonly NfNatRangeFlags _flagOptions;
    private XtOptionSet _seen;
    private SourceLocation _toAt;
    private string _toText = string.Empty;

    /// <param name="toOption">The mapping option: `--to-destination`, `--to-source` or `--to-ports`.</param>
    /// <param name="portsOnly">`--to-ports PORT[-PORT]`, optional (MASQUERADE, REDIRECT); else `ADDR…`, required (DNAT, SNAT).</param>
    /// <param name="flagOptions">Which of `--random`, `--random-fully`, `--persistent` the target has.</param>
    private protected NatTarget(string toOption, bool portsOnly, NfNatRangeFlags flagOptions)
    {
        _toOption = toOption;
        _portsOnly = portsOnly;
        _flagOptions = flagOptions;
    }

    /// <summary>The mapping handed to nf_nat_setup_info (MASQUERADE and REDIRECT: ports and flags only).</summary>
    public NfNatRange2 Range { get; private set; }

    public override bool IsTerminating => true;

    public override IReadOnlyCollection<string>? Tables => XtChains.Nat;

    /// <summary>The syntax of the mapping option's argument, for errors.</summary>
    private protected abstract string ToSyntax { get; }

    /// <summary>This target's reading of the mapping argument into <paramref name="range"/> (which holds the flags given so far).</summary>
    private protected abstract NfNatRange2 ParseTo(XtOption o, string text, NfNatRange2 range);

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name == _toOption)
        {
            _seen.TakeNoInvert(o, 1);
            _toText = o.Arg(ToSyntax);
            _toAt = o.Location with { Column = o.LastColumn };
            Range = ParseTo(o, _toText, Range);
            return true;
        }
        for (int i = 0; i < FlagOptions.Length; i++)
        {
            var (name, flag) = FlagOptions[i];
            if (o.Name != name || (_flagOptions & flag) == 0)
                continue;
            _seen.TakeNoInvert(o, 2u << i);
            Range = Range with { Flags = Range.Flags | flag };
            return true;
        }
        return false;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_portsOnly && !_seen.Has(1))
            throw check.Fail($"option {_toOption} must be specified", $"{_toOption} ADDR[-ADDR][:PORT[-PORT]]");
        RequirePortProtocol(rule, Range, _toAt, _toText);
    }

    public override void Save(SaveWriter w) => SaveRange(w, Range, _toOption, skipColon: _portsOnly);

    /// <summary>__NAT_parse's portok: only these protocols have ports the NAT core can map (ICMP maps its id).</summary>
    private static bool PortOk(byte protocol) =>
        protocol is Protocols.Tcp or Protocols.Udp or Protocols.Sctp or Protocols.Dccp or Protocols.Icmp;

    /// <summary>
    /// __NAT_parse's portok, checked once the rule header is complete (the core hands extensions the
    /// header only at the final check): a port mapping needs a protocol with ports.
    /// </summary>
    private static void RequirePortProtocol(XtRuleContext rule, in NfNatRange2 range, Parsing.SourceLocation at, string token)
    {
        if (range.ProtoSpecified && !PortOk(rule.Header.Protocol))
            throw new Parsing.HostParseException(at, "a port mapping needs -p tcp, udp, sctp or dccp in the rule (iptables: \"Need TCP, UDP, SCTP or DCCP with port specification\")", token, "-p tcp|udp|sctp|dccp in the rule");
    }

    /// <summary>strtoumax with base 0 over a prefix of <paramref name="s"/> (as xtables_strtoui with an end pointer): digits read, value, and where it stopped.</summary>
    private static bool TryStrtoul(string s, int start, uint min, uint max, out uint value, out int end)
    {
        value = 0;
        int i = start < s.Length && s[start] == '+' ? start + 1 : start;
        end = XtValues.ScanUInt32(s, i, out ulong v);
        if (end == i)
        {
            end = start;
            return false;
        }
        if (v < min || v > max)
            return false;
        value = (uint)v;
        return true;
    }

    /// <summary>
    /// libxt_NAT.c parse_ports: `PORT[-PORT[/BASE]]`; a single port may be a service name, the
    /// range ends may not. Ports need a protocol that has them.
    /// </summary>
    private protected static void ParsePorts(XtOption o, string arg, ref NfNatRange2 range, bool allowOffset = true)
    {
        var flags = range.Flags | NfNatRangeFlags.ProtoSpecified;
        int end;
        if (!TryStrtoul(arg, 0, 0, ushort.MaxValue, out uint port, out end))
        {
            if (!Services.TryGetPort(arg, "tcp", out ushort p))
                throw o.Fail($"port '{arg}' not valid", arg, "a port 0-65535 or a service name, or PORT-PORT");
            port = p;
            end = arg.Length;
        }
        if (end == arg.Length)
        {
            range = range with { Flags = flags, MinProto = (ushort)port, MaxProto = (ushort)port };
            return;
        }
        if (arg[end] == ':')
            throw o.Fail("invalid port:port syntax - use dash", arg, "PORT-PORT");
        if (arg[end] != '-')
            throw o.Fail($"garbage after port value: '{arg[end..]}'", arg, "PORT or PORT-PORT");
        if (!TryStrtoul(arg, end + 1, 0, ushort.MaxValue, out uint maxPort, out int end2))
            throw o.Fail($"port '{arg[(end + 1)..]}' not valid (a range takes numbers, not service names)", arg, "PORT-PORT with numbers 0-65535");
        if (maxPort < port)
            throw o.Fail($"port range '{arg}' funky: its end is below its start", arg, "MIN-MAX with MIN <= MAX");
        range = range with { Flags = flags, MinProto = (ushort)port, MaxProto = (ushort)maxPort };
        if (end2 == arg.Length)
            return;
        if (arg[end2] != '/')
            throw o.Fail($"garbage after port range: '{arg[end2..]}'", arg, "MIN-MAX or MIN-MAX/BASE");
        if (!allowOffset)
            throw o.Fail("shifted portmap ranges (/BASE) are not supported by this target (iptables: \"Shifted portmap ranges not supported with this kernel\")", arg, "PORT or MIN-MAX");
        string baseText = arg[(end2 + 1)..];
        if (!TryStrtoul(baseText, 0, 1, ushort.MaxValue, out uint basePort, out _))
        {
            if (!Services.TryGetPort(baseText, "tcp", out ushort b) || b == 0)
                throw o.Fail($"port '{baseText}' not valid", baseText, "a base port 1-65535 or a service name");
            basePort = b;
        }
        range = range with { Flags = range.Flags | NfNatRangeFlags.ProtoOffset, BaseProto = (ushort)basePort };
    }

    /// <summary>
    /// libxt_NAT.c parse_to: `[ADDR[-ADDR]][:PORT[-PORT[/BASE]]]`; ip6tables puts the addresses in
    /// brackets when a port follows (an unbracketed IPv6 text with more than one colon is all address).
    /// </summary>
    private protected static NfNatRange2 ParseAddressesAndPorts(XtOption o, string arg, IptFamily family, bool allowOffset = true)
    {
        var range = default(NfNatRange2);
        int lb = arg.IndexOf('[', StringComparison.Ordinal);
        int start, addrEnd, colon;
        if (lb < 0)
        {
            start = 0;
            colon = arg.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0 && arg.IndexOf(':', colon + 1) >= 0)
                colon = -1;
            addrEnd = colon < 0 ? arg.Length : colon;
        }
        else
        {
            start = lb + 1;
            int rb = arg.IndexOf(']', start);
            if (rb < 0 || family == IptFamily.IPv4)
                throw o.Fail("invalid address format" + (family == IptFamily.IPv4 ? " (brackets are for IPv6 addresses)" : ": '[' without ']'"), arg, family == IptFamily.IPv4 ? "ADDR[-ADDR][:PORT[-PORT]]" : "[ADDR[-ADDR]]:PORT[-PORT]");
            addrEnd = rb;
            colon = arg.IndexOf(':', rb + 1);
        }
        if (colon >= 0)
        {
            ParsePorts(o, arg[(colon + 1)..], ref range, allowOffset);
            // parse_to: "Starts with colon or [] colon? No IP info..."
            if (colon == 0 || colon == 2)
                return range;
        }
        string addresses = arg[start..addrEnd];
        int dash = addresses.IndexOf('-', StringComparison.Ordinal);
        string minText = dash < 0 ? addresses : addresses[..dash];
        var min = ParseAddress(o, minText, family);
        var max = dash < 0 ? min : ParseAddress(o, addresses[(dash + 1)..], family);
        return range with { Flags = range.Flags | NfNatRangeFlags.MapIps, MinAddr = min, MaxAddr = max };
    }

    /// <summary>inet_pton for the rule's family: dotted quad for IPv4, plain IPv6 text (no scope, no brackets) for IPv6.</summary>
    private static IpAddr ParseAddress(XtOption o, string text, IptFamily family)
    {
        bool ok;
        IPAddress? ip = null;
        if (family == IptFamily.IPv4)
        {
            ok = text.Count(c => c == '.') == 3 && text.All(c => char.IsAsciiDigit(c) || c == '.') && IPAddress.TryParse(text, out ip);
        }
        else
        {
            ok = text.Contains(':', StringComparison.Ordinal) && !text.Contains('%', StringComparison.Ordinal) && !text.Contains('[', StringComparison.Ordinal)
                && IPAddress.TryParse(text, out ip) && ip.AddressFamily == AddressFamily.InterNetworkV6;
        }
        if (!ok || ip is null)
            throw o.Fail($"bad IP address \"{text}\"", text, family == IptFamily.IPv4 ? "an IPv4 address (host names are not resolved)" : "an IPv6 address");
        return IpAddr.FromIPAddress(ip);
    }

    /// <summary>inet_ntop of the family: an ip6tables address that happens to be IPv4-mapped still prints as IPv6.</summary>
    private static string FormatAddress(IpAddr a, IptFamily family)
    {
        if (family == IptFamily.IPv6 && a.IsV4)
            return "::ffff:" + a.ToString();
        return a.ToString();
    }

    /// <summary>libxt_NAT.c sprint_range: `[MIN-MAX]:PORT-PORT/BASE`, brackets only for IPv6 with ports.</summary>
    private static string RangeText(in NfNatRange2 r, IptFamily family)
    {
        var sb = new StringBuilder();
        bool brackets = family == IptFamily.IPv6 && r.ProtoSpecified;
        if (r.MapsIps)
        {
            if (brackets)
                sb.Append('[');
            sb.Append(FormatAddress(r.MinAddr, family));
            if (r.MinAddr != r.MaxAddr)
                sb.Append('-').Append(FormatAddress(r.MaxAddr, family));
            if (brackets)
                sb.Append(']');
        }
        if (r.ProtoSpecified)
        {
            sb.Append(':').Append(r.MinProto.ToString(CultureInfo.InvariantCulture));
            if (r.MaxProto != r.MinProto)
                sb.Append('-').Append(r.MaxProto.ToString(CultureInfo.InvariantCulture));
            if (r.Has(NfNatRangeFlags.ProtoOffset))
                sb.Append('/').Append(r.BaseProto.ToString(CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>libxt_NAT.c __NAT_print in save form.</summary>
    private static void SaveRange(SaveWriter w, in NfNatRange2 r, string rangeOption, bool skipColon)
    {
        string text = RangeText(r, w.Family);
        if (text.Length > 0)
        {
            if (skipColon && text[0] == ':')
                text = text[1..];
            w.Opt(rangeOption, text);
        }
        if (r.Has(NfNatRangeFlags.ProtoRandom))
            w.Opt("--random");
        if (r.Has(NfNatRangeFlags.ProtoRandomFully))
            w.Opt("--random-fully");
        if (r.Has(NfNatRangeFlags.Persistent))
            w.Opt("--persistent");
    }
}
