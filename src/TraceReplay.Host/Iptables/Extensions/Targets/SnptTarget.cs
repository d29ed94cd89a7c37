namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j SNPT --src-pfx PREFIX --dst-pfx PREFIX` (extensions/libip6t_SNPT.c; kernel ip6t_NPT.c
/// snpt_tg6): rewrites the source address's prefix, checksum-neutrally, and goes on.
/// </summary>
[XtTarget("SNPT", Family = IptFamily.IPv6)]
public sealed class SnptTarget : Ip6tNptTarget
{
    /// <summary>ip6t_npt_target_reg: SNPT on LOCAL_IN and POST_ROUTING.</summary>
    public override IReadOnlyCollection<string>? Hooks => [XtChains.Input, XtChains.PostRouting];
}
