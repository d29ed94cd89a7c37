namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m hbh [!] --hbh-len N --hbh-opts TYPE[:LEN],…` (extensions/libip6t_hbh.c; kernel ip6t_hbh.c
/// hbh_mt6 with NEXTHDR_HOP): tests the Hop-by-Hop Options header.
/// </summary>
[XtMatch("hbh", Family = IptFamily.IPv6)]
public sealed class HbhMatch() : Ip6tOptsMatch("hbh");
