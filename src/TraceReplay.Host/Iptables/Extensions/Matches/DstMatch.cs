namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m dst [!] --dst-len N --dst-opts TYPE[:LEN],…` (extensions/libip6t_dst.c; kernel ip6t_hbh.c
/// hbh_mt6 registered a second time with NEXTHDR_DEST): tests the Destination Options header.
/// </summary>
[XtMatch("dst", Family = IptFamily.IPv6)]
public sealed class DstMatch() : Ip6tOptsMatch("dst");
