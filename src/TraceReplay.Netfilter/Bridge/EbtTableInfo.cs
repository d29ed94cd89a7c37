using System.Runtime.CompilerServices;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Ebtables;
using TraceReplay.Host.Parsing;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Bridge;

/// <summary>
/// An interface name of ebt_entry as ebt_dev_check compares it: empty matches any device; a
/// trailing `+` (the kernel's wildcard byte 1) matches any name with that prefix; otherwise the
/// whole name. A missing device never matches a non-empty name.
/// </summary>
internal readonly struct EbtIfaceMatch
{
    private readonly string _name;
    private readonly bool _prefix;
    public readonly bool Any;

    public EbtIfaceMatch(string name)
    {
        Any = name.Length == 0;
        _prefix = name.EndsWith('+');
        _name = _prefix ? name[..^1] : name;
    }

    /// <summary>ebt_dev_check's "does not match" (its return value 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Mismatch(string? dev)
    {
        if (Any)
            return false;
        if (dev is null)
            return true;
        return _prefix ? !dev.AsSpan().StartsWith(_name, StringComparison.Ordinal) : !string.Equals(dev, _name, StringComparison.Ordinal);
    }
}

/// <summary>
/// Which kernel code evaluates the rules: ebtables-nft (the nf_tables bridge family, what current
/// distributions ship) or legacy ebtables (ebt_do_table). They differ where legacy has a quirk the
/// nft translation does not share; the save file does not say which one loaded it.
/// </summary>
public enum EbtBackend : byte
{
    Nft,
    Legacy,
}

internal enum EbtTargetKind : byte
{
    Verdict,
    Jump,
    Module,
}

/// <summary>One compiled entry: struct ebt_entry's header, the slices of its matches and watchers, its target.</summary>
internal struct EbtCompiledEntry
{
    public IptEntryKind Kind;
    public EbtEntryFlags Bitmask;
    public EbtInvFlags InvFlags;
    public ushort EthProto;
    public EbtIfaceMatch In, Out, LogicalIn, LogicalOut;
    public ulong SrcMac, SrcMask, DstMac, DstMask;
    public int MatchStart, MatchCount, WatchStart, WatchCount;
    public EbtTargetKind TargetKind;
    public EbtVerdict Verdict;
    public int Jump;
    public EbtTargetEvaluator? Target;
    public int Chain;
    public int RuleNum;
}

/// <summary>
/// A compiled ebtables table (struct ebt_table_info, translate_table in net/bridge/netfilter/ebtables.c):
/// every chain's rules in one flat array, each chain closed by its policy entry (built-in chains:
/// ACCEPT or DROP; user chains: their policy, RETURN by default), jumps resolved to entry offsets,
/// per-entry counters. <see cref="DoTable"/> is ebt_do_table. One traversal at a time per instance.
/// </summary>
public sealed class EbtTableInfo
{
    private const int HookCount = 6;
    private EbtCompiledEntry[] _entries = [];
    private EbtMatchEvaluator[] _matches = [];
    private readonly int[] _hookEntry = new int[HookCount];
    private int[] _jumpStack = [];
    private ulong[] _packets = [];
    private ulong[] _bytes = [];
    private string[] _chainNames = [];
    private int[] _chainStart = [];
    private EbtablesRule?[] _rules = [];
    private readonly UnknownMatchPolicy _unknownPolicy;
    private readonly bool _legacy8023;

    private EbtTableInfo(EbtTableKind kind, UnknownMatchPolicy policy, EbtBackend backend)
    {
        Kind = kind;
        Backend = backend;
        _unknownPolicy = policy;
        _legacy8023 = backend == EbtBackend.Legacy;
        Array.Fill(_hookEntry, -1);
    }

    public EbtTableKind Kind { get; }
    public EbtBackend Backend { get; }
    public string Name => EbtablesTables.Name(Kind);
    public int EntryCount => _entries.Length;

    /// <summary>The hook a built-in chain hangs on.</summary>
    public static NfBrHook? HookOf(string chain) => chain switch
    {
        "PREROUTING" => NfBrHook.PreRouting,
        "INPUT" => NfBrHook.LocalIn,
        "FORWARD" => NfBrHook.Forward,
        "OUTPUT" => NfBrHook.LocalOut,
        "POSTROUTING" => NfBrHook.PostRouting,
        "BROUTING" => NfBrHook.Broute,
        _ => null,
    };

    public bool HasHook(NfBrHook hook) => _hookEntry[(int)hook] >= 0;

