namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j DNPT --src-pfx PREFIX --dst-pfx PREFIX` (extensions/libip6t_DNPT.c; kernel ip6t_NPT.c
/// dnpt_tg6): rewrites the destination address's prefix, checksum-neutrally, and goes on.
/// </summary>
[XtTarget("DNPT", Family = IptFamily.IPv6)]
public sealed class DnptTarget : Ip6tNptTarget
{
    /// <summary>ip6t_npt_target_reg: DNPT on PRE_ROUTING and LOCAL_OUT.</summary>
    public override IReadOnlyCollection<string>? Hooks => [XtChains.PreRouting, XtChains.Output];
}
