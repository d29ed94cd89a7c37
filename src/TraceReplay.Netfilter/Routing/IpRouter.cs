using TraceReplay.Capture.Decode;
using TraceReplay.Host.Network;

namespace TraceReplay.Netfilter.Routing;

/// <summary>
/// The simulated kernel's routing decision over a host snapshot. The hook graph calls
/// <see cref="RouteInput"/> between PREROUTING and INPUT/FORWARD (ip_rcv_finish → ip_route_input_noref,
/// then ip_forward's checks that run before the FORWARD hook), <see cref="RouteOutput"/> for a locally
/// generated packet (ip_route_output_key) and <see cref="RouteMeHarder"/> when mangle or nat OUTPUT changed
/// the mark or an address (ip_route_me_harder). IPv6 takes the same calls (ip6_route_input,
/// ip6_route_output_flags, ip6_route_me_harder). Everything the snapshot fixes — devices, their conf,
/// rule tables, goto targets — is resolved here once, so a decision allocates nothing.
/// </summary>
public sealed class IpRouter
{
    private const string Loopback = "lo";

    private readonly NetworkConfig _config;
    private readonly Dictionary<string, RouteDevice> _devices = new(StringComparer.Ordinal);
    private readonly RouteDevice _unknownDevice;
    private readonly FibRules _rules4;
    private readonly FibRules _rules6;
    private readonly FibTable _local;
    private readonly HashSet<uint> _localV4 = [];
    private readonly HashSet<Route> _dead = new(ReferenceEqualityComparer.Instance);
    private readonly RouteDevice[] _byIfIndex;
    private readonly bool _customLocalRoutes;
    private readonly bool _customRules;
    private readonly bool _v6Forwarding;
    /// <summary>Per device, the low 24 bits of each IPv6 address: the solicited-node groups it has joined.</summary>
    private readonly HashSet<(string Dev, ulong Low24)> _solicited = [];
    /// <summary>Per table, its routes through one device (plus the device-less error routes): lookups restricted to an interface stay one probe per prefix length.</summary>
    private readonly Dictionary<FibTable, Dictionary<string, FibTable>> _byDev = [];
    private readonly Dictionary<FibTable, FibTable> _errorsOnly = [];
    private readonly RouteInputCache _inputCache = new();

    public IpRouter(NetworkConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        _config = config;
        foreach (var d in config.Devices)
            _devices.TryAdd(d.Name, RouteDevice.From(d, d.Name, config.Sysctls));
        _unknownDevice = RouteDevice.From(null, "(unknown)", config.Sysctls);
        // inet_select_addr's fallback walks devices in ifindex order, lo first.
        _byIfIndex = [.. config.Devices.Select(d => _devices[d.Name]).Distinct()];
        foreach (var d in config.Devices)
        {
            foreach (var a in d.Addresses)
            {
                if (!a.IsV6)
                    _localV4.Add(a.Local.V4);
                else
                    _solicited.Add((d.Name, a.Local.Lo & 0xFF_FFFF));
            }
        }
        _v6Forwarding = config.Sysctls.Ipv6Forwarding;
        // addrconf_join_anycast: a forwarding host also joins each prefix's subnet-router anycast address
        // (the prefix with the host bits zero, __ipv6_dev_ac_inc), and with it that address's solicited-node group.
        if (_v6Forwarding)
        {
            foreach (var d in config.Devices)
            {
                foreach (var a in d.Addresses.Where(a => a.IsV6 && a.PrefixLength is > 104 and < 127))
                    _solicited.Add((d.Name, a.Local.Lo & 0xFF_FFFF & ~((1UL << (128 - a.PrefixLength)) - 1)));
                if (d.Addresses.Any(a => a.IsV6 && a.PrefixLength <= 104))
                    _solicited.Add((d.Name, 0));
            }
        }
        foreach (var r in config.Routes)
        {
            // Routes the kernel marks dead (device down) are skipped by fib_table_lookup.
            if (r.Flags.Contains("dead") || (r.NextHops.Count > 0 && r.NextHops.All(n => n.Flags.Contains("dead"))))
                _dead.Add(r);
        }
        Func<string, uint?> groupOf = name => _devices.TryGetValue(name, out var d) ? d.Group : null;
        var v4 = config.RulesFor(v6: false).ToList();
        _rules4 = new FibRules(v4.Count > 0 ? v4 : DefaultRules(v6: false), config.Fib, groupOf);
        // `ip -j rule` shows IPv4 rules only; a snapshot without IPv6 rules gets the kernel's IPv6 defaults.
        var v6 = config.RulesFor(v6: true).ToList();
        _rules6 = new FibRules(v6.Count > 0 ? v6 : DefaultRules(v6: true), config.Fib, groupOf);
        _local = config.Fib.Table("local");
        // fib_has_custom_local_routes: a local route added by hand (inet_rtm_newroute), not by an address.
        _customLocalRoutes = config.Routes.Any(r => !r.IsV6 && r.Type == RouteType.Local && r.Protocol is not null and not "kernel");
        // fib4_has_custom_rules: any rule beyond the three fib4_rules_init creates.
        _customRules = v4.Count > 0 && !(v4.Count == 3 && v4[0] is { Priority: 0, Table: "local" } && v4[1] is { Priority: 32766, Table: "main" }
            && v4[2] is { Priority: 32767, Table: "default" } && v4.All(r => r is { Src: null, Dst: null, FwMark: null, Iif: null, Oif: null, Not: false, Tos: null }));
        _v6Forwarding = config.Sysctls.Ipv6Forwarding;
        foreach (var t in config.Fib.Tables.Values)
        {
            var perDev = new Dictionary<string, FibTable>(StringComparer.Ordinal);
            foreach (var dev in t.Routes.SelectMany(r => r.NextHops).Select(n => n.Dev).OfType<string>().Distinct())
                perDev[dev] = new FibTable(t.Name, t.Routes.Where(r => IsErrorType(r.Type) || r.NextHops.Any(n => n.Dev == dev)));
            _byDev[t] = perDev;
            _errorsOnly[t] = new FibTable(t.Name, t.Routes.Where(r => IsErrorType(r.Type)));
        }
    }

