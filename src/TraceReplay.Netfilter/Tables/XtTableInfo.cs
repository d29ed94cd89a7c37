using System.Runtime.CompilerServices;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Host.Parsing;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Xt;

namespace TraceReplay.Netfilter.Tables;

/// <summary>What an entry of the compiled table is: a rule, a built-in chain's policy, or the RETURN that ends a user chain.</summary>
public enum IptEntryKind : byte
{
    Rule,
    Policy,
    ChainEnd,
}

/// <summary>The kinds of line nf_log_trace / trace_packet prints: "rule", "return", "policy".</summary>
public enum IptTraceKind : byte
{
    Rule,
    Return,
    Policy,
}

/// <summary>One step of a traversal: the entry checked and what it answered (for rules: true, false or unknown).</summary>
public readonly record struct IptTraceEvent(XtTableInfo Table, int Entry, IptTraceKind Kind, Tristate Result)
{
    /// <summary>The kernel's TRACE line: `TRACE: filter:FORWARD:rule:3`.</summary>
    public override string ToString()
    {
        var (chain, num, _) = Table.Describe(Entry);
        string kind = Kind switch { IptTraceKind.Rule => "rule", IptTraceKind.Return => "return", _ => "policy" };
        return $"TRACE: {Table.Name}:{chain}:{kind}:{num}" + (Kind == IptTraceKind.Rule ? $" {Result}" : string.Empty);
    }
}

/// <summary>Receives every step of a traversal; pass null to DoTable for none (the loop then pays one null check per rule).</summary>
public interface IIptTraceSink
{
    void Trace(in IptTraceEvent e);
}

/// <summary>`-i`/`-o` as ip_packet_match compares them (ifname_compare_aligned with the mask): exact, prefix (`eth+`), or any.</summary>
internal readonly struct IptIfaceMatch(InterfaceMatch m)
{
    private readonly string _name = m.IsWildcard ? m.Name[..^1] : m.Name;
    private readonly bool _prefix = m.IsWildcard;
    private readonly bool _invert = m.Invert;
    public readonly bool Any = m.IsAny;

    /// <summary>A missing device compares as the kernel's nulldevname, the empty string.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Matches(string? dev)
    {
        if (Any)
            return true;
        var d = (dev ?? string.Empty).AsSpan();
        bool hit = _prefix ? d.StartsWith(_name, StringComparison.Ordinal) : d.SequenceEqual(_name);
        return hit != _invert;
    }
}

/// <summary>How a rule's target is carried out: inline like XT_STANDARD_TARGET, or by a module.</summary>
internal enum IptTargetKind : byte
{
    /// <summary>No -j: only counts.</summary>
    None,
    Verdict,
    Jump,
    Goto,
    Module,
}

/// <summary>
/// One compiled entry, the analogue of `struct ipt_entry` in the kernel's blob: the header
/// (struct ipt_ip) pre-masked, the slice of the match array, the target.
/// </summary>
internal struct IptEntry
{
    public ulong SrcHi, SrcLo, SrcMaskHi, SrcMaskLo, DstHi, DstLo, DstMaskHi, DstMaskLo;
    public IptIfaceMatch In, Out;
    public bool InvSrc, InvDst, InvProto, HasAddr, HasIface;
    public byte Proto;

    /// <summary>IPT_F_FRAG: null when the rule has no -f; true for -f, false for ! -f.</summary>
    public bool? Fragment;

    public int MatchStart, MatchCount;
    public IptEntryKind Kind;
    public IptTargetKind TargetKind;
    public XtVerdict Verdict;
    public int Jump;
    public XtTargetEvaluator? Target;
    public int Chain;
    public int RuleNum;
}

/// <summary>
/// A compiled table: every chain's rules in one flat array of entries, as translate_table lays
/// out the kernel's blob (net/ipv4/netfilter/ip_tables.c; struct xt_table_info in x_tables.h),
/// each built-in chain ending in its policy entry and each user chain in a RETURN entry; jumps
/// resolved to entry offsets; per-entry packet and byte counters in flat arrays. <see cref="DoTable"/>
/// is ipt_do_table (and ip6t_do_table for IPv6). One traversal at a time per instance: the jump
/// stack and the counters are the instance's, as the kernel's are per CPU.
/// </summary>
public sealed class XtTableInfo
{
    private const int HookCount = 5;
    private readonly IptEntry[] _entries;
    private readonly XtMatchEvaluator[] _matches;
    private readonly int[] _hookEntry = new int[HookCount];
    private readonly int[] _underflow = new int[HookCount];
    private readonly int[] _jumpStack;
    private readonly ulong[] _packets;
    private readonly ulong[] _bytes;
    private readonly string[] _chainNames;
    private readonly int[] _chainStart;
    private readonly IptRule?[] _rules;
    private readonly UnknownMatchPolicy _unknownPolicy;
    private XtClassifier? _classifier;

