using TraceReplay.Capture.Decode;
using TraceReplay.Host.Network;

namespace TraceReplay.Netfilter.Routing;

/// <summary>Where the routing decision sends the packet: the dst_entry's input/output function.</summary>
public enum RouteVerdict : byte
{
    /// <summary>Dropped by routing (see <see cref="RouteDropReason"/>): dst.input = ip_error / dst_discard, or an output route error.</summary>
    Drop = 0,
    /// <summary>
    /// dst.input = ip_local_deliver / ip6_input: on to INPUT; also broadcast and multicast. For an output route: the
    /// destination is this host, so the packet leaves by lo and comes back in (POSTROUTING, then PREROUTING and INPUT on lo).
    /// </summary>
    Local = 1,
    /// <summary>dst.input = ip_forward / ip6_forward, and its checks passed: on to FORWARD (TTL already decremented by the kernel).</summary>
    Forward = 2,
    /// <summary>A locally generated packet leaves by <see cref="RouteResult.OutDev"/>: on to POSTROUTING.</summary>
    Output = 3,
}

/// <summary>
/// Why routing dropped a packet. These are not netfilter verdicts; each value names the kernel function
/// that decides it. The ICMP error the kernel answers with, if any, is in the <see cref="RouteResult"/>.
/// </summary>
public enum RouteDropReason : byte
{
    None = 0,
    /// <summary>fib_lookup: no rule led to a route (-ESRCH → -ENETUNREACH); ip_error sends net unreachable.</summary>
    NoRoute,
    /// <summary>fib4_rule_action / fib6_rule_action: an `unreachable` rule (-ENETUNREACH).</summary>
    RuleUnreachable,
    /// <summary>fib4_rule_action: a `prohibit` rule (-EACCES; ICMP "communication administratively prohibited").</summary>
    RuleProhibit,
    /// <summary>fib4_rule_action: a `blackhole` rule (-EINVAL; silently discarded).</summary>
    RuleBlackhole,
    /// <summary>fib_table_lookup: an `unreachable` route (fib_props: -EHOSTUNREACH; ICMP host unreachable).</summary>
    RouteUnreachable,
    /// <summary>fib_table_lookup: a `prohibit` route (-EACCES).</summary>
    RouteProhibit,
    /// <summary>fib_table_lookup: a `blackhole` route (-EINVAL, silent).</summary>
    RouteBlackhole,
    /// <summary>fib_props: a `nat` or `xresolve` route, which the kernel refuses (-EINVAL).</summary>
    RouteTypeInvalid,
    /// <summary>ip_route_input_slow: !IN_DEV_FORWARD(in_dev) (ip_forward=0) for a non-local destination; ip6_forward: forwarding=0. No ICMP.</summary>
    ForwardingDisabled,
    /// <summary>ip_route_input_slow martian_source: multicast, limited-broadcast, 0/8 or (without route_localnet) 127/8 source, or fib_validate_source -EINVAL (a source that is this host's own address).</summary>
    MartianSource,
    /// <summary>ip_route_input_slow martian_destination: 0/8, 127/8 off loopback without route_localnet, or a non-unicast route to forward along.</summary>
    MartianDestination,
    /// <summary>__fib_validate_source -EXDEV: rp_filter strict (the reverse route does not leave by the input device) or loose (no reverse route at all).</summary>
    RpFilter,
    /// <summary>ip_forward / ip6_forward: TTL or hop limit ≤ 1, checked before the FORWARD hook; ICMP time exceeded.</summary>
    TtlExceeded,
    /// <summary>ip_forward / ip6_forward: skb->pkt_type is not PACKET_HOST (the frame was link-layer broadcast/multicast).</summary>
    NotHost,
    /// <summary>ip6_forward: an unspecified, multicast, loopback or link-local source cannot be forwarded (link-local: ICMPv6 beyond scope).</summary>
    ForwardSourceScope,
    /// <summary>ip_route_output_key_hash_rcu / __mkroute_output -EINVAL: the source is multicast/broadcast/0.0.0.0, or 127/8 leaving a non-loopback device.</summary>
    OutputInvalidSource,
    /// <summary>ip_route_output_key_hash_rcu -ENETUNREACH: the source is not an address of this host (and the socket did not ask for FLOWI_FLAG_ANYSRC).</summary>
    OutputSourceNotLocal,
    /// <summary>ip_route_output_key_hash_rcu: the bound device (oif) is unknown or down.</summary>
    OutputDeviceDown,
    /// <summary>ip6_mc_input: a multicast group the device has not joined (ipv6_chk_mcast_addr) is discarded before LOCAL_IN.</summary>
    MulticastNotJoined,
}

