using System.Runtime.CompilerServices;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Netfilter.Nat;

/// <summary>
/// The NAT core of one network namespace (net/netfilter/nf_nat_core.c): sets up a connection's
/// binding for one manip type on its first packet (nf_nat_setup_info, get_unique_tuple,
/// nf_nat_alloc_null_binding) and keeps the by-source table that makes a client keep its mapping
/// across connections (nf_nat_bysource, find_appropriate_src).
/// <para>
/// The kernel's randomness — get_random_u16 for the port search start, siphash-keyed by-source
/// buckets — is replaced by a generator seeded at construction, so a replay is repeatable. The
/// address choice over a range (find_best_ips_proto) is the kernel's unkeyed jhash and matches a
/// real host exactly. A port search may still pick another port than the real host did when it had
/// to search; whether a search happens, and the port class, match.
/// </para>
/// <para>
/// Per connection and hook, as nf_nat_inet_fn: if <see cref="NfNatTuple.Initialized"/> is false for
/// the hook's manip type (<see cref="NfNatTuple.HookToManip"/>), run the nat chain; a NAT target gives
/// a range (SNAT/DNAT as parsed, or from <see cref="NfNatTargets"/>) for <see cref="SetupInfo"/>; no
/// binding from the chain means <see cref="AllocNullBinding"/>. Then every packet, the first included,
/// goes through <see cref="NfNatProto.Translate"/>; <see cref="Destroy"/> when the connection ends.
/// </para>
/// The core does not own connections: the caller passes the connection's tuples and status by
/// reference and a struct that answers nf_conntrack_tuple_taken. Nothing is allocated per packet;
/// the by-source table grows by amortised array doubling per connection.
/// </summary>
public sealed class NfNatCore
{
    /// <summary>NF_NAT_MAX_ATTEMPTS: how many ports one round of nf_nat_l4proto_unique_tuple tries.</summary>
    public const int MaxAttempts = 128;

    private ulong _rng;
    private readonly NfNatBySource _bySource = new();

    public NfNatCore(ulong seed = 0x6e66_6e61_745f_7631)
    {
        _rng = seed;
    }

    /// <summary>Connections with a SRC binding still held in the by-source table.</summary>
    public int BySourceCount => _bySource.Count;

    /// <summary>get_random_u16, from a SplitMix64 stream.</summary>
    private ushort RandomU16()
    {
        ulong z = _rng += 0x9E37_79B9_7F4A_7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        return (ushort)((z ^ (z >> 31)) >> 16);
    }

    private const NfNatRangeFlags RandomAll = NfNatRangeFlags.ProtoRandom | NfNatRangeFlags.ProtoRandomFully;

    /// <summary>
    /// nf_nat_setup_info: from the connection's <paramref name="reply"/> tuple (which the other
    /// manip type may already have altered) and <paramref name="range"/>, picks a unique new tuple
    /// and alters <paramref name="reply"/> so replies are recognised; sets IPS_SRC_NAT/IPS_DST_NAT
    /// when the tuple changed and the _DONE bit always. <paramref name="original"/> is the
    /// connection's original tuple (the by-source key).
    /// </summary>
    /// <returns>
    /// <see cref="NatVerdict.Accept"/>, or <see cref="NatVerdict.DropNoFreeTuple"/> when no unique
    /// tuple was found (the kernel's confirm step would drop the packet; the binding is not recorded)
    /// or <see cref="NatVerdict.DropAlreadyInitialized"/>.
    /// </returns>
    public NatVerdict SetupInfo<TTaken>(ref TTaken taken, in NfConntrackTuple original, ref NfConntrackTuple reply, ref CtStatus status,
        in NfNatRange2 range, NfNatManipType manip)
        where TTaken : INfConntrackTupleTaken
    {
        if (NfNatTuple.Initialized(status, manip))
            return NatVerdict.DropAlreadyInitialized;

        // What we've got will look like the inverse of the reply (nf_nat_setup_info's curr_tuple).
        var curr = NfNatTuple.Invert(reply);
        bool unique = GetUniqueTuple(ref taken, out var next, curr, range, manip);
        if (!unique && UsedTuple(ref taken, next))
            return NatVerdict.DropNoFreeTuple;

        if (!next.Equals(curr))
        {
            reply = NfNatTuple.Invert(next);
            status |= NfNatTuple.NatBit(manip);
        }
        if (manip == NfNatManipType.Src)
            _bySource.Add(original, reply);
        status |= NfNatTuple.DoneBit(manip);
        return NatVerdict.Accept;
    }