    /// <summary>Route types whose lookup ends in their error before any next hop is looked at (fib_props[type].error).</summary>
    private static bool IsErrorType(RouteType t) => t is RouteType.Blackhole or RouteType.Unreachable or RouteType.Prohibit or RouteType.Throw;

    public NetworkConfig Config => _config;

    /// <summary>fib4_rules_init / fib6_rules_net_init: local 0, main 32766 (IPv4 also default 32767).</summary>
    public static IReadOnlyList<FibRule> DefaultRules(bool v6) => v6
        ? [new FibRule { Priority = 0, IsV6 = true, Table = "local" }, new FibRule { Priority = 32766, IsV6 = true, Table = "main" }]
        : [new FibRule { Priority = 0, Table = "local" }, new FibRule { Priority = 32766, Table = "main" }, new FibRule { Priority = 32767, Table = "default" }];

    /// <summary>The input route of a packet that passed PREROUTING: ip_route_input_noref / ip6_route_input, then ip_forward's pre-hook checks.</summary>
    public RouteResult RouteInput(in RouteKey key)
    {
        // Per flow the decision is the same every time (static routes, rules and sysctls): look it up once.
        if (_inputCache.TryGet(key, out var cached))
            return cached;
        var result = key.IsV6 ? RouteInputV6(key) : RouteInputV4(key);
        _inputCache.Add(key, result);
        return result;
    }

    /// <summary>The route of a locally generated packet before OUTPUT: ip_route_output_key / ip6_route_output. The source must be this host's.</summary>
    public RouteResult RouteOutput(in RouteKey key) => key.IsV6 ? RouteOutputV6(key) : RouteOutputV4(key, anySrc: false);

    /// <summary>
    /// ip_route_me_harder / ip6_route_me_harder: the re-route after mangle OUTPUT changed the mark, TOS or an
    /// address, or nat OUTPUT changed the destination. A source that is not local is allowed (FLOWI_FLAG_ANYSRC).
    /// </summary>
    public RouteResult RouteMeHarder(in RouteKey key) => key.IsV6 ? RouteOutputV6(key) : RouteOutputV4(key, anySrc: true);

    /// <summary>
    /// inet_select_addr: the IPv4 source the kernel picks on <paramref name="dev"/> toward <paramref name="dst"/>
    /// (MASQUERADE calls it with the next hop and RT_SCOPE_UNIVERSE); null when the host has none.
    /// </summary>
    public IpAddr? SelectSourceAddress(string dev, IpAddr dst, RtScope scope = RtScope.Universe)
    {
        ArgumentNullException.ThrowIfNull(dev);
        uint a = InetSelectAddr(Dev(dev), dst.IsV4 ? dst.V4 : 0, scope);
        return a == 0 ? null : IpAddr.FromV4(a);
    }

    private RouteDevice Dev(string? name) => name is not null && _devices.TryGetValue(name, out var d) ? d : _unknownDevice;

    private RouteDevice Dev(string? name, ref RouteNotes notes)
    {
        var d = Dev(name);
        if (!d.Known)
            notes |= RouteNotes.UnknownDevice;
        return d;
    }

    private uint InetSelectAddr(RouteDevice dev, uint dst, RtScope scope)
    {
        uint a = dev.SelectAddr(dst, scope);
        if (a != 0)
            return a;
        foreach (var d in _byIfIndex)
        {
            a = d.SelectAnyAddr(scope);
            if (a != 0)
                return a;
        }
        return 0;
    }

    // ---- FIB table lookup ------------------------------------------------------------------------

