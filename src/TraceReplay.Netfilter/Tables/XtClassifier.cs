using System.Collections.Frozen;
using System.Runtime.CompilerServices;

namespace TraceReplay.Netfilter.Tables;

/// <summary>
/// Rule-set compilation for <see cref="XtTableInfo.DoTable"/>: per long chain, an index from what
/// the rules pin down (destination or source address under a mask, protocol and destination port,
/// protocol, -i / -o name) to the rules that pin it, plus the rules that pin nothing (the wildcard
/// list). "Go to the next rule" becomes "go to the next entry that could match this packet": the
/// smallest entry at or after the current one in the wildcard list or in one of the packet's buckets.
/// <para>
/// The kernel has no such thing: ipt_do_table (net/ipv4/netfilter/ip_tables.c) walks every rule;
/// the kernel's own answer to big rule sets is nft sets and maps (nft_set_hash, nft_set_rbtree) and
/// ipset, which the rule author has to use. This is the same walk with the rules that cannot
/// match, and whose evaluation would change nothing, left out: counters, verdicts, flags and the
/// first unknown entry are those of the plain walk (the differential tests hold it to that).
/// </para>
/// <para>
/// A rule is only ever skipped on a key it cannot match: one of its header fields (ip_packet_match
/// is decided before any match and has no side effect), or a tcp/udp/multiport destination port
/// that would answer a quiet "no" (a first or unfragmented packet with a transport header: no
/// hotdrop, no unknown) and is preceded only by matches without state, clock or hotdrop. So a
/// stateful match (limit, recent, statistic, quota, hashlimit, connlimit) is never skipped unless
/// its own rule's header or pure port match excludes the packet, exactly when the plain walk would
/// not have run it either.
/// </para>
/// One traversal at a time, as the table's jump stack: the packet's buckets are resolved once per
/// chain per traversal into scratch arrays made at compile time. Allocates nothing per packet.
/// </summary>
internal sealed partial class XtClassifier
{
    /// <summary>Chains shorter than this are walked: a header test is cheaper than a lookup.</summary>
    internal const int MinChainRules = 8;

    private readonly XtChainClassifier?[] _chains;
    private long _stamp;

    private XtClassifier(XtChainClassifier?[] chains) => _chains = chains;

    /// <summary>The number of chains with an index (0: the table is walked as before).</summary>
    public int IndexedChains
    {
        get
        {
            int n = 0;
            foreach (var c in _chains)
                n += c is null ? 0 : 1;
            return n;
        }
    }

    /// <summary>A new traversal: buckets resolved for the previous packet are stale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Begin() => _stamp++;

    /// <summary>
    /// The first entry at or after <paramref name="i"/> (in chain <paramref name="chain"/>) that could
    /// match the packet: <paramref name="i"/> itself in a chain without an index; the chain's policy
    /// or RETURN entry when no rule is left.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Seek(int i, int chain, ref XtActionParam p)
    {
        var c = _chains[chain];
        return c is null ? i : c.Seek(i, ref p, _stamp);
    }
}

/// <summary>What a bucket key pins: the dimension of <see cref="XtClsKey"/>.</summary>
internal enum XtClsDim : byte
{
    Dst,
    Src,

    /// <summary>Protocol and destination port of a first or unfragmented packet with its transport header.</summary>
    Port,

    /// <summary>Every port-keyed rule of a protocol: what a packet whose port cannot be read must still be checked against.</summary>
    PortAll,
    Proto,
}

/// <summary>A bucket key: a dimension, the mask's slot for addresses, and the value (address under the mask, or protocol and port).</summary>
internal readonly struct XtClsKey(XtClsDim dim, int slot, ulong hi, ulong lo) : IEquatable<XtClsKey>
{
    private readonly ulong _hi = hi, _lo = lo;
    private readonly int _tag = ((int)dim << 8) | slot;

    public XtClsDim Dim => (XtClsDim)(_tag >> 8);

    public ulong Hi => _hi;

    public bool Equals(XtClsKey other) => _hi == other._hi && _lo == other._lo && _tag == other._tag;

    public override bool Equals(object? obj) => obj is XtClsKey k && Equals(k);

    public override int GetHashCode()
    {
        // The low address bits vary most; fold everything in once (xxhash's avalanche constants).
        ulong h = (_lo * 0x9E37_79B9_7F4A_7C15UL) ^ (_hi * 0xC2B2_AE3D_27D4_EB4FUL) ^ (ulong)_tag;
        h ^= h >> 29;
        return (int)h ^ (int)(h >> 32);
    }
}

