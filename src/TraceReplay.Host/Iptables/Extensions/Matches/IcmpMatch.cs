namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m icmp --icmp-type TYPE[/CODE[:CODE]]|NAME|any` (extensions/libipt_icmp.c with the parser of
/// libxt_icmp.h's __ipt_parse_icmp; kernel ip_tables.c icmp_match). The type 0xFF with codes 0-255
/// is `any`, the init value that makes a bare match accept every ICMP packet.
/// </summary>
[XtMatch("icmp", Family = IptFamily.IPv4)]
public sealed class IcmpMatch : XtMatch
{
    /// <summary>ICMP type; 0xFF means any type.</summary>
    public byte Type { get; private set; } = 0xFF;

    /// <summary>Inclusive code range (code[0], code[1] of struct ipt_icmp).</summary>
    public byte CodeMin { get; private set; }
    public byte CodeMax { get; private set; } = 0xFF;
    public bool Invert { get; private set; }

    private XtOptionSet _flags;

    /// <summary>icmp_codes[] of libxt_icmp.h, in its order (the first prefix match wins and ambiguity is an error).</summary>
    internal static readonly IcmpName[] Names =
    [
        new("any", 0xFF, 0, 0xFF), new("echo-reply", 0, 0, 0xFF), new("pong", 0, 0, 0xFF),
        new("destination-unreachable", 3, 0, 0xFF), new("network-unreachable", 3, 0, 0), new("host-unreachable", 3, 1, 1),
        new("protocol-unreachable", 3, 2, 2), new("port-unreachable", 3, 3, 3), new("fragmentation-needed", 3, 4, 4),
        new("source-route-failed", 3, 5, 5), new("network-unknown", 3, 6, 6), new("host-unknown", 3, 7, 7),
        new("network-prohibited", 3, 9, 9), new("host-prohibited", 3, 10, 10), new("TOS-network-unreachable", 3, 11, 11),
        new("TOS-host-unreachable", 3, 12, 12), new("communication-prohibited", 3, 13, 13),
        new("host-precedence-violation", 3, 14, 14), new("precedence-cutoff", 3, 15, 15),
        new("source-quench", 4, 0, 0xFF),
        new("redirect", 5, 0, 0xFF), new("network-redirect", 5, 0, 0), new("host-redirect", 5, 1, 1),
        new("TOS-network-redirect", 5, 2, 2), new("TOS-host-redirect", 5, 3, 3),
        new("echo-request", 8, 0, 0xFF), new("ping", 8, 0, 0xFF),
        new("router-advertisement", 9, 0, 0xFF), new("router-solicitation", 10, 0, 0xFF),
        new("time-exceeded", 11, 0, 0xFF), new("ttl-exceeded", 11, 0, 0xFF), new("ttl-zero-during-transit", 11, 0, 0),
        new("ttl-zero-during-reassembly", 11, 1, 1),
        new("parameter-problem", 12, 0, 0xFF), new("ip-header-bad", 12, 0, 0), new("required-option-missing", 12, 1, 1),
        new("timestamp-request", 13, 0, 0xFF), new("timestamp-reply", 14, 0, 0xFF),
        new("address-mask-request", 17, 0, 0xFF), new("address-mask-reply", 18, 0, 0xFF),
    ];

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--icmp-type")
            return false;
        _flags.Take(o, 1);
        (Type, CodeMin, CodeMax) = ParseIcmpType(o, o.Arg("an ICMP type name, TYPE or TYPE/CODE"), Names, "ICMP");
        Invert = o.Invert;
        return true;
    }

    /// <summary>
    /// __ipt_parse_icmp: a name (any unambiguous case-insensitive prefix of the table), or
    /// `TYPE[/CODE[:CODE]]` with numbers 0-255 in strtoul base-0 form; a type range is refused.
    /// </summary>
    internal static (byte Type, byte CodeMin, byte CodeMax) ParseIcmpType(XtOption o, string text, IcmpName[] names, string what)
    {
        int match = -1;
        for (int i = 0; i < names.Length; i++)
        {
            if (!names[i].Name.StartsWith(text, StringComparison.OrdinalIgnoreCase))
                continue;
            if (match >= 0)
                throw o.Fail($"ambiguous {what} type: '{names[match].Name}' or '{names[i].Name}'", text, $"a longer prefix of an {what} type name");
            match = i;
        }
        if (match >= 0 && text.Length > 0)
            return (names[match].Type, names[match].CodeMin, names[match].CodeMax);

        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string typePart = slash < 0 ? text : text[..slash];
        var types = ParseRange(o, typePart, text, what + " type");
        if (types.Min != types.Max)
            throw o.Fail($"{what} type range not supported", text, $"one {what} type");
        if (slash < 0)
            return ((byte)types.Min, 0, 0xFF);
        var codes = ParseRange(o, text[(slash + 1)..], text, what + " code");
        return ((byte)types.Min, (byte)codes.Min, (byte)codes.Max);
    }

    /// <summary>parse_range of libxt_icmp.h: `N` or `N:M`, each 0-255 (no check that N &lt;= M, as upstream).</summary>
    private static XtRange ParseRange(XtOption o, string part, string whole, string what)
    {
        int colon = part.IndexOf(':', StringComparison.Ordinal);
        string lo = colon < 0 ? part : part[..colon];
        if (!XtValues.TryParseUInt(lo, out ulong a) || a > 255)
            throw o.Fail($"unknown {what}", whole, "a name, TYPE, TYPE/CODE or TYPE/CODE:CODE with numbers 0-255");
        if (colon < 0)
            return new XtRange((uint)a, (uint)a);
        if (!XtValues.TryParseUInt(part[(colon + 1)..], out ulong b) || b > 255)
            throw o.Fail($"unknown {what}", whole, "a name, TYPE, TYPE/CODE or TYPE/CODE:CODE with numbers 0-255");
        return new XtRange((uint)a, (uint)b);
    }

    /// <summary>XTOPT_MAND on --icmp-type; the kernel's icmp_mt_reg has .proto = IPPROTO_ICMP.</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_flags.None)
            throw check.Fail("needs --icmp-type (iptables: \"option --icmp-type must be specified\")", "--icmp-type TYPE");
        check.RequireProtocol(Protocols.Icmp);
    }

    /// <summary>icmp_save: `any` only for type 0xFF with all codes; else the number, `/CODE` (the low code) when the codes are not 0-255.</summary>
    public override void Save(SaveWriter w)
    {
        w.Not(Invert);
        if (Type == 0xFF && CodeMin == 0 && CodeMax == 0xFF)
        {
            w.Raw(" --icmp-type any");
            return;
        }
        w.Raw(" --icmp-type ").Raw(Type.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (CodeMin != 0 || CodeMax != 0xFF)
            w.Raw("/").Raw(CodeMin.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}

/// <summary>One entry of struct xt_icmp_names.</summary>
internal readonly record struct IcmpName(string Name, byte Type, byte CodeMin, byte CodeMax);