/// <summary>What the decision could not know offline; an affected verdict should say so (DESIGN.md: three-valued, never silent).</summary>
[Flags]
public enum RouteNotes : byte
{
    None = 0,
    /// <summary>A `uidrange` rule was skipped for a packet whose socket uid is unknown (treated as not matching).</summary>
    UidUnknown = 1,
    /// <summary>An `l3mdev` rule: VRF devices are not modelled (treated as not matching, exact when the host has no VRF).</summary>
    L3mdevUnsupported = 2,
    /// <summary>A multipath route: the kernel hashes with a per-boot random key, so the chosen path may differ from the host's.</summary>
    MultipathGuess = 4,
    /// <summary>Multicast group membership is not in the snapshot; delivered as if joined.</summary>
    MulticastMembershipUnknown = 8,
    /// <summary>The device is not in the snapshot; its settings are the `default` ones.</summary>
    UnknownDevice = 16,
    /// <summary>An `ipproto` rule names a protocol this program does not know by name; treated as not matching.</summary>
    UnknownRuleProtocol = 32,
}

/// <summary>
/// A routing decision: the kernel's struct fib_result plus what the resulting dst_entry does with the
/// packet. A value type; <see cref="Route"/>, <see cref="NextHop"/> and <see cref="Rule"/> point into
/// the host model.
/// </summary>
public readonly record struct RouteResult
{
    public RouteVerdict Verdict { get; init; }
    public RouteDropReason DropReason { get; init; }
    /// <summary>The RTN_* type the lookup found (local, broadcast, unicast, …); Unspec when there was no route.</summary>
    public RouteType Type { get; init; }
    /// <summary>The FIB entry the decision used; null for no route, a rule action, or checks before the lookup.</summary>
    public Route? Route { get; init; }
    /// <summary>The chosen path of <see cref="Route"/> (fib_select_path).</summary>
    public NextHop? NextHop { get; init; }
    /// <summary>The policy rule whose action ended the rule walk (fib_rules_lookup arg->rule).</summary>
    public FibRule? Rule { get; init; }
    /// <summary>The output device: of a forward or output route; the device holding the address for a local one.</summary>
    public string? OutDev { get; init; }
    /// <summary>The gateway; null when the destination is on link (then the next hop is the destination).</summary>
    public IpAddr? Gateway { get; init; }
    /// <summary>The source address the kernel would give a packet without one on this route (FIB_RES_PREFSRC / fib_select_path).</summary>
    public IpAddr? PrefSrc { get; init; }
    /// <summary>Whether the kernel answers the drop with an ICMP / ICMPv6 error, and which.</summary>
    public bool SendsIcmp { get; init; }
    public byte IcmpType { get; init; }
    public byte IcmpCode { get; init; }
    /// <summary>
    /// A forward back out the input device to a source on that link: ip_forward sends an ICMP redirect (5/1, host)
    /// before forwarding (__mkroute_input's IPSKB_DOREDIRECT). The kernel rate-limits them per peer
    /// (ip_rt_send_redirect: at most ip_rt_redirect_number in a row), which is not modelled.
    /// </summary>
    public bool SendsRedirect { get; init; }
    public RouteNotes Notes { get; init; }

    public bool IsDrop => Verdict == RouteVerdict.Drop;

    public override string ToString() => Verdict switch
    {
        RouteVerdict.Drop => $"drop {DropReason}{(SendsIcmp ? $" icmp {IcmpType}/{IcmpCode}" : "")}",
        _ => $"{Verdict.ToString().ToLowerInvariant()} {Type.ToString().ToLowerInvariant()}{(Gateway is { } g ? $" via {g}" : "")}{(OutDev is { } d ? $" dev {d}" : "")}{(PrefSrc is { } s ? $" src {s}" : "")}",
    } + (Notes != RouteNotes.None ? $" ({Notes})" : "");
}
