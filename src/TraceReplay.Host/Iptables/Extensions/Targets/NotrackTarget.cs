namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j NOTRACK` (extensions/libxt_CT.c registers it as an alias of CT revision 2 with
/// XT_CT_NOTRACK | XT_CT_NOTRACK_ALIAS; kernel xt_CT.c notrack_tg): the packet is not tracked.
/// No options; table raw.
/// </summary>
[XtTarget("NOTRACK")]
public sealed class NotrackTarget : XtTarget
{
    /// <summary>What the kernel sees: CT with these flags.</summary>
    public static XtCtFlags Flags => XtCtFlags.Notrack | XtCtFlags.NotrackAlias;

    public override bool IsTerminating => false;

    public override IReadOnlyCollection<string>? Tables => XtChains.Raw;

    protected internal override bool Parse(XtOption o) => false;

    public override void Save(SaveWriter w)
    {
    }
}