    /// <summary>
    /// fib_table_lookup / fib6_table_lookup: the longest prefix, lowest metric route usable for the flow;
    /// its type's error (fib_props) ends the lookup, a `throw` with -EAGAIN. The model's hash-per-length
    /// table answers the common case, a device-restricted flow probes that device's share of the table; a route
    /// with a TOS or a dead route walks the table's matches (allocating an iterator), which the kernel's
    /// backtracking visits in the same order.
    /// </summary>
    internal FibErr TableLookup(FibTable table, ref FibFlow flow, out Route? route)
    {
        route = null;
        if (flow.Dst.IsV4 == flow.V6)
            return FibErr.Again; // an IPv6 flow to ::ffff:a.b.c.d: the model holds IPv4 routes there, the kernel's IPv6 FIB has none
        if (flow.NhDev is { } nhDev && _byDev.TryGetValue(table, out var perDev))
            table = perDev.TryGetValue(nhDev, out var onDev) ? onDev : _errorsOnly[table];
        var r = table.Lookup(flow.Dst);
        if (r is null)
            return FibErr.Again;
        if (!Usable(r, ref flow))
        {
            r = null;
            foreach (var m in table.Matches(flow.Dst))
            {
                if (Usable(m, ref flow))
                {
                    r = m;
                    break;
                }
            }
            if (r is null)
                return FibErr.Again;
        }
        route = r;
        return r.Type switch
        {
            RouteType.Blackhole => FibErr.Inval,
            RouteType.Unreachable => FibErr.HostUnreach,
            RouteType.Prohibit => FibErr.Access,
            RouteType.Throw => FibErr.Again,
            RouteType.Nat or RouteType.XResolve => FibErr.Inval,
            _ => FibErr.Ok,
        };
    }

    private bool Usable(Route r, ref FibFlow flow)
    {
        if (r.Tos != 0 && r.Tos != (flow.Tos & 0x1C))
            return false;
        if (_dead.Count > 0 && _dead.Contains(r))
            return false;
        if (flow.NhDev is { } dev && !IsErrorType(r.Type))
        {
            var hops = r.NextHops;
            for (int i = 0; i < hops.Count; i++)
            {
                if (string.Equals(hops[i].Dev, dev, StringComparison.Ordinal))
                    return true;
            }
            return false;
        }
        return true;
    }

    private FibErr FibLookup(ref FibFlow flow, out FibRes res, ref RouteNotes notes) =>
        (flow.V6 ? _rules6 : _rules4).Lookup(ref flow, out res, ref notes, this);

    // ---- multipath ---------------------------------------------------------------------------------

    /// <summary>
    /// fib_select_multipath / fib6_select_path: each live path owns a share of the 31-bit hash space by weight
    /// (fib_rebalance's upper bounds) and the flow's hash picks one. The kernel's fib_multipath_hash (policy 0:
    /// source and destination address) is keyed with a per-boot random seed, so no offline program can
    /// reproduce its pick; this uses a fixed hash of the same two fields, so one flow always takes one path.
    /// </summary>
    internal static int SelectPath(Route r, IpAddr src, IpAddr dst, ref RouteNotes notes)
    {
        var hops = r.NextHops;
        if (hops.Count <= 1)
            return 0;
        notes |= RouteNotes.MultipathGuess;
        ulong total = 0;
        for (int i = 0; i < hops.Count; i++)
            total += (ulong)Math.Max(1, hops[i].Weight);
        uint hash = MultipathHash(src, dst);
        ulong w = 0;
        for (int i = 0; i < hops.Count; i++)
        {
            w += (ulong)Math.Max(1, hops[i].Weight);
            long upper = (long)(((w << 31) + total / 2) / total) - 1; // DIV_ROUND_CLOSEST_ULL(w << 31, total) - 1
            if (hash <= upper)
                return i;
        }
        return hops.Count - 1;
    }

    /// <summary>A fixed 31-bit mix of the L3 addresses (splitmix64 finaliser), the stand-in for fib_multipath_hash policy 0.</summary>
    internal static uint MultipathHash(IpAddr src, IpAddr dst)
    {
        ulong h = src.Hi ^ (src.Lo * 0x9E3779B97F4A7C15UL) ^ (dst.Hi * 0xC2B2AE3D27D4EB4FUL) ^ (dst.Lo * 0x165667B19E3779F9UL);
        h ^= h >> 30;
        h *= 0xBF58476D1CE4E5B9UL;
        h ^= h >> 27;
        h *= 0x94D049BB133111EBUL;
        h ^= h >> 31;
        return (uint)(h >> 33);
    }

    // ---- IPv4 input ------------------------------------------------------------------------------

    private static bool IsMulticast(uint a) => (a & 0xF0000000) == 0xE0000000;
    private static bool IsLbcast(uint a) => a == 0xFFFFFFFF;
    /// <summary>include/linux/in.h ipv4_is_zeronet: since the 0/8-as-unicast change only 0.0.0.0 itself (witnessed on 6.18: 0.1.2.3 routes).</summary>
    private static bool IsZeronet(uint a) => a == 0;
    private static bool IsLoopback(uint a) => (a & 0xFF000000) == 0x7F000000;
    private static bool IsLocalMulticast(uint a) => (a & 0xFFFFFF00) == 0xE0000000;

    private static RouteResult Drop(RouteDropReason reason, RouteNotes notes, bool icmp = false, byte type = 0, byte code = 0) =>
        new() { Verdict = RouteVerdict.Drop, DropReason = reason, Notes = notes, SendsIcmp = icmp, IcmpType = type, IcmpCode = code };

    /// <summary>fib_validate_source's -EINVAL is a martian source, -EXDEV an rp_filter refusal (LINUX_MIB_IPRPFILTER).</summary>
    private static RouteResult SourceRefused(int err, RouteNotes notes) =>
        Drop(err == ErrXdev ? RouteDropReason.RpFilter : RouteDropReason.MartianSource, notes);

