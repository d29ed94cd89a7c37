namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>Route types an address may have (1 &lt;&lt; RTN_* of linux/rtnetlink.h, as XT_ADDRTYPE_* in xt_addrtype.h).</summary>
[Flags]
public enum AddrType : ushort
{
    None = 0,
    Unspec = 1 << 0,
    Unicast = 1 << 1,
    Local = 1 << 2,
    Broadcast = 1 << 3,
    Anycast = 1 << 4,
    Multicast = 1 << 5,
    Blackhole = 1 << 6,
    Unreachable = 1 << 7,
    Prohibit = 1 << 8,
    Throw = 1 << 9,
    Nat = 1 << 10,
    XResolve = 1 << 11,
}

/// <summary>
/// `-m addrtype [!] --src-type T[,T…] [!] --dst-type T[,T…] [--limit-iface-in|--limit-iface-out]`
/// (extensions/libxt_addrtype.c revision 1, whose save matches libipt revision 0 for rules without
/// the iface limits; kernel xt_addrtype.c addrtype_mt_v1). The answer depends on the host's routing
/// tables (inet_addr_type_dev_table / ip6_route_output).
/// </summary>
[XtMatch("addrtype")]
public sealed class AddrtypeMatch : XtMatch
{
    private const uint FSrc = 1, FDst = 2, FIn = 4, FOut = 8;
    private static readonly string[] InHooks = ["PREROUTING", "INPUT", "FORWARD"];
    private static readonly string[] OutHooks = ["FORWARD", "OUTPUT", "POSTROUTING"];
    private XtOptionSet _flags;

    public AddrType Source { get; private set; }
    public bool InvertSource { get; private set; }
    public AddrType Destination { get; private set; }
    public bool InvertDestination { get; private set; }

    /// <summary>XT_ADDRTYPE_LIMIT_IFACE_IN: look the address up only on the incoming device.</summary>
    public bool LimitIfaceIn { get; private set; }
    public bool LimitIfaceOut { get; private set; }

    /// <summary>rtn_names[] indexed by RTN_*.</summary>
    private static readonly string[] TypeNames =
        ["UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE"];

    /// <summary>addrtype_mt_checkentry_v1: the input-device limit has no device in OUTPUT/POSTROUTING, the output one none in PREROUTING/INPUT.</summary>
    public override IReadOnlyCollection<string>? Hooks => LimitIfaceIn ? InHooks : LimitIfaceOut ? OutHooks : null;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--src-type":
                _flags.Take(o, FSrc);
                Source = ParseTypes(o, o.Arg("address types such as LOCAL or UNICAST,MULTICAST"));
                InvertSource = o.Invert;
                return true;
            case "--dst-type":
                _flags.Take(o, FDst);
                Destination = ParseTypes(o, o.Arg("address types such as LOCAL or UNICAST,MULTICAST"));
                InvertDestination = o.Invert;
                return true;
            case "--limit-iface-in":
                o.NoInvert();
                _flags.Take(o, FIn, excl: FOut);
                LimitIfaceIn = true;
                return true;
            case "--limit-iface-out":
                o.NoInvert();
                _flags.Take(o, FOut, excl: FIn);
                LimitIfaceOut = true;
                return true;
            default:
                return false;
        }
    }

    /// <summary>parse_types: comma-separated; each word matches the first name it is a case-insensitive prefix of (so `U` is UNSPEC).</summary>
    private static AddrType ParseTypes(XtOption o, string text)
    {
        AddrType mask = AddrType.None;
        foreach (var part in text.Split(','))
        {
            int i = part.Length == 0 ? -1 : Array.FindIndex(TypeNames, n => n.StartsWith(part, StringComparison.OrdinalIgnoreCase));
            if (i < 0)
                throw o.Fail("bad address type", part, "one or more of " + string.Join(", ", TypeNames) + " separated by commas");
            mask |= (AddrType)(1 << i);
        }
        return mask;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_flags.Has(FSrc | FDst))
            throw check.Fail("needs --src-type or --dst-type (iptables: \"addrtype: you must specify --src-type or --dst-type\")", "--src-type TYPE or --dst-type TYPE");
        if (rule.Family == IptFamily.IPv6)
        {
            // addrtype_mt_checkentry_v1: IPv6 has no such route types.
            var both = Source | Destination;
            if ((both & AddrType.Blackhole) != 0)
                throw check.Fail("ipv6 BLACKHOLE matching not supported (the kernel refuses the rule)", "an IPv6 address type");
            if ((ushort)both >= (ushort)AddrType.Prohibit)
                throw check.Fail("ipv6 PROHIBIT (THROW, NAT ..) matching not supported (the kernel refuses the rule)", "an IPv6 address type");
            if ((both & AddrType.Broadcast) != 0)
                throw check.Fail("ipv6 does not support BROADCAST matching (the kernel refuses the rule)", "an IPv6 address type");
        }
    }

    /// <summary>addrtype_save_v1: a type list is printed when non-empty, names in RTN_* order.</summary>
    public override void Save(SaveWriter w)
    {
        if (Source != AddrType.None)
            w.Opt("--src-type", Names(Source), InvertSource);
        if (Destination != AddrType.None)
            w.Opt("--dst-type", Names(Destination), InvertDestination);
        if (LimitIfaceIn)
            w.Opt("--limit-iface-in");
        if (LimitIfaceOut)
            w.Opt("--limit-iface-out");
    }

    private static string Names(AddrType mask) =>
        string.Join(',', Enumerable.Range(0, TypeNames.Length).Where(i => ((ushort)mask & (1 << i)) != 0).Select(i => TypeNames[i]));
}
