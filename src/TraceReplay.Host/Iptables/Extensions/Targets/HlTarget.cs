namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j HL --hl-set N | --hl-inc N | --hl-dec N` (extensions/libip6t_HL.c; kernel xt_HL.c
/// hl_tg6): rewrites the IPv6 hop limit (mangle table only) and goes on.
/// </summary>
[XtTarget("HL", Family = IptFamily.IPv6)]
public sealed class HlTarget() : HopLimitTarget("hl", "hop limit");