    private const int ErrInval = -1;
    private const int ErrXdev = -2;

    /// <summary>net/ipv4/route.c ip_route_input_rcu / ip_route_input_slow, then net/ipv4/ip_forward.c ip_forward up to the FORWARD hook.</summary>
    private RouteResult RouteInputV4(in RouteKey k)
    {
        var notes = RouteNotes.None;
        var dev = Dev(k.Dev, ref notes);
        uint s = k.Src.V4, d = k.Dst.V4;
        if (IsMulticast(d))
            return RouteInputMc(k, dev, notes);
        if (IsMulticast(s) || IsLbcast(s))
            return Drop(RouteDropReason.MartianSource, notes);
        if (IsLbcast(d) || (s == 0 && d == 0))
            return BroadcastInput(k, dev, null, null, notes);
        if (IsZeronet(s))
            return Drop(RouteDropReason.MartianSource, notes);
        if (IsZeronet(d))
            return Drop(RouteDropReason.MartianDestination, notes);
        if (IsLoopback(d))
        {
            if (!dev.RouteLocalnet)
                return Drop(RouteDropReason.MartianDestination, notes);
        }
        else if (IsLoopback(s) && !dev.RouteLocalnet)
        {
            return Drop(RouteDropReason.MartianSource, notes);
        }

        var flow = new FibFlow { Src = k.Src, Dst = k.Dst, Tos = k.Tos, Proto = k.Protocol, Mark = k.Mark, Iif = k.Dev, Uid = 0 };
        var err = FibLookup(ref flow, out var res, ref notes);
        if (err != FibErr.Ok)
            return NoRoute(err, res, forwarding: dev.Forwarding, v6: false, notes);
        var route = res.Route!;
        if (route.Type == RouteType.Broadcast && !dev.BcForwarding)
            return BroadcastInput(k, dev, route, res.Rule, notes);
        if (route.Type == RouteType.Local)
        {
            int v = ValidateSource(k, s, d, null, dev);
            if (v < 0)
                return SourceRefused(v, notes);
            return new RouteResult
            {
                Verdict = RouteVerdict.Local, Type = RouteType.Local, Route = route, Rule = res.Rule, OutDev = Loopback,
                PrefSrc = route.PrefSrc ?? k.Dst, Notes = notes,
            };
        }
        if (route.Type != RouteType.Broadcast)
        {
            if (!dev.Forwarding)
                return Drop(RouteDropReason.ForwardingDisabled, notes);
            if (route.Type != RouteType.Unicast)
                return Drop(RouteDropReason.MartianDestination, notes);
        }

        // ip_mkroute_input → fib_select_multipath → __mkroute_input.
        int nh = SelectPath(route, k.Src, k.Dst, ref notes);
        var hop = route.NextHops.Count > 0 ? route.NextHops[nh] : null;
        var outDev = hop?.Dev;
        int valid = ValidateSource(k, s, d, outDev is null ? null : Dev(outDev), dev);
        if (valid < 0)
            return SourceRefused(valid, notes);

        // __mkroute_input: back out the device it came in by, to a source on that link → IPSKB_DOREDIRECT.
        bool redirect = valid > 0 && string.Equals(outDev, dev.Name, StringComparison.Ordinal) && dev.SendRedirects
            && (dev.SharedMedia || dev.OnLink(s, hop?.Gateway is { } gw && gw.IsV4 ? gw.V4 : 0));

        // ip_forward: the checks before NF_HOOK(NF_INET_FORWARD), in the kernel's order.
        if (k.PacketType != PacketType.Host)
            return Drop(RouteDropReason.NotHost, notes);
        if (k.Ttl is > 0 and <= 1)
            return Drop(RouteDropReason.TtlExceeded, notes, icmp: true, type: 11, code: 0); // ICMP_TIME_EXCEEDED, ICMP_EXC_TTL
        return new RouteResult
        {
            Verdict = RouteVerdict.Forward, Type = route.Type, Route = route, NextHop = hop, Rule = res.Rule, OutDev = outDev,
            Gateway = hop?.Gateway, PrefSrc = PrefSrcV4(route, hop), Notes = notes, SendsRedirect = redirect,
        };
    }

    /// <summary>FIB_RES_PREFSRC: the route's `src`, else inet_select_addr(dev, gateway, nh scope) — link for a gateway, host for on-link.</summary>
    private IpAddr? PrefSrcV4(Route route, NextHop? hop)
    {
        if (route.PrefSrc is { } p)
            return p;
        if (hop?.Dev is not { } dev)
            return null;
        uint gw = hop.Gateway is { } g && g.IsV4 ? g.V4 : 0;
        uint a = InetSelectAddr(Dev(dev), gw, gw != 0 ? RtScope.Link : RtScope.Host);
        return a == 0 ? null : IpAddr.FromV4(a);
    }

    /// <summary>ip_route_input_slow brd_input: delivered as broadcast after fib_validate_source (unless the source is 0.0.0.0).</summary>
    private RouteResult BroadcastInput(in RouteKey k, RouteDevice dev, Route? route, FibRule? rule, RouteNotes notes)
    {
        uint s = k.Src.V4;
        if (s != 0)
        {
            int v = ValidateSource(k, s, 0, null, dev);
            if (v < 0)
                return SourceRefused(v, notes);
        }
        return new RouteResult { Verdict = RouteVerdict.Local, Type = RouteType.Broadcast, Route = route, Rule = rule, OutDev = Loopback, Notes = notes };
    }

