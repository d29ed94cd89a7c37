using TraceReplay.Capture.Decode;
using TraceReplay.Host.Network;

namespace TraceReplay.Netfilter.Routing;

/// <summary>The errno a FIB lookup ends with; the kernel returns these negated.</summary>
internal enum FibErr : byte
{
    Ok = 0,
    /// <summary>-EAGAIN: this rule found nothing (no route, a `throw` route, a suppressed result): try the next rule.</summary>
    Again,
    /// <summary>-ENETUNREACH: no rule gave a route (fib_lookup maps -ESRCH to it), or an `unreachable` rule.</summary>
    NetUnreach,
    /// <summary>-EHOSTUNREACH: an `unreachable` route.</summary>
    HostUnreach,
    /// <summary>-EACCES: `prohibit`.</summary>
    Access,
    /// <summary>-EINVAL: `blackhole`, or a nat/xresolve route.</summary>
    Inval,
}

/// <summary>The flow a rule walk matches: struct flowi's common part (flowi_iif, flowi_oif, flowi_mark, flowi_uid) and the addresses.</summary>
internal struct FibFlow
{
    public IpAddr Src;
    public IpAddr Dst;
    public bool V6;
    public byte Tos;
    public byte Proto;
    public uint Mark;
    public string? Iif;
    public string? Oif;
    public uint? Uid;
    /// <summary>Only routes with a path through this device are eligible (fib_lookup_good_nhc's flowi4_oif test; IPv6 RT6_LOOKUP_F_IFACE).</summary>
    public string? NhDev;
}

/// <summary>What a rule walk found: struct fib_result's route and type, and arg->rule.</summary>
internal struct FibRes
{
    public Route? Route;
    public FibRule? Rule;
}

/// <summary>
/// One family's policy rules, resolved against the FIB once: tables by reference and goto targets by
/// index, so a walk does no name lookups. Mirrors net/core/fib_rules.c fib_rules_lookup with the
/// family's match / action / suppress (net/ipv4/fib_rules.c fib4_rule_*, net/ipv6/fib6_rules.c).
/// </summary>
internal sealed class FibRules
{
    private readonly Entry[] _rules;
    private readonly Func<string, uint?> _groupOf;

    private sealed class Entry
    {
        public required FibRule Rule { get; init; }
        public FibTable? Table { get; init; }
        public int GotoIndex { get; init; } = -1;
        public int Proto { get; init; } = -1;
        public bool ProtoUnknown { get; init; }
    }

    public FibRules(IEnumerable<FibRule> rules, Fib fib, Func<string, uint?> groupOf)
    {
        var list = rules.ToList();
        _groupOf = groupOf;
        _rules = new Entry[list.Count];
        for (int i = 0; i < list.Count; i++)
        {
            var r = list[i];
            int proto = -1;
            bool unknown = false;
            if (r.IpProto is { } p)
            {
                proto = ProtoNumber(p);
                unknown = proto < 0;
            }
            // fib_nl_newrule: a goto's target is the first rule holding that priority; none yet is "unresolved" and skipped.
            // The kernel refuses a goto that does not jump forward (target <= own priority), so a walk always ends;
            // a snapshot edited by hand to hold one is treated as unresolved rather than looping.
            int target = r.Action == FibRuleAction.Goto && r.GotoTarget is { } g && g > r.Priority
                ? list.FindIndex(i + 1, x => x.Priority == g) : -1;
            _rules[i] = new Entry
            {
                Rule = r,
                Table = r.Action == FibRuleAction.ToTable && r.Table is { } t ? fib.Table(t) : null,
                GotoIndex = target,
                Proto = proto,
                ProtoUnknown = unknown,
            };
        }
    }

    public int Count => _rules.Length;

    private static int ProtoNumber(string p) => p switch
    {
        "tcp" => 6,
        "udp" => 17,
        "icmp" => 1,
        "ipv6-icmp" or "icmpv6" => 58,
        "sctp" => 132,
        "dccp" => 33,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "udplite" => 136,
        _ => byte.TryParse(p, out byte n) ? n : -1,
    };