/// <summary>One chain's index: buckets of entries (ascending) per key, the wildcard list ending in the chain's last entry.</summary>
internal sealed class XtChainClassifier
{
    private readonly int[] _wildcard;
    private readonly int[][] _lists;
    private readonly FrozenDictionary<XtClsKey, int> _buckets;
    private readonly FrozenDictionary<string, int>? _in, _out;
    private readonly ulong[] _dstMaskHi, _dstMaskLo, _srcMaskHi, _srcMaskLo;
    private readonly bool _hasPort, _hasProto;

    // The current packet's lists in this chain, resolved once per traversal (Seek's stamp).
    private readonly int[][] _cur;
    private int _curCount;
    private long _stamp;

    internal XtChainClassifier(int[] wildcard, int[][] lists, Dictionary<XtClsKey, int> buckets, Dictionary<string, int> inIf, Dictionary<string, int> outIf,
        ulong[] dstMaskHi, ulong[] dstMaskLo, ulong[] srcMaskHi, ulong[] srcMaskLo)
    {
        _wildcard = wildcard;
        _lists = lists;
        _buckets = buckets.ToFrozenDictionary();
        _in = inIf.Count > 0 ? inIf.ToFrozenDictionary(StringComparer.Ordinal) : null;
        _out = outIf.Count > 0 ? outIf.ToFrozenDictionary(StringComparer.Ordinal) : null;
        (_dstMaskHi, _dstMaskLo, _srcMaskHi, _srcMaskLo) = (dstMaskHi, dstMaskLo, srcMaskHi, srcMaskLo);
        foreach (var k in buckets.Keys)
        {
            _hasPort |= k.Dim is XtClsDim.Port or XtClsDim.PortAll;
            _hasProto |= k.Dim == XtClsDim.Proto;
        }
        _cur = new int[dstMaskHi.Length + srcMaskHi.Length + 4][];
    }

    public int WildcardCount => _wildcard.Length - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Seek(int i, ref XtActionParam p, long stamp)
    {
        if (_stamp != stamp)
            Resolve(ref p, stamp);
        int best = _wildcard[LowerBound(_wildcard, i)];
        for (int k = 0; k < _curCount; k++)
        {
            var list = _cur[k];
            int at = LowerBound(list, i);
            if (at < list.Length && list[at] < best)
                best = list[at];
        }
        return best;
    }

    /// <summary>The packet's buckets in this chain: one lookup per address mask, port, protocol and device.</summary>
    private void Resolve(ref XtActionParam p, long stamp)
    {
        _stamp = stamp;
        _curCount = 0;
        ref var d = ref p.Packet;
        for (int m = 0; m < _dstMaskHi.Length; m++)
            Add(new XtClsKey(XtClsDim.Dst, m, d.Dst.Hi & _dstMaskHi[m], d.Dst.Lo & _dstMaskLo[m]));
        for (int m = 0; m < _srcMaskHi.Length; m++)
            Add(new XtClsKey(XtClsDim.Src, m, d.Src.Hi & _srcMaskHi[m], d.Src.Lo & _srcMaskLo[m]));
        if (_hasPort)
        {
            // A port match only says a quiet no for a packet whose port it reads; otherwise (non-first
            // fragment: no, or hotdrop at offset 1; no header: unknown or hotdrop) every rule keyed
            // on a port of this protocol must run.
            Add(p.FragOff == 0 && d.HasTransport
                ? new XtClsKey(XtClsDim.Port, 0, d.Protocol, d.DstPort)
                : new XtClsKey(XtClsDim.PortAll, 0, d.Protocol, 0));
        }
        if (_hasProto)
            Add(new XtClsKey(XtClsDim.Proto, 0, d.Protocol, 0));
        if (_in is not null && _in.TryGetValue(p.InDev ?? string.Empty, out int bi))
            _cur[_curCount++] = _lists[bi];
        if (_out is not null && _out.TryGetValue(p.OutDev ?? string.Empty, out int bo))
            _cur[_curCount++] = _lists[bo];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Add(XtClsKey key)
    {
        if (_buckets.TryGetValue(key, out int b))
            _cur[_curCount++] = _lists[b];
    }

    /// <summary>The index of the first element at or above <paramref name="value"/>, or the length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int LowerBound(int[] a, int value)
    {
        int lo = 0, hi = a.Length;
        while (lo < hi)
        {
            int mid = (int)((uint)(lo + hi) >> 1);
            if (a[mid] < value)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }
}