    /// <summary>
    /// ip_route_input_rcu's multicast branch and ip_route_input_mc. Membership (ip_check_mc_rcu) is not in the
    /// snapshot: 224.0.0.1 (all hosts) is joined by every IPv4 device; any other group is taken as joined, noted.
    /// </summary>
    private RouteResult RouteInputMc(in RouteKey k, RouteDevice dev, RouteNotes notes)
    {
        uint s = k.Src.V4, d = k.Dst.V4;
        if (d != 0xE0000001)
            notes |= RouteNotes.MulticastMembershipUnknown;
        if (IsMulticast(s) || IsLbcast(s))
            return Drop(RouteDropReason.MartianSource, notes);
        if (IsLoopback(s) && !dev.RouteLocalnet)
            return Drop(RouteDropReason.MartianSource, notes);
        if (IsZeronet(s))
        {
            if (!IsLocalMulticast(d) && k.Protocol != 2) // IGMP may come from 0.0.0.0
                return Drop(RouteDropReason.MartianSource, notes);
        }
        else
        {
            int v = ValidateSource(k, s, 0, null, dev);
            if (v < 0)
                return SourceRefused(v, notes);
        }
        return new RouteResult { Verdict = RouteVerdict.Local, Type = RouteType.Multicast, OutDev = Loopback, Notes = notes };
    }

    /// <summary>
    /// net/ipv4/fib_frontend.c fib_validate_source / __fib_validate_source: the reverse lookup (from dst to src,
    /// iif = the output device, or lo for local delivery). 0 accepts, 1 accepts a source on a direct route of the input
    /// device (a redirect may follow), <see cref="ErrInval"/> is a martian source,
    /// <see cref="ErrXdev"/> an rp_filter refusal. Strict (1) wants the reverse route to leave by the input
    /// device; loose (2) any unicast reverse route; off (0) only refuses this host's own addresses as sources.
    /// </summary>
    private int ValidateSource(in RouteKey k, uint src, uint dst, RouteDevice? oif, RouteDevice dev)
    {
        int rpf = dev.RpFilter;
        if (rpf == 0 && (oif != dev || !dev.SendRedirects))
        {
            if (dev.AcceptLocal)
                return 0;
            if (!_customLocalRoutes && !_customRules)
                return _localV4.Contains(src) ? ErrInval : 0; // inet_lookup_ifaddr_rcu
        }
        var notes = RouteNotes.None;
        var flow = new FibFlow
        {
            Src = IpAddr.FromV4(dst), Dst = IpAddr.FromV4(src), Tos = k.Tos, Proto = k.Protocol,
            Mark = dev.SrcValidMark ? k.Mark : 0, Iif = oif?.Name ?? Loopback, Uid = 0,
        };
        if (FibLookup(ref flow, out var res, ref notes) != FibErr.Ok)
            return rpf != 0 ? ErrXdev : 0; // last_resort
        var r = res.Route!;
        if (r.Type != RouteType.Unicast && (r.Type != RouteType.Local || !dev.AcceptLocal))
            return ErrInval;
        // dev_match: 1 when the path is direct (nhc_scope RT_SCOPE_HOST), which makes a same-device forward send a redirect.
        int direct = r.Type == RouteType.Local || r.Gateway is null ? 1 : 0;
        var hops = r.NextHops;
        for (int i = 0; i < hops.Count; i++)
        {
            if (string.Equals(hops[i].Dev, dev.Name, StringComparison.Ordinal))
                return direct;
        }
        if (r.Type == RouteType.Local && dev.IsLoopback)
            return direct;
        if (dev.V4.Length == 0)
            return rpf != 0 ? ErrXdev : 0; // no_addr → last_resort
        if (rpf == 1)
            return ErrXdev;
        // Loose (or off): accepted; a second lookup restricted to the input device only decides the redirect hint.
        flow.NhDev = dev.Name;
        flow.Oif = dev.Name;
        flow.Src = IpAddr.FromV4(dst);
        flow.Dst = IpAddr.FromV4(src);
        return FibLookup(ref flow, out res, ref notes) == FibErr.Ok && res.Route is { Type: RouteType.Unicast, Gateway: null } ? 1 : 0;
    }