    /// <summary>
    /// translate_table + check_chainloops: lays the chains out, builds the evaluators once (so a
    /// limit's bucket is the rule's), resolves jumps, refuses a loop with the location of the jump
    /// that closes it, as the kernel refuses the table (ELOOP).
    /// </summary>
    public static EbtTableInfo Compile(EbtablesTable table, XtNet net, EbtBackend backend = EbtBackend.Nft)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(net);
        var t = new EbtTableInfo(table.Kind, net.UnknownPolicy, backend);
        var chainIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        int entries = 0, matches = 0;
        foreach (var c in table.Chains)
        {
            chainIndex[c.Name] = chainIndex.Count;
            entries += c.Rules.Count + 1;
            foreach (var r in c.Rules)
                matches += r.Matches.Count;
        }
        int stack = CheckChainLoops(table, chainIndex);
        t._entries = new EbtCompiledEntry[entries];
        t._matches = new EbtMatchEvaluator[matches];
        t._rules = new EbtablesRule?[entries];
        t._packets = new ulong[entries];
        t._bytes = new ulong[entries];
        t._chainNames = new string[table.Chains.Count];
        t._chainStart = new int[table.Chains.Count];
        t._jumpStack = new int[Math.Max(stack, 1)];

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
                var h = rule.Entry;
                entry.Kind = IptEntryKind.Rule;
                entry.Bitmask = h.Bitmask;
                entry.InvFlags = h.InvFlags;
                entry.EthProto = h.EthProto;
                entry.In = new EbtIfaceMatch(h.In);
                entry.Out = new EbtIfaceMatch(h.Out);
                entry.LogicalIn = new EbtIfaceMatch(h.LogicalIn);
                entry.LogicalOut = new EbtIfaceMatch(h.LogicalOut);
                entry.SrcMac = h.SourceMac.Value;
                entry.SrcMask = h.SourceMask.Value;
                entry.DstMac = h.DestMac.Value;
                entry.DstMask = h.DestMask.Value;
                entry.Chain = ci;
                entry.RuleNum = ri + 1;
                t._rules[e] = rule;

                // Matches first, watchers after them: ebt_do_table runs the watchers only once the rule matched.
                entry.MatchStart = m;
                foreach (var x in rule.Matches.Where(x => !x.IsWatcher))
                    t._matches[m++] = EbtMatchEvaluator.Create(x, t, net);
                entry.MatchCount = m - entry.MatchStart;
                entry.WatchStart = m;
                foreach (var x in rule.Matches.Where(x => x.IsWatcher))
                    t._matches[m++] = EbtMatchEvaluator.Create(x, t, net);
                entry.WatchCount = m - entry.WatchStart;