    /// <summary>
    /// nf_nat_alloc_null_binding for the hook: no nat rule matched, so the connection is bound to
    /// its own address (NF_NAT_RANGE_MAP_IPS to the current address, ports left to the protocol) —
    /// which still moves the port when the tuple clashes with another connection's.
    /// </summary>
    public NatVerdict AllocNullBinding<TTaken>(ref TTaken taken, in NfConntrackTuple original, ref NfConntrackTuple reply, ref CtStatus status,
        NfNatManipType manip)
        where TTaken : INfConntrackTupleTaken
    {
        var ip = manip == NfNatManipType.Src ? reply.Dst : reply.Src;
        var range = new NfNatRange2(NfNatRangeFlags.MapIps, ip, ip, 0, 0, 0);
        return SetupInfo(ref taken, original, ref reply, ref status, range, manip);
    }

    /// <summary>The by-source entry of a SNATed connection whose reply tuple was moved (<see cref="NfConntrackTable.AdoptReply"/>), so find_appropriate_src reuses what the host really bound.</summary>
    public void Rebind(in NfConntrackTuple original, in NfConntrackTuple oldReply, in NfConntrackTuple newReply)
    {
        if (_bySource.Remove(original, oldReply))
            _bySource.Add(original, newReply);
    }

    /// <summary>
    /// nf_nat_cleanup_conntrack, when the connection is destroyed: forgets its by-source entry (held
    /// since its SRC binding, null or not).
    /// </summary>
    public void Destroy(in NfConntrackTuple original, in NfConntrackTuple reply, CtStatus status)
    {
        if ((status & CtStatus.SrcNatDone) != 0)
            _bySource.Remove(original, reply);
    }

    /// <summary>nf_nat_used_tuple: would a connection with this (original-direction) tuple clash? Asked by its reply.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool UsedTuple<TTaken>(ref TTaken taken, in NfConntrackTuple tuple)
        where TTaken : INfConntrackTupleTaken
    {
        var reply = NfNatTuple.Invert(tuple);
        return taken.IsTaken(reply);
    }

    /// <summary>nf_nat_inet_in_range: the source address within the range (the kernel asks it only of SRC mappings).</summary>
    private static bool InetInRange(in NfConntrackTuple t, in NfNatRange2 range) =>
        t.Src.CompareTo(range.MinAddr) >= 0 && t.Src.CompareTo(range.MaxAddr) <= 0;

    /// <summary>l4proto_in_range: is the manipulable part of the tuple between min and max inclusive?</summary>
    private static bool L4ProtoInRange(in NfConntrackTuple t, NfNatManipType manip, ushort min, ushort max)
    {
        switch (t.Protocol)
        {
            case NfNatTuple.Icmp:
            case NfNatTuple.Icmpv6:
                return t.SrcPort >= min && t.SrcPort <= max;
            case NfNatTuple.Gre:
            case NfNatTuple.Tcp:
            case NfNatTuple.Udp:
            case NfNatTuple.UdpLite:
            case NfNatTuple.Sctp:
                ushort port = manip == NfNatManipType.Src ? t.SrcPort : t.DstPort;
                return port >= min && port <= max;
            default:
                return true;
        }
    }

    /// <summary>nf_in_range: if we source-map the tuple so, does it meet the range?</summary>
    private static bool InRange(in NfConntrackTuple t, in NfNatRange2 range)
    {
        if (range.MapsIps && !InetInRange(t, range))
            return false;
        if (!range.ProtoSpecified)
            return true;
        return L4ProtoInRange(t, NfNatManipType.Src, range.MinProto, range.MaxProto);
    }