    /// <summary>fib_rules_lookup: the first matching rule whose action gives a result other than -EAGAIN decides.</summary>
    public FibErr Lookup(ref FibFlow flow, out FibRes res, ref RouteNotes notes, IpRouter h)
    {
        res = default;
        int i = 0;
        while (i < _rules.Length)
        {
            var e = _rules[i];
            if (!Match(e, ref flow, ref notes))
            {
                i++;
                continue;
            }
            var r = e.Rule;
            if (r.Action == FibRuleAction.Goto)
            {
                // The kernel jumps to the target and tests it like any rule (goto jumped).
                i = e.GotoIndex < 0 ? i + 1 : e.GotoIndex;
                continue;
            }
            if (r.Action == FibRuleAction.Nop)
            {
                i++;
                continue;
            }
            FibErr err = r.Action switch
            {
                FibRuleAction.ToTable => e.Table is null ? FibErr.Again : h.TableLookup(e.Table, ref flow, out res.Route),
                FibRuleAction.Unreachable => FibErr.NetUnreach,
                FibRuleAction.Prohibit => FibErr.Access,
                _ => FibErr.Inval, // FR_ACT_BLACKHOLE and anything unknown
            };
            if (err == FibErr.Ok && Suppress(r, res.Route!))
            {
                res.Route = null;
                i++;
                continue;
            }
            if (err != FibErr.Again)
            {
                res.Rule = r;
                return err;
            }
            res.Route = null;
            i++;
        }
        return FibErr.NetUnreach;
    }

    /// <summary>fib_rule_match + fib4_rule_match / fib6_rule_match; FIB_RULE_INVERT (`not`) negates the whole.</summary>
    private static bool Match(Entry e, ref FibFlow f, ref RouteNotes notes)
    {
        var r = e.Rule;
        bool m = MatchSelectors(e, r, ref f, ref notes);
        return r.Not ? !m : m;
    }

    private static bool MatchSelectors(Entry e, FibRule r, ref FibFlow f, ref RouteNotes notes)
    {
        if (r.Iif is { } iif && !string.Equals(iif, f.Iif, StringComparison.Ordinal))
            return false;
        if (r.Oif is { } oif && !string.Equals(oif, f.Oif, StringComparison.Ordinal))
            return false;
        if (r.FwMark is { } mark && ((mark ^ f.Mark) & (r.FwMask ?? uint.MaxValue)) != 0)
            return false;
        if (r.L3mdev)
        {
            notes |= RouteNotes.L3mdevUnsupported;
            return false;
        }
        if (r.UidStart is { } us)
        {
            if (f.Uid is not { } uid)
            {
                notes |= RouteNotes.UidUnknown;
                return false;
            }
            if (uid < us || uid > (r.UidEnd ?? uint.MaxValue))
                return false;
        }
        if (r.Src is { } src && !src.Contains(f.Src))
            return false;
        if (r.Dst is { } dst && !dst.Contains(f.Dst))
            return false;
        // IPv4 compares the rule's TOS with the packet's under IPTOS_RT_MASK (fib_dscp_masked_match); IPv6 the whole DSCP.
        if (r.Tos is { } tos && tos != (f.V6 ? f.Tos & 0xFC : f.Tos & 0x1C))
            return false;
        if (e.ProtoUnknown)
        {
            notes |= RouteNotes.UnknownRuleProtocol;
            return false;
        }
        if (e.Proto >= 0 && e.Proto != f.Proto)
            return false;
        return true;
    }

    /// <summary>fib4_rule_suppress / fib6_rule_suppress: a result too short a prefix, or through a suppressed device group, is refused.</summary>
    private bool Suppress(FibRule r, Route route)
    {
        if (route.Dst.PrefixLength <= r.SuppressPrefixLength)
            return true;
        if (r.SuppressIfGroup is { } g && route.Dev is { } dev && _groupOf(dev) is { } group && group == (uint)g)
            return true;
        return false;
    }
}
