namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m icmp6 --icmpv6-type TYPE[/CODE]|NAME` (extensions/libip6t_icmp6.c; kernel ip6_tables.c
/// icmp6_match). xtables_find_match loads `icmp6` for the names `icmpv6` and `ipv6-icmp` too, and
/// iptables-save prints the real name, so the alias is rewritten in the final check.
/// </summary>
[XtMatch("icmp6", Family = IptFamily.IPv6)]
[XtMatch("icmpv6", Family = IptFamily.IPv6)]
[XtMatch("ipv6-icmp", Family = IptFamily.IPv6)]
public sealed class Icmp6Match : XtMatch
{
    /// <summary>ICMPv6 type (icmp6_init leaves it 0; --icmpv6-type is mandatory).</summary>
    public byte Type { get; private set; }
    public byte CodeMin { get; private set; }
    public byte CodeMax { get; private set; } = 0xFF;
    public bool Invert { get; private set; }

    private XtOptionSet _flags;

    /// <summary>icmpv6_codes[] of libxt_icmp.h, in its order.</summary>
    internal static readonly IcmpName[] Names =
    [
        new("destination-unreachable", 1, 0, 0xFF), new("no-route", 1, 0, 0), new("communication-prohibited", 1, 1, 1),
        new("beyond-scope", 1, 2, 2), new("address-unreachable", 1, 3, 3), new("port-unreachable", 1, 4, 4),
        new("failed-policy", 1, 5, 5), new("reject-route", 1, 6, 6),
        new("packet-too-big", 2, 0, 0xFF),
        new("time-exceeded", 3, 0, 0xFF), new("ttl-exceeded", 3, 0, 0xFF), new("ttl-zero-during-transit", 3, 0, 0),
        new("ttl-zero-during-reassembly", 3, 1, 1),
        new("parameter-problem", 4, 0, 0xFF), new("bad-header", 4, 0, 0), new("unknown-header-type", 4, 1, 1),
        new("unknown-option", 4, 2, 2),
        new("echo-request", 128, 0, 0xFF), new("ping", 128, 0, 0xFF), new("echo-reply", 129, 0, 0xFF), new("pong", 129, 0, 0xFF),
        new("mld-listener-query", 130, 0, 0xFF), new("mld-listener-report", 131, 0, 0xFF), new("mld-listener-done", 132, 0, 0xFF),
        new("mld-listener-reduction", 132, 0, 0xFF), new("router-solicitation", 133, 0, 0xFF), new("router-advertisement", 134, 0, 0xFF),
        new("neighbour-solicitation", 135, 0, 0xFF), new("neighbor-solicitation", 135, 0, 0xFF),
        new("neighbour-advertisement", 136, 0, 0xFF), new("neighbor-advertisement", 136, 0, 0xFF), new("redirect", 137, 0, 0xFF),
    ];

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--icmpv6-type")
            return false;
        _flags.Take(o, 1);
        (Type, CodeMin, CodeMax) = IcmpMatch.ParseIcmpType(o, o.Arg("an ICMPv6 type name, TYPE or TYPE/CODE"), Names, "ICMPv6");
        Invert = o.Invert;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        Name = "icmp6";
        if (_flags.None)
            throw check.Fail("needs --icmpv6-type (iptables: \"option --icmpv6-type must be specified\")", "--icmpv6-type TYPE");
        check.RequireProtocol(Protocols.IcmpV6);
    }

    /// <summary>icmp6_save: always the number, `/CODE` when the codes are not 0-255.</summary>
    public override void Save(SaveWriter w)
    {
        w.Opt("--icmpv6-type", Invert).Raw(" ").Raw(Type.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (CodeMin != 0 || CodeMax != 0xFF)
            w.Raw("/").Raw(CodeMin.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