    /// <summary>
    /// ip_route_input_slow no_route → ip_error (IPv4) or ip6_pkt_discard / ip6_pkt_prohibit / dst_discard (IPv6):
    /// the drop reason from where the lookup ended, and the ICMP error the kernel sends. IPv4 sends none
    /// when the input device does not forward.
    /// </summary>
    private static RouteResult NoRoute(FibErr err, FibRes res, bool forwarding, bool v6, RouteNotes notes)
    {
        RouteDropReason reason;
        if (res.Route is { } route)
        {
            reason = route.Type switch
            {
                RouteType.Unreachable => RouteDropReason.RouteUnreachable,
                RouteType.Prohibit => RouteDropReason.RouteProhibit,
                RouteType.Blackhole => RouteDropReason.RouteBlackhole,
                _ => RouteDropReason.RouteTypeInvalid,
            };
        }
        else if (res.Rule is { } rule)
        {
            reason = rule.Action switch
            {
                FibRuleAction.Unreachable => RouteDropReason.RuleUnreachable,
                FibRuleAction.Prohibit => RouteDropReason.RuleProhibit,
                _ => RouteDropReason.RuleBlackhole,
            };
        }
        else
        {
            reason = RouteDropReason.NoRoute;
        }
        var r = Drop(reason, notes) with { Route = res.Route, Rule = res.Rule };
        if (v6)
        {
            // ip6_rt_init_dst_reject: prohibit → ICMPV6_ADM_PROHIBITED, blackhole → silent, the rest → ICMPV6_NOROUTE.
            return err switch
            {
                FibErr.Inval => r,
                FibErr.Access => r with { SendsIcmp = true, IcmpType = 1, IcmpCode = 1 },
                _ => r with { SendsIcmp = true, IcmpType = 1, IcmpCode = 0 },
            };
        }
        if (!forwarding)
            return r;
        // ip_error: ENETUNREACH → net unreachable, EHOSTUNREACH → host unreachable, EACCES → ICMP_PKT_FILTERED.
        return err switch
        {
            FibErr.NetUnreach => r with { SendsIcmp = true, IcmpType = 3, IcmpCode = 0 },
            FibErr.HostUnreach => r with { SendsIcmp = true, IcmpType = 3, IcmpCode = 1 },
            FibErr.Access => r with { SendsIcmp = true, IcmpType = 3, IcmpCode = 13 },
            _ => r,
        };
    }

    // ---- IPv4 output -----------------------------------------------------------------------------

    /// <summary>net/ipv4/route.c ip_route_output_key_hash_rcu and __mkroute_output.</summary>
    private RouteResult RouteOutputV4(in RouteKey k, bool anySrc)
    {
        var notes = RouteNotes.None;
        uint s = k.Src.V4, d = k.Dst.V4;
        RouteDevice? oif = k.Dev is null ? null : Dev(k.Dev, ref notes);
        if (s != 0)
        {
            if (IsMulticast(s) || IsLbcast(s) || IsZeronet(s))
                return Drop(RouteDropReason.OutputInvalidSource, notes);
            if (oif is null && (IsMulticast(d) || IsLbcast(d)))
            {
                // __ip_dev_find: the device holding the source sends it.
                if (!IsLocalV4(s, out var owner))
                    return Drop(RouteDropReason.OutputSourceNotLocal, notes);
                return MakeOutputV4(k, owner is null ? _unknownDevice : Dev(owner), null, null, null, notes);
            }
            if (!anySrc && !IsLocalV4(s, out _))
                return Drop(RouteDropReason.OutputSourceNotLocal, notes);
        }
        if (oif is not null)
        {
            if (!oif.Known || !oif.IsUp)
                return Drop(RouteDropReason.OutputDeviceDown, notes);
            if (IsLocalMulticast(d) || IsLbcast(d) || k.Protocol == 2)
                return MakeOutputV4(k, oif, null, null, null, notes);
        }
        if (d == 0)
            return new RouteResult { Verdict = RouteVerdict.Local, Type = RouteType.Local, OutDev = Loopback, PrefSrc = k.Src, Notes = notes };

        var flow = new FibFlow { Src = k.Src, Dst = k.Dst, Tos = k.Tos, Proto = k.Protocol, Mark = k.Mark, Iif = Loopback, Oif = k.Dev, NhDev = k.Dev, Uid = k.Uid };
        var err = FibLookup(ref flow, out var res, ref notes);
        if (err != FibErr.Ok)
        {
            // "Apparently, routing tables are wrong. Assume, that the destination is on link."
            if (oif is not null)
                return MakeOutputV4(k, oif, null, null, res.Rule, notes);
            return NoRoute(err, res, forwarding: false, v6: false, notes);
        }
        var route = res.Route!;
        if (route.Type == RouteType.Local)
            return new RouteResult { Verdict = RouteVerdict.Local, Type = RouteType.Local, Route = route, Rule = res.Rule, OutDev = Loopback, PrefSrc = route.PrefSrc ?? k.Dst, Notes = notes };
        int nh = SelectPath(route, k.Src, k.Dst, ref notes);
        var hop = route.NextHops.Count > 0 ? route.NextHops[nh] : null;
        return MakeOutputV4(k, Dev(hop?.Dev), route, hop, res.Rule, notes);
    }

    /// <summary>__mkroute_output: a loopback source may not leave a non-loopback device; 0.0.0.0 as destination is invalid.</summary>
    private RouteResult MakeOutputV4(in RouteKey k, RouteDevice dev, Route? route, NextHop? hop, FibRule? rule, RouteNotes notes)
    {
        uint s = k.Src.V4, d = k.Dst.V4;
        if (IsLoopback(s) && !dev.IsLoopback)
            return Drop(RouteDropReason.OutputInvalidSource, notes);
        var type = IsLbcast(d) ? RouteType.Broadcast : IsMulticast(d) ? RouteType.Multicast : route?.Type ?? RouteType.Unicast;
        if (IsZeronet(d))
            return Drop(RouteDropReason.MartianDestination, notes);
        var verdict = dev.IsLoopback ? RouteVerdict.Local : RouteVerdict.Output;
        var pref = route is null ? (s != 0 ? k.Src : (IpAddr?)null) : PrefSrcV4(route, hop);
        return new RouteResult
        {
            Verdict = verdict, Type = type, Route = route, NextHop = hop, Rule = rule, OutDev = dev.Known ? dev.Name : hop?.Dev,
            Gateway = hop?.Gateway, PrefSrc = pref, Notes = notes,
        };
    }