    /// <summary>
    /// get_unique_tuple: the tuple the connection's original direction will have after this manip.
    /// Returns whether it is known unique; false when the kernel would go on with a tuple it did not
    /// check or found taken (a single-port range, or an exhausted search).
    /// </summary>
    internal bool GetUniqueTuple<TTaken>(ref TTaken taken, out NfConntrackTuple tuple, in NfConntrackTuple orig, in NfNatRange2 range, NfNatManipType manip)
        where TTaken : INfConntrackTupleTaken
    {
        // 1) For SRC, keep the source if it is in range and unique, else reuse the mapping this
        // source already has (find_appropriate_src), if still unique.
        if (manip == NfNatManipType.Src && (range.Flags & RandomAll) == 0)
        {
            if (InRange(orig, range))
            {
                // nf_nat_used_tuple_new's clash allowance (simultaneous NEW in both directions on
                // two CPUs) cannot arise in a serial replay.
                if (!UsedTuple(ref taken, orig))
                {
                    tuple = orig;
                    return true;
                }
            }
            else if (FindAppropriateSrc(orig, out tuple, range))
            {
                if (!UsedTuple(ref taken, tuple))
                    return true;
            }
        }

        // 2) Select the address in the range.
        tuple = orig;
        FindBestIpsProto(ref tuple, range, manip);

        // 3) The per-protocol part: only bother if it is not already in range and unique.
        if ((range.Flags & RandomAll) == 0)
        {
            if (range.ProtoSpecified)
            {
                if (!range.Has(NfNatRangeFlags.ProtoOffset) && L4ProtoInRange(tuple, manip, range.MinProto, range.MaxProto))
                {
                    if (range.MinProto == range.MaxProto)
                        return false; // taken as is, unchecked: a clash is left to confirm
                    if (!UsedTuple(ref taken, tuple))
                        return true;
                }
            }
            else if (!UsedTuple(ref taken, tuple))
            {
                return true;
            }
        }

        return L4ProtoUniqueTuple(ref taken, ref tuple, range, manip);
    }

    /// <summary>find_appropriate_src: the newest live SRC mapping of the same source (protocol, address, port) whose translated source is in range.</summary>
    private bool FindAppropriateSrc(in NfConntrackTuple orig, out NfConntrackTuple result, in NfNatRange2 range)
    {
        foreach (ref readonly var reply in _bySource.Matches(orig))
        {
            // Copy the source part from the reply tuple; keep our destination.
            var candidate = NfNatTuple.Invert(reply) with { Dst = orig.Dst, DstPort = orig.DstPort, IcmpType = orig.IcmpType, IcmpCode = orig.IcmpCode };
            if (InRange(candidate, range))
            {
                result = candidate;
                return true;
            }
        }
        result = default;
        return false;
    }

    /// <summary>
    /// find_best_ips_proto: hashes the source (and, unless --persistent, the destination) with jhash2
    /// and scales it into the address range word by word, so a client keeps its address.
    /// </summary>
    internal static void FindBestIpsProto(ref NfConntrackTuple tuple, in NfNatRange2 range, NfNatManipType manip)
    {
        if (!range.MapsIps)
            return;
        if (range.MinAddr.Equals(range.MaxAddr))
        {
            tuple = manip == NfNatManipType.Src ? tuple with { Src = range.MinAddr } : tuple with { Dst = range.MinAddr };
            return;
        }

        bool v6 = tuple.IsV6;
        int max = v6 ? 3 : 0;
        bool persistent = range.Has(NfNatRangeFlags.Persistent);
        var src = tuple.Src;
        var dst = tuple.Dst;
        uint j = Jhash.Jhash2(Jhash.RawWord(src, v6, 0), Jhash.RawWord(src, v6, 1), Jhash.RawWord(src, v6, 2), Jhash.RawWord(src, v6, 3),
            persistent ? 0 : Jhash.RawWord(dst, v6, max) /* ^ zone id 0 */);

        Span<uint> words = stackalloc uint[4];
        bool fullRange = false;
        for (int i = 0; i <= max; i++)
        {
            uint minip, dist;
            uint maxWord = Jhash.HostWord(range.MaxAddr, v6, i);
            if (!fullRange)
            {
                minip = Jhash.HostWord(range.MinAddr, v6, i);
                dist = maxWord - minip + 1;
            }
            else
            {
                minip = 0;
                dist = ~0u;
            }
            words[i] = minip + Jhash.ReciprocalScale(j, dist);
            if (words[i] != maxWord)
                fullRange = true;
            if (!persistent)
                j ^= Jhash.RawWord(dst, v6, i);
        }
        var chosen = Jhash.FromHostWords(v6, words[0], words[1], words[2], words[3]);
        tuple = manip == NfNatManipType.Src ? tuple with { Src = chosen } : tuple with { Dst = chosen };
    }