                switch (rule.Target)
                {
                    case EbtStandardTarget s:
                        entry.TargetKind = EbtTargetKind.Verdict;
                        entry.Verdict = s.Verdict;
                        break;
                    case EbtJumpTarget j when chainIndex.ContainsKey(j.Chain):
                        entry.TargetKind = EbtTargetKind.Jump;
                        break;
                    case EbtJumpTarget:
                        // ebtables-save never prints a jump to a missing chain: a bare `-j name` that is not a
                        // chain is a target extension without options the parser does not know (e.g. `-j ulog`).
                        entry.TargetKind = EbtTargetKind.Module;
                        entry.Target = EbtUnknownTg.Instance;
                        break;
                    default:
                        entry.TargetKind = EbtTargetKind.Module;
                        entry.Target = EbtTargetEvaluator.Create(rule.Target, t);
                        break;
                }
            }

            ref var end = ref t._entries[e];
            end.Kind = chain.IsBuiltin ? IptEntryKind.Policy : IptEntryKind.ChainEnd;
            end.Verdict = chain.Policy;
            end.Chain = ci;
            end.RuleNum = chain.Rules.Count + 1;
            if (chain.IsBuiltin && HookOf(chain.Name) is { } hook)
                t._hookEntry[(int)hook] = t._chainStart[ci];
            e++;
        }

        for (int i = 0; i < t._entries.Length; i++)
        {
            if (t._entries[i].TargetKind == EbtTargetKind.Jump && t._entries[i].Kind == IptEntryKind.Rule)
                t._entries[i].Jump = t._chainStart[chainIndex[((EbtJumpTarget)t._rules[i]!.Target).Chain]];
        }
        return t;
    }

    /// <summary>
    /// check_chainloops: the deepest nesting of jumps (the chain stack), refusing a loop (ELOOP). A jump to a
    /// name that is no chain is a target extension (see Compile), not a call.
    /// </summary>
    private static int CheckChainLoops(EbtablesTable table, Dictionary<string, int> chainIndex)
    {
        return XtChainLayout.MaxCallDepth(table.Chains.Count, Calls, c => table.Chains[c].Name);

        IEnumerable<XtChainLayout.Call> Calls(int c)
        {
            foreach (var rule in table.Chains[c].Rules)
            {
                if (rule.Target is EbtJumpTarget j && chainIndex.TryGetValue(j.Chain, out int callee))
                    yield return new XtChainLayout.Call(callee, 1, rule.Location, j.Chain);
            }
        }
    }

    /// <summary>
    /// ebt_do_table: the chain on p.Hook, rule by rule — ebt_basic_match, then each match; a rule
    /// that matched counts the frame (skb->len bytes), runs its watchers and its target: ACCEPT and
    /// DROP end the traversal, CONTINUE goes on, RETURN pops (on a base chain the kernel warns and
    /// continues), a jump pushes; the end of a chain applies its policy (RETURN pops). A table with
    /// no chain on the hook accepts (entry -1). Allocates nothing.
    /// </summary>
    public IptVerdict DoTable(ref EbtActionParam p)
    {
        int i = _hookEntry[(int)p.Hook];
        if (i < 0)
            return new IptVerdict(XtVerdict.Accept, -1, IptVerdictFlags.None, -1, 0, false);
        int sp = 0;
        var flags = IptVerdictFlags.None;
        int firstUnknown = -1;
        ulong len = p.SkbLen;
        var entries = _entries;
        ushort ethproto = p.VlanTagPresent ? EtherTypes.Vlan : p.Packet.EtherType;

        while (true)
        {
            ref var e = ref entries[i];
            EbtVerdict v;
            if (e.Kind != IptEntryKind.Rule)
            {
                _packets[i]++;
                _bytes[i] += len;
                v = e.Verdict;
                if (v == EbtVerdict.Return)
                {
                    if (sp == 0)
                        return new IptVerdict(XtVerdict.Accept, i, flags, firstUnknown, 0, false);
                    i = _jumpStack[--sp];
                    continue;
                }
                return new IptVerdict(v == EbtVerdict.Accept ? XtVerdict.Accept : XtVerdict.Drop, i, flags, firstUnknown, 0, false);
            }

            var r = BasicMatch(ref e, ref p, ethproto, _legacy8023) ? Tristate.True : Tristate.False;
            if (r == Tristate.True && e.MatchCount > 0)
                r = RunMatches(ref e, ref p, ref flags);
            r = XtUnknown.Resolve(r, _unknownPolicy, i, ref flags, ref firstUnknown);
            if (r == Tristate.False)
            {
                i++;
                continue;
            }

            _packets[i]++;
            _bytes[i] += len;
            p.Entry = i;
            for (int k = e.WatchStart; k < e.WatchStart + e.WatchCount; k++)
                _matches[k].Match(ref p);

            switch (e.TargetKind)
            {
                case EbtTargetKind.Jump:
                    _jumpStack[sp++] = i + 1;
                    i = e.Jump;
                    continue;
                case EbtTargetKind.Verdict:
                    v = e.Verdict;
                    break;
                default:
                    v = e.Target!.Target(ref p);
                    if (e.Target.IsUnknown)
                    {
                        XtUnknown.Mark(i, ref flags, ref firstUnknown);
                        return new IptVerdict(XtVerdict.Unknown, i, flags, firstUnknown, 0, false);
                    }
                    break;
            }

            switch (v)
            {
                case EbtVerdict.Accept:
                    return new IptVerdict(XtVerdict.Accept, i, flags, firstUnknown, 0, false);
                case EbtVerdict.Drop:
                    return new IptVerdict(XtVerdict.Drop, i, flags, firstUnknown, 0, false);
                case EbtVerdict.Return when sp > 0:
                    i = _jumpStack[--sp];
                    continue;
                default:
                    // CONTINUE, and RETURN on a base chain (WARN "RETURN on base chain": acts as CONTINUE).
                    i++;
                    continue;
            }
        }
    }

    /// <summary>
    /// ebt_basic_match: -p against h_proto (ETH_P_8021Q for a tagged frame), -i/-o, --logical-in/out
    /// (only when the device is a bridge port), the MACs under their masks; each with its inversion.
    /// `-p Length`: ebtables-nft compiles it to `ether type &lt; 0x0600` (802.3 frames match); legacy
    /// ebt_basic_match has tested NF_INVF(e, EBT_IPROTO, eth_proto_is_802_3(ethproto)) since that helper
    /// replaced the `>= 1536` comparison, which rejects 802.3 frames unless inverted — mirrored for
    /// <see cref="EbtBackend.Legacy"/>, not corrected, because the simulation answers what the kernel does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool BasicMatch(ref EbtCompiledEntry e, ref EbtActionParam p, ushort ethproto, bool legacy8023)
    {
        if ((e.Bitmask & EbtEntryFlags.Is8023) != 0)
        {
            // eth_proto_is_802_3 keeps the high byte only: 0x05xx and below are lengths.
            bool is8023 = (ethproto & 0xFF00) < 0x0600;
            bool mismatch = legacy8023 ? is8023 : !is8023;
            if (mismatch ^ ((e.InvFlags & EbtInvFlags.Proto) != 0))
                return false;
        }
        else if ((e.Bitmask & EbtEntryFlags.NoProto) == 0 && ((e.EthProto != ethproto) ^ ((e.InvFlags & EbtInvFlags.Proto) != 0)))
        {
            return false;
        }
        if (e.In.Mismatch(p.InDev) ^ ((e.InvFlags & EbtInvFlags.In) != 0))
            return false;
        if (e.Out.Mismatch(p.OutDev) ^ ((e.InvFlags & EbtInvFlags.Out) != 0))
            return false;
        if (p.InDev is not null && p.InBridge is not null && (e.LogicalIn.Mismatch(p.InBridge) ^ ((e.InvFlags & EbtInvFlags.LogicalIn) != 0)))
            return false;
        if (p.OutDev is not null && p.OutBridge is not null && (e.LogicalOut.Mismatch(p.OutBridge) ^ ((e.InvFlags & EbtInvFlags.LogicalOut) != 0)))
            return false;
        if ((e.Bitmask & EbtEntryFlags.SourceMac) != 0 && ((((p.SrcMac.Value ^ e.SrcMac) & e.SrcMask) != 0) ^ ((e.InvFlags & EbtInvFlags.Source) != 0)))
            return false;
        if ((e.Bitmask & EbtEntryFlags.DestMac) != 0 && ((((p.DstMac.Value ^ e.DstMac) & e.DstMask) != 0) ^ ((e.InvFlags & EbtInvFlags.Dest) != 0)))
            return false;
        return true;
    }

    private Tristate RunMatches(ref EbtCompiledEntry e, ref EbtActionParam p, ref IptVerdictFlags flags)
    {
        var result = Tristate.True;
        int end = e.MatchStart + e.MatchCount;
        for (int k = e.MatchStart; k < end; k++)
        {
            var m = _matches[k];
            if (result == Tristate.Unknown && m.HasState && _unknownPolicy == UnknownMatchPolicy.NoMatch)
                break;
            if (m.DependsOnClockOrRandom)
                flags |= IptVerdictFlags.DependsOnClockOrRandom;
            var t = m.Match(ref p);
            if (t == Tristate.False)
                return Tristate.False;
            if (t == Tristate.Unknown)
                result = Tristate.Unknown;
        }
        return result;
    }

    // ---- reading the table back ----

    /// <summary>The chain, the 1-based rule number (a policy: rules + 1) and whether the entry is a chain's policy.</summary>
    public (string Chain, int RuleNum, bool IsPolicy) Describe(int entry)
    {
        ref var e = ref _entries[entry];
        return (_chainNames[e.Chain], e.RuleNum, e.Kind != IptEntryKind.Rule);
    }

    /// <summary>"nat:PREROUTING:2" or "filter:FORWARD:policy".</summary>
    public string Where(int entry)
    {
        if (entry < 0)
            return $"{Name}:-";
        var (chain, num, policy) = Describe(entry);
        return policy ? $"{Name}:{chain}:policy" : $"{Name}:{chain}:{num}";
    }

    public EbtablesRule? RuleAt(int entry) => _rules[entry];

    /// <summary>The entry of rule <paramref name="ruleNum"/> (1-based) of a chain; rules + 1 is the policy or chain end.</summary>
    public int EntryOf(string chain, int ruleNum) => XtChainLayout.EntryOf(_chainNames, _chainStart, _entries.Length, Name, chain, ruleNum);

    /// <summary>The policy (built-in chain) or chain-end (user chain) entry of a chain.</summary>
    public int PolicyEntry(string chain) => XtChainLayout.PolicyEntry(_chainNames, _chainStart, _entries.Length, Name, chain);

    /// <summary>struct ebt_counter of an entry; a policy entry counts the frames the policy decided (the kernel keeps none).</summary>
    public EbtCounters Counters(int entry) => new(_packets[entry], _bytes[entry]);

    /// <summary>Every rule's counters in ebtables-save order (chain by chain), as `ebtables-save -c` prints them.</summary>
    public IEnumerable<(string Chain, int RuleNum, EbtCounters Counters)> AllCounters()
    {
        for (int i = 0; i < _entries.Length; i++)
        {
            if (_entries[i].Kind == IptEntryKind.Rule)
                yield return (_chainNames[_entries[i].Chain], _entries[i].RuleNum, Counters(i));
        }
    }

    public void ResetCounters()
    {
        Array.Clear(_packets);
        Array.Clear(_bytes);
    }
}