    public string Name { get; }
    public IptFamily Family { get; }

    /// <summary>The number of entries, policies and chain ends included.</summary>
    public int EntryCount => _entries.Length;

    /// <summary>
    /// Whether DoTable uses the compiled classifier (<see cref="XtClassifier"/>) when it has one and
    /// no trace is asked for; off, every rule is tested as ipt_do_table does. Same results either way.
    /// </summary>
    public bool UseClassifier { get; set; } = true;

    /// <summary>The chains compiled into a classifier (0 when the table is only walked).</summary>
    public int ClassifiedChains => _classifier?.IndexedChains ?? 0;

    /// <summary>The deepest nesting of -j calls (the kernel's stacksize).</summary>
    public int StackSize => _jumpStack.Length;

    private XtTableInfo(string name, IptFamily family, int entries, int matches, int chains, int stack, UnknownMatchPolicy policy)
    {
        Name = name;
        Family = family;
        _entries = new IptEntry[entries];
        _matches = new XtMatchEvaluator[matches];
        _rules = new IptRule?[entries];
        _packets = new ulong[entries];
        _bytes = new ulong[entries];
        _chainNames = new string[chains];
        _chainStart = new int[chains];
        _jumpStack = new int[stack];
        _unknownPolicy = policy;
        Array.Fill(_hookEntry, -1);
        Array.Fill(_underflow, -1);
    }

    /// <summary>The hook a built-in chain hangs on (enum nf_inet_hooks), or null for a user chain.</summary>
    public static NfInetHook? HookOf(string chain) => chain switch
    {
        "PREROUTING" => NfInetHook.PreRouting,
        "INPUT" => NfInetHook.LocalIn,
        "FORWARD" => NfInetHook.Forward,
        "OUTPUT" => NfInetHook.LocalOut,
        "POSTROUTING" => NfInetHook.PostRouting,
        _ => null,
    };

    /// <summary>Whether the table has a chain on <paramref name="hook"/> (the hook layer skips tables that do not).</summary>
    public bool HasHook(NfInetHook hook) => _hookEntry[(int)hook] >= 0;