    /// <summary>
    /// nf_nat_l4proto_unique_tuple: searches the port (ICMP id) range from a random start (from
    /// the base for `/BASE` offsets; from the range start for DST without --random), at most 128
    /// tries, then rounds of halving size from new random starts. Without a range a source port
    /// keeps its class: 1–511, 600–1023, 1024–65535; a destination port is left alone. Returns
    /// whether a free tuple was found.
    /// </summary>
    private bool L4ProtoUniqueTuple<TTaken>(ref TTaken taken, ref NfConntrackTuple tuple, in NfNatRange2 range, NfNatManipType manip)
        where TTaken : INfConntrackTupleTaken
    {
        uint min, rangeSize;
        bool keyIsSrc;
        switch (tuple.Protocol)
        {
            case NfNatTuple.Icmp:
            case NfNatTuple.Icmpv6:
                // The id is the same in both directions.
                keyIsSrc = true;
                if (!range.ProtoSpecified)
                {
                    min = 0;
                    rangeSize = 65536;
                }
                else
                {
                    min = range.MinProto;
                    rangeSize = (uint)(range.MaxProto - range.MinProto + 1);
                }
                break;
            case NfNatTuple.Udp:
            case NfNatTuple.UdpLite:
            case NfNatTuple.Tcp:
            case NfNatTuple.Sctp:
                keyIsSrc = manip == NfNatManipType.Src;
                if (!range.ProtoSpecified)
                {
                    // A destination port cannot be changed without a range.
                    if (manip == NfNatManipType.Dst)
                        return false;
                    ushort port = tuple.SrcPort;
                    if (port < 1024)
                    {
                        // Loose convention: >> 512 is credential passing.
                        if (port < 512)
                        {
                            min = 1;
                            rangeSize = 511 - min + 1;
                        }
                        else
                        {
                            min = 600;
                            rangeSize = 1023 - min + 1;
                        }
                    }
                    else
                    {
                        min = 1024;
                        rangeSize = 65535 - 1024 + 1;
                    }
                }
                else
                {
                    uint lo = range.MinProto, hi = range.MaxProto;
                    if (hi < lo)
                        (lo, hi) = (hi, lo);
                    min = lo;
                    rangeSize = hi - lo + 1;
                }
                break;
            default:
                // GRE keys change only for PPTP expectations (a master connection); other protocols have no ids.
                return false;
        }

        ushort key = keyIsSrc ? tuple.SrcPort : tuple.DstPort;
        ushort off;
        if (range.Has(NfNatRangeFlags.ProtoOffset))
            off = (ushort)(key - range.BaseProto);
        else if ((range.Flags & RandomAll) != 0 || manip != NfNatManipType.Dst)
            off = RandomU16();
        else
            off = 0;

        uint attempts = Math.Min(rangeSize, MaxAttempts);
        while (true)
        {
            for (uint i = 0; i < attempts; i++, off++)
            {
                ushort candidate = (ushort)(min + (off % rangeSize));
                tuple = keyIsSrc ? tuple with { SrcPort = candidate } : tuple with { DstPort = candidate };
                // nf_nat_used_tuple_harder may also evict a TIME_WAIT connection in the last
                // NF_NAT_HARDER_THRESH tries; that needs TCP window state the callback does not carry.
                if (!UsedTuple(ref taken, tuple))
                    return true;
            }
            if (attempts >= rangeSize || attempts < 16)
                return false;
            attempts /= 2;
            off = RandomU16();
        }
    }
}