    /// <summary>__ip_dev_find: the address is configured on a device (or is a local route of the local table).</summary>
    private bool IsLocalV4(uint a, out string? dev)
    {
        var r = _local.Lookup(IpAddr.FromV4(a));
        if (r is { Type: RouteType.Local })
        {
            dev = r.Dev;
            return true;
        }
        dev = null;
        return _localV4.Contains(a);
    }

    // ---- IPv6 ------------------------------------------------------------------------------------

    private static bool V6Multicast(IpAddr a) => (a.Hi >> 56) == 0xFF;
    private static bool V6LinkLocal(IpAddr a) => (a.Hi >> 54) == (0xFE80UL >> 6);
    private static bool V6Loopback(IpAddr a) => a.Hi == 0 && a.Lo == 1;
    private static bool V6Any(IpAddr a) => a.Hi == 0 && a.Lo == 0;

    /// <summary>rt6_need_strict: multicast, link-local and loopback destinations are looked up on the interface only.</summary>
    private static bool NeedStrict(IpAddr dst) => V6Multicast(dst) || V6LinkLocal(dst) || V6Loopback(dst);

    /// <summary>addrconf_join_solict: ff02::1:ffXX:XXXX, the low 24 bits of one of the device's IPv6 addresses.</summary>
    private bool SolicitedNodeOf(string? dev, IpAddr group)
    {
        if (group.Hi != 0xFF02_0000_0000_0000UL || (group.Lo >> 24) != 0x1_FF)
            return false;
        return dev is not null && _solicited.Contains((dev, group.Lo & 0xFF_FFFF));
    }

    /// <summary>
    /// net/ipv6/ip6_input.c ip6_rcv_core's address checks, which the kernel applies before PREROUTING:
    /// a multicast source, a loopback address off loopback, or an interface-local multicast destination from the
    /// wire is dropped. Returns the reason, or <see cref="RouteDropReason.None"/>.
    /// </summary>
    public RouteDropReason Ip6RcvCoreCheck(IpAddr src, IpAddr dst, string? dev)
    {
        bool lo = Dev(dev).IsLoopback;
        if (V6Multicast(src))
            return RouteDropReason.MartianSource;
        if (!lo && (V6Loopback(src) || V6Loopback(dst)))
            return V6Loopback(src) ? RouteDropReason.MartianSource : RouteDropReason.MartianDestination;
        if (!lo && V6Multicast(dst) && ((dst.Hi >> 48) & 0xF) == 1)
            return RouteDropReason.MartianDestination;
        return RouteDropReason.None;
    }

