namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j TTL --ttl-set N | --ttl-inc N | --ttl-dec N` (extensions/libipt_TTL.c; kernel xt_HL.c
/// ttl_tg): rewrites the IPv4 TTL (mangle table only) and goes on. A decrement stops at 0; the
/// packet is not dropped.
/// </summary>
[XtTarget("TTL", Family = IptFamily.IPv4)]
public sealed class TtlTarget() : HopLimitTarget("ttl", "TTL");
