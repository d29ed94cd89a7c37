namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m eui64` (extensions/libip6t_eui64.c, no options; kernel ip6t_eui64.c eui64_mt6): the source
/// address's interface identifier must be the modified EUI-64 of the frame's source MAC. The kernel
/// registers it only for PRE_ROUTING, LOCAL_IN and FORWARD, where a MAC header is there to read.
/// </summary>
[XtMatch("eui64", Family = IptFamily.IPv6)]
public sealed class Eui64Match : XtMatch
{
    private static readonly string[] AllowedHooks = ["PREROUTING", "INPUT", "FORWARD"];

    public override IReadOnlyCollection<string>? Hooks => AllowedHooks;

    protected internal override bool Parse(XtOption o) => false;

    public override void Save(SaveWriter w)
    {
    }
}