    /// <summary>net/ipv6/route.c ip6_route_input, then net/ipv6/ip6_output.c ip6_forward up to the FORWARD hook.</summary>
    private RouteResult RouteInputV6(in RouteKey k)
    {
        var notes = RouteNotes.None;
        var dev = Dev(k.Dev, ref notes);
        var flow = new FibFlow
        {
            Src = k.Src, Dst = k.Dst, V6 = true, Tos = k.Tos, Proto = k.Protocol, Mark = k.Mark, Iif = k.Dev, Uid = 0,
            NhDev = NeedStrict(k.Dst) ? k.Dev : null,
        };
        var err = FibLookup(ref flow, out var res, ref notes);
        if (err != FibErr.Ok)
        {
            var r = NoRoute(err, res, forwarding: true, v6: true, notes);
            // ip6_pkt_drop: no ICMPv6 about a packet to the unspecified address.
            return V6Any(k.Dst) ? r with { SendsIcmp = false, IcmpType = 0, IcmpCode = 0 } : r;
        }
        var route = res.Route!;
        switch (route.Type)
        {
            case RouteType.Local:
            case RouteType.Anycast:
                return new RouteResult { Verdict = RouteVerdict.Local, Type = route.Type, Route = route, Rule = res.Rule, OutDev = Loopback, Notes = notes };
            case RouteType.Multicast:
                // ip6_mc_input delivers only to a group the device has joined (ipv6_chk_mcast_addr), else discards
                // before LOCAL_IN. The kernel joins all-nodes itself, and the solicited-node group of each address
                // (addrconf_join_solict); other groups are the programs' and not in the snapshot, except
                // ff02::16 (MLDv2 reports), which only a multicast routing daemon joins: a host drops its
                // neighbours' reports (seen on Linux 6.18 with forwarding=1: INPUT never counts them).
                if (k.Dst.Hi == 0xFF02_0000_0000_0000UL && k.Dst.Lo == 0x16)
                    return Drop(RouteDropReason.MulticastNotJoined, notes) with { Route = route, Rule = res.Rule };
                // ff02::1:ff00:0/104 is NDP's alone: only addrconf joins it, for the device's own (and, when
                // forwarding, subnet-router anycast) addresses. A neighbour's DAD probe to its own group is
                // not for this host (seen on Linux 6.18: INPUT never counts them).
                if (k.Dst.Hi == 0xFF02_0000_0000_0000UL && (k.Dst.Lo >> 24) == 0x1_FF && !SolicitedNodeOf(k.Dev, k.Dst))
                    return Drop(RouteDropReason.MulticastNotJoined, notes) with { Route = route, Rule = res.Rule };
                if (!(k.Dst.Hi >> 48 is 0xFF01 or 0xFF02 && k.Dst.Hi << 16 == 0 && k.Dst.Lo == 1) && !SolicitedNodeOf(k.Dev, k.Dst))
                    notes |= RouteNotes.MulticastMembershipUnknown;
                return new RouteResult { Verdict = RouteVerdict.Local, Type = RouteType.Multicast, Route = route, Rule = res.Rule, OutDev = Loopback, Notes = notes };
            case RouteType.Unicast:
                break;
            default:
                return Drop(RouteDropReason.MartianDestination, notes) with { Route = route, Rule = res.Rule };
        }
        int nh = SelectPath(route, k.Src, k.Dst, ref notes);
        var hop = route.NextHops.Count > 0 ? route.NextHops[nh] : null;

        // ip6_forward, in the kernel's order.
        if (!_v6Forwarding)
            return Drop(RouteDropReason.ForwardingDisabled, notes) with { Route = route, Rule = res.Rule };
        if (k.PacketType != PacketType.Host)
            return Drop(RouteDropReason.NotHost, notes);
        if (k.Ttl is > 0 and <= 1)
            return Drop(RouteDropReason.TtlExceeded, notes, icmp: true, type: 3, code: 0); // ICMPV6_TIME_EXCEED, ICMPV6_EXC_HOPLIMIT
        if (!string.Equals(hop?.Dev, k.Dev, StringComparison.Ordinal))
        {
            // Not a redirect: "This check is security critical."
            if (V6Any(k.Src) || V6Multicast(k.Src) || V6Loopback(k.Src))
                return Drop(RouteDropReason.ForwardSourceScope, notes);
            if (V6LinkLocal(k.Src))
                return Drop(RouteDropReason.ForwardSourceScope, notes, icmp: true, type: 1, code: 2); // ICMPV6_NOT_NEIGHBOUR
        }
        return new RouteResult
        {
            Verdict = RouteVerdict.Forward, Type = RouteType.Unicast, Route = route, NextHop = hop, Rule = res.Rule, OutDev = hop?.Dev,
            Gateway = hop?.Gateway, PrefSrc = route.PrefSrc, Notes = notes,
        };
    }

    /// <summary>
    /// net/ipv6/route.c ip6_route_output_flags: a bound device, or a link-local/multicast destination, restricts the
    /// lookup to one interface (RT6_LOOKUP_F_IFACE). A socket sending to a link-local address names its interface
    /// (sin6_scope_id), so the caller should pass the device the packet was captured on; without one the kernel
    /// round-robins among equal fe80::/64 routes (rt6_select, witnessed), which no offline program can follow, and
    /// this takes the route of the device holding the source, else the first.
    /// </summary>
    private RouteResult RouteOutputV6(in RouteKey k)
    {
        var notes = RouteNotes.None;
        if (k.Dev is not null)
            _ = Dev(k.Dev, ref notes);
        var flow = new FibFlow { Src = k.Src, Dst = k.Dst, V6 = true, Tos = k.Tos, Proto = k.Protocol, Mark = k.Mark, Iif = Loopback, Oif = k.Dev, Uid = k.Uid };
        if (k.Dev is not null)
            flow.NhDev = k.Dev;
        else if (NeedStrict(k.Dst) && !V6Any(k.Src) && _local.Lookup(k.Src) is { Type: RouteType.Local, Dev: { } owner })
            flow.NhDev = owner;
        var err = FibLookup(ref flow, out var res, ref notes);
        if (err != FibErr.Ok && flow.NhDev is not null && k.Dev is null)
        {
            flow.NhDev = null;
            err = FibLookup(ref flow, out res, ref notes);
        }
        if (err != FibErr.Ok)
            return NoRoute(err, res, forwarding: false, v6: true, notes) with { SendsIcmp = false, IcmpType = 0, IcmpCode = 0 };
        var route = res.Route!;
        if (route.Type == RouteType.Local || route.Type == RouteType.Anycast)
            return new RouteResult { Verdict = RouteVerdict.Local, Type = route.Type, Route = route, Rule = res.Rule, OutDev = Loopback, PrefSrc = route.PrefSrc ?? k.Dst, Notes = notes };
        int nh = SelectPath(route, k.Src, k.Dst, ref notes);
        var hop = route.NextHops.Count > 0 ? route.NextHops[nh] : null;
        bool toLo = hop?.Dev is { } hd && Dev(hd).IsLoopback;
        return new RouteResult
        {
            Verdict = toLo ? RouteVerdict.Local : RouteVerdict.Output, Type = route.Type, Route = route, NextHop = hop, Rule = res.Rule,
            OutDev = hop?.Dev, Gateway = hop?.Gateway, PrefSrc = route.PrefSrc, Notes = notes,
        };
    }
}