    /// <summary>
    /// translate_table + mark_source_chains: lays the chains out, builds each rule's evaluators
    /// (once, so per-rule state lives in them), resolves jumps, and refuses loops as the kernel
    /// does (-ELOOP), naming the jump that closes the loop.
    /// </summary>
    public static XtTableInfo Compile(IptTable table, IptFamily family, XtNet net)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(net);
        int entries = 0, matches = 0;
        var chainIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var c in table.Chains)
        {
            chainIndex[c.Name] = chainIndex.Count;
            entries += c.Rules.Count + 1;
            foreach (var r in c.Rules)
                matches += r.Matches.Count;
        }

        int stack = StackDepth(table, chainIndex);
        var t = new XtTableInfo(table.Name, family, entries, matches, table.Chains.Count, Math.Max(stack, 1), net.UnknownPolicy);
        int e = 0, m = 0;
        for (int ci = 0; ci < table.Chains.Count; ci++)
        {
            var chain = table.Chains[ci];
            t._chainNames[ci] = chain.Name;
            t._chainStart[ci] = e;
            for (int ri = 0; ri < chain.Rules.Count; ri++, e++)
            {
                var rule = chain.Rules[ri];
                ref var entry = ref t._entries[e];
                CompileHeader(ref entry, rule.Header);
                entry.Kind = IptEntryKind.Rule;
                entry.Chain = ci;
                entry.RuleNum = ri + 1;
                entry.MatchStart = m;
                entry.MatchCount = rule.Matches.Count;
                t._rules[e] = rule;
                var ctx = new XtCompileContext(net, family, table.Name, chain.Name, rule);
                foreach (var match in rule.Matches)
                    t._matches[m++] = XtEvaluatorRegistry.CreateMatch(match, ctx);
                CompileTarget(ref entry, rule, ctx);
            }

            ref var end = ref t._entries[e];
            end.Kind = chain.IsBuiltin ? IptEntryKind.Policy : IptEntryKind.ChainEnd;
            end.Verdict = chain.Policy switch
            {
                ChainPolicy.Accept => XtVerdict.Accept,
                ChainPolicy.Drop => XtVerdict.Drop,
                _ => XtVerdict.Return,
            };
            end.Chain = ci;
            end.RuleNum = chain.Rules.Count + 1;
            if (chain.IsBuiltin && HookOf(chain.Name) is { } hook)
            {
                t._hookEntry[(int)hook] = t._chainStart[ci];
                t._underflow[(int)hook] = e;
            }
            e++;
        }

        // Second pass: jumps to chain offsets.
        for (int i = 0; i < t._entries.Length; i++)
        {
            ref var entry = ref t._entries[i];
            if (entry.TargetKind is IptTargetKind.Jump or IptTargetKind.Goto)
            {
                var j = (JumpTarget)t._rules[i]!.Target;
                entry.Jump = t._chainStart[chainIndex[j.Chain]];
            }
        }
        if (net.Classifier)
            t._classifier = XtClassifier.Build(t._entries, t._matches, t._rules, t._chainStart);
        return t;
    }

    private static void CompileHeader(ref IptEntry e, IptRuleHeader h)
    {
        if (h.Source is { } s && !s.IsAny)
        {
            e.SrcHi = s.Address.Hi;
            e.SrcLo = s.Address.Lo;
            e.SrcMaskHi = s.Mask.Hi;
            e.SrcMaskLo = s.Mask.Lo;
            e.HasAddr = true;
        }
        e.InvSrc = h.InvertSource;
        if (h.Destination is { } d && !d.IsAny)
        {
            e.DstHi = d.Address.Hi;
            e.DstLo = d.Address.Lo;
            e.DstMaskHi = d.Mask.Hi;
            e.DstMaskLo = d.Mask.Lo;
            e.HasAddr = true;
        }
        e.InvDst = h.InvertDestination;
        e.HasAddr |= e.InvSrc | e.InvDst;
        e.In = new IptIfaceMatch(h.InInterface);
        e.Out = new IptIfaceMatch(h.OutInterface);
        e.HasIface = !e.In.Any || !e.Out.Any;
        e.Proto = h.Protocol;
        e.InvProto = h.InvertProtocol;
        e.Fragment = h.Fragment;
    }

    private static void CompileTarget(ref IptEntry e, IptRule rule, XtCompileContext ctx)
    {
        switch (rule.Target)
        {
            case StandardTarget { Verdict: StandardVerdict.None }:
                e.TargetKind = IptTargetKind.None;
                break;
            case StandardTarget s:
                e.TargetKind = IptTargetKind.Verdict;
                e.Verdict = s.Verdict switch
                {
                    StandardVerdict.Accept => XtVerdict.Accept,
                    StandardVerdict.Drop => XtVerdict.Drop,
                    StandardVerdict.Return => XtVerdict.Return,
                    _ => XtVerdict.Queue,
                };
                break;
            case JumpTarget j:
                e.TargetKind = j.IsGoto ? IptTargetKind.Goto : IptTargetKind.Jump;
                break;
            default:
                e.TargetKind = IptTargetKind.Module;
                e.Target = XtEvaluatorRegistry.CreateTarget(rule.Target, ctx);
                break;
        }
    }

    /// <summary>
    /// mark_source_chains' walk: the deepest chain of -j calls from any chain (a -g adds no level),
    /// refusing a loop and a jump to a chain that does not exist, with the rule's location.
    /// </summary>
    private static int StackDepth(IptTable table, Dictionary<string, int> chainIndex)
    {
        return XtChainLayout.MaxCallDepth(table.Chains.Count, Calls, c => table.Chains[c].Name);

        IEnumerable<XtChainLayout.Call> Calls(int c)
        {
            foreach (var rule in table.Chains[c].Rules)
            {
                if (rule.Target is not JumpTarget j)
                    continue;
                if (!chainIndex.TryGetValue(j.Chain, out int callee))
                    throw new HostParseException(rule.Location, $"{(j.IsGoto ? "-g" : "-j")} to a chain that does not exist", j.Chain, "the name of a chain of this table");
                yield return new XtChainLayout.Call(callee, j.IsGoto ? 0 : 1, rule.Location, j.Chain);
            }
        }
    }

    /// <summary>
    /// ipt_do_table / ip6t_do_table: runs the packet through the chain on p.Hook. Rules in order; the
    /// header first (ip_packet_match), then each match; a rule that matched counts the packet
    /// (skb->len = the IP datagram length) and runs its target: -j pushes the return point, -g does
    /// not, RETURN pops (with an empty stack: the hook's policy), the end of a user chain returns,
    /// the end of a built-in chain applies and counts its policy. A hook the table has no chain on,
    /// or a packet of the other family, passes untouched (ACCEPT, entry -1). Allocates nothing.
    /// </summary>
    public IptVerdict DoTable(ref XtActionParam p, IIptTraceSink? trace = null)
    {
        int hook = (int)p.Hook;
        int i = _hookEntry[hook];

        // The kernel registers iptables' hooks for NFPROTO_IPV4 and ip6tables' for NFPROTO_IPV6: a
        // table never sees the other family (nor ARP): it lets the packet pass untouched.
        if (i < 0 || p.Packet.IpVersion != (Family == IptFamily.IPv6 ? 6 : 4))
            return new IptVerdict(XtVerdict.Accept, -1, IptVerdictFlags.None, -1, 0, false);
        int underflow = _underflow[hook];
        int sp = 0;
        var flags = IptVerdictFlags.None;
        int firstUnknown = -1;
        ulong len = (ulong)Math.Max(p.Packet.IpTotalLength, 0);
        var entries = _entries;
        bool isFragment = p.FragOff != 0;

        // The classifier leaves out rules the packet cannot match; the trace lists every rule
        // checked, so a traced packet takes the plain walk (and so does one already hotdropped,
        // which the plain walk stops at the first rule).
        var cls = trace is null && UseClassifier && !p.HotDrop ? _classifier : null;
        cls?.Begin();

        while (true)
        {
            if (cls is not null)
                i = cls.Seek(i, entries[i].Chain, ref p);
            ref var e = ref entries[i];
            if (e.Kind != IptEntryKind.Rule)
            {
                _packets[i]++;
                _bytes[i] += len;
                if (e.Kind == IptEntryKind.Policy)
                {
                    trace?.Trace(new IptTraceEvent(this, i, IptTraceKind.Policy, Tristate.True));
                    return new IptVerdict(e.Verdict, i, flags, firstUnknown, 0, false);
                }
                trace?.Trace(new IptTraceEvent(this, i, IptTraceKind.Return, Tristate.True));
                i = sp == 0 ? underflow : _jumpStack[--sp];
                continue;
            }

            var r = PacketMatch(ref e, ref p, isFragment) ? Tristate.True : Tristate.False;
            if (r == Tristate.True && e.MatchCount > 0)
                r = RunMatches(ref e, ref p, ref flags);
            trace?.Trace(new IptTraceEvent(this, i, IptTraceKind.Rule, r));
            if (p.HotDrop)
                return new IptVerdict(XtVerdict.Drop, i, flags | IptVerdictFlags.HotDrop, firstUnknown, 0, false);
            r = XtUnknown.Resolve(r, _unknownPolicy, i, ref flags, ref firstUnknown);
            if (r == Tristate.False)
            {
                i++;
                continue;
            }

            _packets[i]++;
            _bytes[i] += len;
            XtVerdict v;
            switch (e.TargetKind)
            {
                case IptTargetKind.None:
                    i++;
                    continue;
                case IptTargetKind.Jump:
                    _jumpStack[sp++] = i + 1;
                    i = e.Jump;
                    continue;
                case IptTargetKind.Goto:
                    i = e.Jump;
                    continue;
                case IptTargetKind.Verdict:
                    v = e.Verdict;
                    if (v == XtVerdict.Queue)
                    {
                        p.QueueNum = 0;
                        p.QueueBypass = false;
                    }
                    break;
                default:
                    p.Entry = i;
                    v = e.Target!.Target(ref p);
                    if (e.Target.IsUnknown)
                    {
                        XtUnknown.Mark(i, ref flags, ref firstUnknown);
                    }
                    break;
            }

            if (v == XtVerdict.Continue)
            {
                i++;
                continue;
            }
            if (v == XtVerdict.Return)
            {
                i = sp == 0 ? underflow : _jumpStack[--sp];
                continue;
            }
            if (p.HotDrop)
                flags |= IptVerdictFlags.HotDrop;
            return v == XtVerdict.Queue
                ? new IptVerdict(v, i, flags, firstUnknown, p.QueueNum, p.QueueBypass)
                : new IptVerdict(v, i, flags, firstUnknown, 0, false);
        }
    }

    /// <summary>
    /// ip_packet_match (ip6_packet_match for IPv6): addresses under their masks, -i/-o, -p, -f, each
    /// with its inversion. Always decidable from the headers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool PacketMatch(ref IptEntry e, ref XtActionParam p, bool isFragment)
    {
        ref var d = ref p.Packet;
        if (e.HasAddr)
        {
            if ((((d.Src.Hi & e.SrcMaskHi) == e.SrcHi) && ((d.Src.Lo & e.SrcMaskLo) == e.SrcLo)) == e.InvSrc)
                return false;
            if ((((d.Dst.Hi & e.DstMaskHi) == e.DstHi) && ((d.Dst.Lo & e.DstMaskLo) == e.DstLo)) == e.InvDst)
                return false;
        }
        if (e.HasIface && (!e.In.Matches(p.InDev) || !e.Out.Matches(p.OutDev)))
            return false;
        if (e.Proto != 0 && (d.Protocol == e.Proto) == e.InvProto)
            return false;

        // IPT_F_FRAG: -f wants a non-first fragment, ! -f anything else.
        if (e.Fragment is { } frag && frag != isFragment)
            return false;
        return true;
    }

    private Tristate RunMatches(ref IptEntry e, ref XtActionParam p, ref IptVerdictFlags flags)
    {
        var result = Tristate.True;
        int end = e.MatchStart + e.MatchCount;
        for (int k = e.MatchStart; k < end; k++)
        {
            var m = _matches[k];

            // Past an unknown match the kernel might not have got here: do not run a match that
            // changes state (tokens, lists, counters) on a branch we are about to take as no-match.
            if (result == Tristate.Unknown && m.HasState && _unknownPolicy == UnknownMatchPolicy.NoMatch)
                break;
            if (m.DependsOnClockOrRandom)
                flags |= IptVerdictFlags.DependsOnClockOrRandom;
            var t = m.Match(ref p);
            if (t == Tristate.False || p.HotDrop)
                return Tristate.False;
            if (t == Tristate.Unknown)
                result = Tristate.Unknown;
        }
        return result;
    }

    // ---- reading the table back ----

    /// <summary>The chain, the 1-based position (policies and chain ends: rules + 1) and whether it is a policy.</summary>
    public (string Chain, int RuleNum, bool IsPolicy) Describe(int entry)
    {
        ref var e = ref _entries[entry];
        return (_chainNames[e.Chain], e.RuleNum, e.Kind == IptEntryKind.Policy);
    }

    public IptEntryKind KindOf(int entry) => _entries[entry].Kind;

    /// <summary>The rule behind an entry (null for policies and chain ends).</summary>
    public IptRule? RuleAt(int entry) => _rules[entry];

    /// <summary>The entry of rule <paramref name="ruleNum"/> (1-based) of a chain; rules + 1 is the policy or chain end.</summary>
    public int EntryOf(string chain, int ruleNum) => XtChainLayout.EntryOf(_chainNames, _chainStart, _entries.Length, Name, chain, ruleNum);

    /// <summary>The policy (built-in chain) or chain-end (user chain) entry of a chain.</summary>
    public int PolicyEntry(string chain) => XtChainLayout.PolicyEntry(_chainNames, _chainStart, _entries.Length, Name, chain);

    /// <summary>The packets and bytes an entry counted (struct xt_counters).</summary>
    public XtCounters Counters(int entry) => new(_packets[entry], _bytes[entry]);

    /// <summary>
    /// Every built-in chain's policy counters, then every rule's, in iptables-save order (the chain
    /// headers first, then the rules chain by chain; RuleNum 0 for a policy): what `iptables-save -c` prints, simulated.
    /// User chains' RETURN entries are counted but, as in iptables-save, not listed.
    /// </summary>
    public IEnumerable<(string Chain, int RuleNum, bool IsPolicy, XtCounters Counters)> AllCounters()
    {
        for (int i = 0; i < _entries.Length; i++)
        {
            if (_entries[i].Kind == IptEntryKind.Policy)
                yield return (_chainNames[_entries[i].Chain], 0, true, Counters(i));
        }
        for (int i = 0; i < _entries.Length; i++)
        {
            if (_entries[i].Kind == IptEntryKind.Rule)
                yield return (_chainNames[_entries[i].Chain], _entries[i].RuleNum, false, Counters(i));
        }
    }

    /// <summary>Compiles every table of a dump with one <see cref="XtNet"/> (named recent/hashlimit tables are shared across them, as in one netns).</summary>
    public static IReadOnlyDictionary<string, XtTableInfo> CompileAll(IptRuleset ruleset, XtNet net)
    {
        ArgumentNullException.ThrowIfNull(ruleset);
        var tables = new Dictionary<string, XtTableInfo>(StringComparer.Ordinal);
        foreach (var t in ruleset.Tables)
            tables[t.Name] = Compile(t, ruleset.Family, net);
        return tables;
    }

    public void ResetCounters()
    {
        Array.Clear(_packets);
        Array.Clear(_bytes);
    }
}
