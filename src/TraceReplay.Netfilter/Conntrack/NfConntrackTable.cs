using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using TraceReplay.Capture.Decode;

namespace TraceReplay.Netfilter.Conntrack;

/// <summary>
/// The connection tracking table of one network namespace: nf_conntrack_hash plus nf_conntrack_in
/// (net/netfilter/nf_conntrack_core.c). Connections are <see cref="NfConn"/> values in one array; each
/// has two tuplehash nodes (node id = entry * 2 + direction) chained in <c>nf_conntrack_buckets</c>
/// buckets, so a packet of either direction is found with one hash and a short chain walk.
/// <para>
/// Time is the capture clock in nanoseconds. An entry is expired once packet time reaches its deadline
/// (nf_ct_is_expired); it is removed when a lookup meets it (nf_ct_gc_expired in ____nf_conntrack_find)
/// or when the incremental sweep — a few slots per packet, the stand-in for gc_worker — passes it, and
/// its DESTROY event carries the deadline as its time. <see cref="ExpireUntil"/> sweeps everything.
/// </para>
/// <para>
/// Per packet: <see cref="ConntrackIn"/> (the conntrack hook at PREROUTING/OUTPUT) returns the ctinfo;
/// a NEW entry is unconfirmed and not in the hash until <see cref="Confirm"/> (nf_conntrack_confirm at the
/// end of INPUT/POSTROUTING); <see cref="Abort"/> forgets it when the packet is dropped before that.
/// Not thread-safe: one table per replay, fed in packet order, which also makes it deterministic.
/// </para>
/// </summary>
public sealed partial class NfConntrackTable
{
    /// <summary>NF_CT_EVICTION_RANGE: how many buckets early_drop scans from the new tuple's bucket.</summary>
    public const int EvictionRange = 8;

    /// <summary>Slots the incremental expiry sweep looks at per packet.</summary>
    public const int GcSlotsPerPacket = 4;

    private const long Second = 1_000_000_000L;

    private readonly NfConntrackSettings _settings;
    private readonly NfConntrackTimeouts _timeouts;
    /// <summary>Per bucket: the first node of its chain and that node's hash.</summary>
    private readonly CtHashLink[] _buckets;
    private NfConn[] _entries;
    /// <summary>
    /// Per tuplehash node (entry * 2 + direction): the next node in its bucket and its hash, Node -1 at
    /// the end; the free list reuses slot 0's Node.
    /// </summary>
    private CtHashLink[] _next;
    /// <summary>Per node: its own tuple's hash, for finding its bucket when it is unlinked (cold: the walk reads the links' copy).</summary>
    private uint[] _nodeHash;
    /// <summary>
    /// Per slot: the deadline, duplicated out of <see cref="NfConn.Timeout"/> so the per-packet sweep reads
    /// 8 bytes per slot instead of a whole cold entry; long.MaxValue for free slots.
    /// </summary>
    private long[] _expires;
    private int _highWater;
    private int _freeHead = -1;
    private int _count;
    private int _gcCursor;
    private int[] _deferred = new int[4];
    private int _deferredCount;
    private NfConntrackEvent[] _events = new NfConntrackEvent[64];
    private int _eventCount;
    private IReadOnlyList<ConntrackListEntry>? _initial;
    private Dictionary<int, string>? _secctx;

    public NfConntrackTable(NfConntrackSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        _timeouts = settings.Timeouts;
        _buckets = new CtHashLink[Math.Max(1, settings.Buckets)];
        Array.Fill(_buckets, CtHashLink.End);
        long initial = settings.Max > 0 ? Math.Min(settings.Max, 1024) : 1024;
        _entries = new NfConn[initial];
        _next = new CtHashLink[initial * 2];
        _nodeHash = new uint[initial * 2];
        _expires = new long[initial];
        Array.Fill(_expires, long.MaxValue);
    }

    public NfConntrackSettings Settings => _settings;

    /// <summary>Connections allocated, confirmed or not (nf_conntrack_count, which nf_conntrack_max caps).</summary>
    public int Count => _count;

    /// <summary>Whether events are recorded; off, nothing is appended (a kernel without ctnetlink listeners).</summary>
    public bool EventsEnabled { get; set; } = true;

    /// <summary>Early drops done because the table was full (the early_drop statistic).</summary>
    public long EarlyDrops { get; private set; }

    /// <summary>Packets dropped with "table full, dropping packet" (the drop statistic).</summary>
    public long TableFullDrops { get; private set; }

    /// <summary>The events since the last <see cref="ClearEvents"/>, in the order the kernel would send them.</summary>
    public ReadOnlySpan<NfConntrackEvent> Events => _events.AsSpan(0, _eventCount);

    public void ClearEvents() => _eventCount = 0;

    /// <summary>The connection at <paramref name="entry"/>. Change tuples only through <see cref="AlterReply"/>.</summary>
    public ref NfConn this[int entry]
    {
        get
        {
            if ((uint)entry >= (uint)_highWater || (_entries[entry].Slot & SlotFlags.InUse) == 0)
                throw new ArgumentOutOfRangeException(nameof(entry), entry, "no connection at this index");
            return ref _entries[entry];
        }
    }

    /// <summary>The live, confirmed connections (for dumps and reports; allocates the enumerator).</summary>
    public IEnumerable<int> ConfirmedEntries()
    {
        for (int i = 0; i < _highWater; i++)
        {
            if (IsLive(i))
                yield return i;
        }
    }

    /// <summary>Whether <paramref name="entry"/> holds a confirmed connection still in the hash (not freed, dying or awaiting its free): what can be looked up by index without throwing.</summary>
    public bool IsLive(int entry) =>
        (uint)entry < (uint)_highWater && (_entries[entry].Slot & (SlotFlags.InUse | SlotFlags.Hashed | SlotFlags.DeferredFree)) == (SlotFlags.InUse | SlotFlags.Hashed);

    /// <summary>The SELinux context a dumped entry carried (secctx=), kept only to print it back.</summary>
    public string? SecurityContext(int entry) => _secctx is not null && _secctx.TryGetValue(entry, out var s) ? s : null;

    // ---------------------------------------------------------------- the conntrack hook

    /// <summary>
    /// nf_conntrack_in: classify one packet and update its connection. <paramref name="frame"/> is the
    /// captured frame <paramref name="p"/> was decoded from (TCP options are read from it);
    /// <paramref name="zone"/> is the CT target's zone (0 by default). The packet's bytes for the
    /// counters are its IP total length, as skb->len at the hook.
    /// </summary>
    public CtInfo ConntrackIn(in DecodedPacket p, ReadOnlySpan<byte> frame, long now, ushort zone = 0)
    {
        BeginPacket(now);
        if (!p.HasIp || (p.FragmentOffset != 0 && (p.Flags & PacketFlags.Fragment) != 0))
            return CtInfo.Invalid(CtReason.NoTuple);

        byte proto = p.Protocol;
        if ((proto == L4Protocol.Icmp && p.IsIpv4) || (proto == L4Protocol.Icmpv6 && p.IsIpv6))
        {
            if (NfConntrackProtoIcmp.Error(this, in p, zone, now, out CtInfo related))
                return related;
        }

        if (!PktToTuple(in p, out NfConntrackTuple tuple))
            return CtInfo.Invalid(CtReason.NoTuple);

        // -NF_REPEAT from the TCP tracker (reopening a closed connection) looks up once more.
        for (int attempt = 0; attempt < 2; attempt++)
        {
            uint hash = Hash(in tuple, zone);
            int node = FindNode(in tuple, zone, hash, now);
            int idx;
            CtDirection dir;
            CtState state;
            if (node < 0)
            {
                if (!TryInvert(in tuple, out NfConntrackTuple reply))
                    return CtInfo.Invalid(CtReason.NotInvertible);
                idx = Alloc(hash, now);
                if (idx < 0)
                {
                    TableFullDrops++;
                    return new CtInfo(-1, CtState.Invalid, CtDirection.Original, CtVerdict.Drop, CtReason.TableFull);
                }
                ref NfConn n = ref _entries[idx];
                n.Orig = tuple;
                n.Reply = reply;
                n.Zone = zone;
                SetTimeout(idx, now);
                dir = CtDirection.Original;
                state = CtState.New;
            }
            else
            {
                idx = node >> 1;
                dir = (CtDirection)(node & 1);
                CtStatus st = _entries[idx].Status;
                state = dir == CtDirection.Reply || (st & CtStatus.SeenReply) != 0 ? CtState.Established
                    : (st & CtStatus.Expected) != 0 ? CtState.Related
                    : CtState.New;
            }

            ref NfConn ct = ref _entries[idx];
            L4Verdict v = HandlePacket(ref ct, idx, in p, frame, dir, now, out CtReason reason);
            switch (v)
            {
                case L4Verdict.Invalid:
                    if (!ct.IsConfirmed)
                        FreeSlot(idx);
                    return CtInfo.Invalid(reason);
                case L4Verdict.Repeat:
                    continue;
                case L4Verdict.Drop:
                    return new CtInfo(-1, CtState.Invalid, dir, CtVerdict.Drop, reason);
            }

            if (dir == CtDirection.Reply && (ct.Status & CtStatus.SeenReply) == 0)
            {
                ct.Status |= CtStatus.SeenReply;
                ct.PendingEvents |= NfctEventMask.Reply;
            }
            if (ct.IsConfirmed && ct.PendingEvents != NfctEventMask.None && (ct.Slot & SlotFlags.DeferredFree) == 0)
                DeliverUpdate(idx, now);
            return new CtInfo(idx, state, dir, CtVerdict.Accept, CtReason.None);
        }
        return new CtInfo(-1, CtState.Invalid, CtDirection.Original, CtVerdict.Drop, CtReason.TcpReopenDrop);
    }

    /// <summary>
    /// Start loading the hash bucket <see cref="ConntrackIn"/> will read for <paramref name="p"/> (zone 0),
    /// so the hook work before the conntrack hook (ebtables, the FDB, the raw table) overlaps that cache
    /// miss. A hint only: no state changes, and a packet it does not fit (a fragment, a zone, an ICMP
    /// error) just costs the hash. No kernel counterpart: a simulation aid, callable for a later packet
    /// too (the earlier, the more of the miss it hides).
    /// </summary>
    public unsafe void Prefetch(in DecodedPacket p)
    {
        if (!Sse.IsSupported || !p.HasIp || !PktToTuple(in p, out NfConntrackTuple tuple))
            return;
        // The array may move before the hint is taken: a prefetch of a stale address is harmless.
        Sse.Prefetch0(Unsafe.AsPointer(ref _buckets[Bucket(Hash(in tuple, 0))]));
    }

    /// <summary>
    /// The second stage of <see cref="Prefetch"/>, for a packet whose bucket was prefetched a while
    /// ago (sightings earlier): read the bucket head and start loading the entry it links to when the
    /// node's hash is this packet's — every cache line of it, as <see cref="ConntrackIn"/> reads the
    /// tuple, the timeout, the status, the protocol state and the counters. A head for another hash
    /// gets only its next link loaded. A hint like the first stage: no state changes. Called too soon
    /// after the first stage it waits for the bucket itself, so the caller keeps the two apart.
    /// </summary>
    public unsafe void PrefetchEntry(in DecodedPacket p)
    {
        if (!Sse.IsSupported || !p.HasIp || !PktToTuple(in p, out NfConntrackTuple tuple))
            return;
        uint hash = Hash(in tuple, 0);
        CtHashLink head = _buckets[Bucket(hash)];
        if (head.Node < 0)
            return;
        if (head.Hash != hash)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref _next[head.Node]));
            return;
        }
        byte* e = (byte*)Unsafe.AsPointer(ref _entries[head.Node >> 1]);
        for (int off = 0; off < Unsafe.SizeOf<NfConn>(); off += 64)
            Sse.Prefetch0(e + off);
        Sse.Prefetch0(e + Unsafe.SizeOf<NfConn>() - 1);
    }

    /// <summary>
    /// nf_conntrack_confirm / __nf_conntrack_confirm: insert an unconfirmed entry into the hash at the
    /// end of POSTROUTING/INPUT and send its NEW event. Confirmed or no entry: nothing to do. Returns
    /// false (drop the packet) when either tuple was inserted meanwhile — an insert clash — and the
    /// entry is then gone.
    /// </summary>
    public bool Confirm(int entry, long now)
    {
        if (entry < 0)
            return true;
        ref NfConn ct = ref this[entry];
        if (ct.IsConfirmed)
            return true;
        if (FindNodeNoExpire(in ct.Orig, ct.Zone) >= 0 || FindNodeNoExpire(in ct.Reply, ct.Zone) >= 0)
        {
            FreeSlot(entry);
            return false;
        }
        Link(entry);
        ct.Status |= CtStatus.Confirmed;
        ct.StartNs = now;
        NfctEventMask mask = NfctEventMask.New | ct.PendingEvents;
        ct.PendingEvents = NfctEventMask.None;
        Emit(NfctEventType.New, mask, now, entry);
        return true;
    }

    /// <summary>
    /// The packet that created an unconfirmed entry was dropped: the entry goes with it (nf_ct_put of an
    /// unconfirmed ct). Every NEW entry must end in <see cref="Confirm"/> or <see cref="Abort"/>, as every
    /// skb is either confirmed or freed; one left pending keeps its slot and never expires.
    /// </summary>
    public void Abort(int entry)
    {
        if (entry < 0 || (uint)entry >= (uint)_highWater)
            return;
        ref NfConn ct = ref _entries[entry];
        if ((ct.Slot & SlotFlags.InUse) != 0 && !ct.IsConfirmed)
            FreeSlot(entry);
    }

    /// <summary>Set ctmark (CONNMARK/MARK on ct); a change of a confirmed entry raises IPCT_MARK.</summary>
    public void SetMark(int entry, uint mark, long now)
    {
        ref NfConn ct = ref this[entry];
        if (ct.Mark == mark)
            return;
        ct.Mark = mark;
        if (ct.IsConfirmed)
        {
            ct.PendingEvents |= NfctEventMask.Mark;
            DeliverUpdate(entry, now);
        }
    }

    // ---------------------------------------------------------------- NAT's view

    /// <summary>
    /// nf_conntrack_alter_reply: NAT replaces the reply tuple of a connection it is binding. Only an
    /// unconfirmed entry may change (the kernel WARNs otherwise): a confirmed one is hashed by it.
    /// </summary>
    public void AlterReply(int entry, in NfConntrackTuple newReply)
    {
        ref NfConn ct = ref this[entry];
        if (ct.IsConfirmed)
            throw new InvalidOperationException("nf_conntrack_alter_reply on a confirmed connection");
        ct.Reply = newReply;
    }

    /// <summary>
    /// Not a kernel operation: moves a confirmed entry's reply tuple to <paramref name="newReply"/>, as
    /// if NAT had chosen it when the entry was made. For a port the kernel chose at random (a clash in
    /// nf_nat_l4proto_unique_tuple takes get_random_u16() for SNAT) and the capture shows: from then on
    /// the flow meets the entry the host really held. False, and nothing changed, when the entry is not
    /// live or another entry holds that tuple.
    /// </summary>
    public bool AdoptReply(int entry, in NfConntrackTuple newReply, long now)
    {
        if (!IsLive(entry))
            return false;
        ref NfConn ct = ref _entries[entry];
        if (TupleTaken(in newReply, ct.Zone, entry, now))
            return false;
        int node = (entry * 2) + 1;
        UnlinkNode(Bucket(_nodeHash[node]), node);
        ct.Reply = newReply;
        uint hash = Hash(in newReply, ct.Zone);
        int bucket = Bucket(hash);
        _nodeHash[node] = hash;
        _next[node] = _buckets[bucket];
        _buckets[bucket] = new CtHashLink(node, hash);
        return true;
    }

    /// <summary>
    /// nf_conntrack_tuple_taken: is <paramref name="tuple"/> already one direction of a confirmed,
    /// unexpired connection other than <paramref name="ignoredEntry"/> (the one being NATed, -1 for
    /// none) and not the same flow as it? NAT's nf_nat_used_tuple asks it with the inverse of the tuple
    /// it would create (i.e. the candidate reply tuple).
    /// </summary>
    public bool TupleTaken(in NfConntrackTuple tuple, ushort zone, int ignoredEntry, long now)
    {
        uint hash = Hash(in tuple, zone);
        for (CtHashLink l = _buckets[Bucket(hash)]; l.Node >= 0; l = _next[l.Node])
        {
            if (l.Hash != hash)
                continue;
            int n = l.Node;
            ref NfConn c = ref _entries[n >> 1];
            if (c.Zone != zone || (n >> 1) == ignoredEntry || now >= c.Timeout || !TupleEquals(in NodeTuple(ref c, n), in tuple))
                continue;
            // "If the *original tuples* are identical, then both conntracks refer to the same flow":
            // left to clash resolution at confirm.
            if (ignoredEntry >= 0 && TupleEquals(in _entries[ignoredEntry].Orig, in c.Orig))
                continue;
            return true;
        }
        return false;
    }

    /// <summary>nf_conntrack_find_get: the entry and direction a tuple belongs to, or (-1, Original).</summary>
    public (int Entry, CtDirection Direction) Find(in NfConntrackTuple tuple, ushort zone, long now)
    {
        int node = FindNode(in tuple, zone, Hash(in tuple, zone), now);
        return node < 0 ? (-1, CtDirection.Original) : (node >> 1, (CtDirection)(node & 1));
    }

    /// <summary>Remove every connection whose deadline is at or before <paramref name="now"/> (gc_worker run to completion).</summary>
    public void ExpireUntil(long now)
    {
        FlushDeferred();
        for (int i = 0; i < _highWater; i++)
        {
            if (now >= _expires[i] && (_entries[i].Slot & SlotFlags.Hashed) != 0)
                Destroy(i, _expires[i], deferFree: false);
        }
    }

    /// <summary>nf_ct_delete: remove a connection now (conntrack -D, or a tracker's nf_ct_kill).</summary>
    public void Delete(int entry, long now)
    {
        ref NfConn c = ref this[entry];
        if ((c.Slot & SlotFlags.DeferredFree) == 0)
            Destroy(entry, now, deferFree: false);
    }

    // ---------------------------------------------------------------- the starting table

    /// <summary>
    /// The snapshot's conntrack.txt entries: inserted, confirmed, when the first packet arrives (or at
    /// <see cref="Start"/>), with deadlines counted from that packet's time.
    /// </summary>
    public void LoadInitial(IReadOnlyList<ConntrackListEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        _initial = entries;
    }

    /// <summary>Make the loaded starting table live at <paramref name="now"/>; the first packet does it otherwise.</summary>
    public void Start(long now)
    {
        var initial = _initial;
        if (initial is null)
            return;
        _initial = null;
        foreach (var e in initial)
        {
            NfConntrackTuple orig = e.Orig, reply = e.Reply;
            uint hash = Hash(in orig, e.Zone);
            if (FindNodeNoExpire(in orig, e.Zone) >= 0 || FindNodeNoExpire(in reply, e.Zone) >= 0)
                continue; // a duplicate line: the kernel cannot hold two entries with one tuple
            int idx = Alloc(hash, now);
            if (idx < 0)
                break;
            ref NfConn ct = ref _entries[idx];
            ct.Orig = e.Orig;
            ct.Reply = e.Reply;
            ct.Zone = e.Zone;
            ct.Mark = e.Mark;
            ct.Status = e.Status | CtStatus.Confirmed;
            SetTimeout(idx, now + (e.SecondsLeft * Second));
            ct.Tcp.State = e.TcpState;
            // The window history is not in the dump: track it like a connection picked up mid-stream
            // (tcp_new with loose=1 marks both directions SACK_PERM | BE_LIBERAL).
            ct.Tcp.Seen[0].Flags = ct.Tcp.Seen[1].Flags = TcpConntrackFlags.SackPerm | TcpConntrackFlags.BeLiberal;
            ct.Tcp.LastIndex = NfConntrackProtoTcp.TcpNoneSet;
            ct.StreamTs = now;
            if (e.HasCounters)
            {
                ct.Slot |= SlotFlags.Acct;
                ct.OrigPackets = e.OrigPackets;
                ct.OrigBytes = e.OrigBytes;
                ct.ReplyPackets = e.ReplyPackets;
                ct.ReplyBytes = e.ReplyBytes;
            }
            else
            {
                ct.Slot &= ~SlotFlags.Acct;
            }
            if (e.SecurityContext is not null)
                (_secctx ??= [])[idx] = e.SecurityContext;
            Link(idx);
            _started.Add(new NfStartedEntry(idx, now, e.Orig.Protocol, ct.Status, ct.Tcp.State, ct.Mark, e.SecondsLeft) { Orig = e.Orig });
        }
        // A table at nf_conntrack_max early-drops or reaps to make room, and may take back entries this
        // loop inserted (DESTROY events at this same time): only the entries still holding their slot
        // went live, the last one inserted where a slot was taken twice.
        var kept = new List<NfStartedEntry>(_started.Count);
        var slots = new HashSet<int>();
        for (int i = _started.Count - 1; i >= 0; i--)
        {
            var st = _started[i];
            if (slots.Add(st.Entry) && IsLive(st.Entry) && _entries[st.Entry].Orig == st.Orig)
                kept.Add(st);
        }
        kept.Reverse();
        _started.Clear();
        _started.AddRange(kept);
    }

    /// <summary>
    /// The starting table's entries as <see cref="Start"/> made them live, in slot order of insertion:
    /// what no conntrack event reports (the kernel had them before the capture began), kept for the run
    /// database's conntrack_start so the table can be rebuilt at any time of the run.
    /// </summary>
    public IReadOnlyList<NfStartedEntry> Started => _started;

    private readonly List<NfStartedEntry> _started = [];

    // ---------------------------------------------------------------- internals

    internal NfConntrackTimeouts Timeouts => _timeouts;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void BeginPacket(long now)
    {
        if (_initial is not null)
            Start(now);
        if (_deferredCount != 0)
            FlushDeferred();
        GcStep(now);
    }

    private void FlushDeferred()
    {
        for (int i = 0; i < _deferredCount; i++)
            FreeSlot(_deferred[i]);
        _deferredCount = 0;
    }

    /// <summary>gc_worker's share of this packet: look at a few slots and expire what is due.</summary>
    private void GcStep(long now)
    {
        int hw = _highWater;
        if (hw == 0)
            return;
        int cursor = _gcCursor;
        for (int i = 0; i < GcSlotsPerPacket; i++)
        {
            if (cursor >= hw)
                cursor = 0;
            if (now >= _expires[cursor] && (_entries[cursor].Slot & SlotFlags.Hashed) != 0)
                Destroy(cursor, _expires[cursor], deferFree: false);
            cursor++;
        }
        _gcCursor = cursor;
    }

    internal void RefreshAcct(int idx, ref NfConn ct, CtDirection dir, int bytes, long timeout, long now)
    {
        if ((ct.Status & CtStatus.FixedTimeout) == 0)
        {
            ct.Timeout = now + timeout;
            _expires[idx] = ct.Timeout;
        }
        Acct(ref ct, dir, bytes);
    }

    /// <summary>Every deadline change goes through here or <see cref="RefreshAcct"/>, keeping the sweep's copy right.</summary>
    internal void SetTimeout(int idx, long deadline)
    {
        _entries[idx].Timeout = deadline;
        _expires[idx] = deadline;
    }

    internal static void Acct(ref NfConn ct, CtDirection dir, int bytes)
    {
        if ((ct.Slot & SlotFlags.Acct) == 0)
            return;
        if (dir == CtDirection.Original)
        {
            ct.OrigPackets++;
            ct.OrigBytes += (ulong)bytes;
        }
        else
        {
            ct.ReplyPackets++;
            ct.ReplyBytes += (ulong)bytes;
        }
    }

    /// <summary>nf_ct_kill from a tracker while the packet still refers to the entry: destroyed now, slot recycled at the next packet.</summary>
    internal void Kill(int idx, long now) => Destroy(idx, now, deferFree: true);

    private L4Verdict HandlePacket(ref NfConn ct, int idx, in DecodedPacket p, ReadOnlySpan<byte> frame, CtDirection dir, long now, out CtReason reason)
    {
        reason = CtReason.None;
        switch (p.Protocol)
        {
            case L4Protocol.Tcp:
                return NfConntrackProtoTcp.Packet(this, ref ct, idx, in p, frame, dir, now, out reason);
            case L4Protocol.Udp:
            case L4Protocol.UdpLite:
                return NfConntrackProtoUdp.Packet(this, ref ct, idx, in p, dir, now, out reason);
            // icmp_packet / icmpv6_packet refuse the other family (state->pf check).
            case L4Protocol.Icmp:
                if (!p.IsIpv4)
                {
                    reason = CtReason.IcmpNotNew;
                    return L4Verdict.Invalid;
                }
                return NfConntrackProtoIcmp.Packet(this, ref ct, idx, in p, dir, now, out reason);
            case L4Protocol.Icmpv6:
                if (!p.IsIpv6)
                {
                    reason = CtReason.IcmpNotNew;
                    return L4Verdict.Invalid;
                }
                return NfConntrackProtoIcmpv6.Packet(this, ref ct, idx, in p, dir, now, out reason);
            case L4Protocol.Gre:
                return NfConntrackProtoGeneric.GrePacket(this, ref ct, idx, in p, dir, now);
            default:
                return NfConntrackProtoGeneric.Packet(this, ref ct, idx, in p, dir, now);
        }
    }

    /// <summary>
    /// nf_ct_get_tuple: the packet's original-direction tuple. TCP, UDP, UDP-Lite, SCTP and DCCP key on
    /// ports; ICMP/ICMPv6 on id, type and code; GRE on keys (0 without the PPTP helper); anything else on
    /// addresses and protocol only (nf_conntrack_proto_generic.c).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool PktToTuple(in DecodedPacket p, out NfConntrackTuple tuple)
    {
        ushort sport = 0, dport = 0;
        byte type = 0, code = 0;
        switch (p.Protocol)
        {
            case L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.UdpLite or L4Protocol.Sctp or 33: // 33 = DCCP
                if ((p.Layers & Layers.Transport) == 0 && p.SrcPort == 0 && p.DstPort == 0)
                {
                    tuple = default;
                    return false;
                }
                sport = p.SrcPort;
                dport = p.DstPort;
                break;
            case L4Protocol.Icmp or L4Protocol.Icmpv6:
                if ((p.Layers & Layers.Transport) == 0)
                {
                    tuple = default;
                    return false;
                }
                sport = p.IcmpId;
                type = p.IcmpType;
                code = p.IcmpCode;
                break;
        }
        tuple = new NfConntrackTuple(p.Src, p.Dst, sport, dport, p.Protocol, p.IsIpv6, type, code);
        return true;
    }

    /// <summary>nf_ct_invert_tuple: fails for an ICMP type without a reply type (icmp_invert_tuple / icmpv6_invert_tuple).</summary>
    internal static bool TryInvert(in NfConntrackTuple t, out NfConntrackTuple inverse)
    {
        if ((t.Protocol == L4Protocol.Icmp && !NfConntrackProtoIcmp.HasInverse(t.IcmpType))
            || (t.Protocol == L4Protocol.Icmpv6 && !NfConntrackProtoIcmpv6.HasInverse(t.IcmpType)))
        {
            inverse = default;
            return false;
        }
        inverse = t.Invert();
        return true;
    }

    /// <summary>
    /// hash_conntrack_raw stand-in: a fixed mix of the tuple and zone. The kernel keys siphash with a
    /// random seed; a fixed function keeps replays reproducible (only bucket placement depends on it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint Hash(in NfConntrackTuple t, ushort zone)
    {
        // Short dependency chain: the bucket load waits on it for every packet. The addresses' low
        // words (all of IPv4) are summed rotated, the high words (IPv6 only) mixed in by a parallel
        // multiply, and one multiply spreads everything into the high 32 bits that reciprocal_scale uses.
        ulong small = ((ulong)t.SrcPort << 48) | ((ulong)t.DstPort << 32) | ((ulong)t.Protocol << 24)
            | ((ulong)t.IcmpType << 16) | ((ulong)t.IcmpCode << 8) | (t.IsV6 ? 1UL : 0UL);
        ulong x = t.Src.Lo + BitOperations.RotateLeft(t.Dst.Lo, 29) + BitOperations.RotateLeft(small ^ zone, 13);
        ulong y = (t.Src.Hi ^ BitOperations.RotateLeft(t.Dst.Hi, 41)) * 0xC2B2AE3D27D4EB4FUL;
        return (uint)(((x ^ y) * 0x9E3779B97F4A7C15UL) >> 32);
    }

    /// <summary>reciprocal_scale(hash, hsize), as the kernel maps a hash to a bucket.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Bucket(uint hash) => (int)(((ulong)hash * (ulong)(uint)_buckets.Length) >> 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref NfConntrackTuple NodeTuple(ref NfConn c, int node) =>
        ref (node & 1) == 0 ? ref c.Orig : ref c.Reply;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TupleEquals(in NfConntrackTuple a, in NfConntrackTuple b) =>
        a.Src.Lo == b.Src.Lo && a.Dst.Lo == b.Dst.Lo && a.SrcPort == b.SrcPort && a.DstPort == b.DstPort
        && a.Src.Hi == b.Src.Hi && a.Dst.Hi == b.Dst.Hi && a.Protocol == b.Protocol
        && a.IcmpType == b.IcmpType && a.IcmpCode == b.IcmpCode && a.IsV6 == b.IsV6;

    /// <summary>____nf_conntrack_find: the node holding the tuple; an expired match is removed on the way (nf_ct_gc_expired).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int FindNode(in NfConntrackTuple t, ushort zone, uint hash, long now)
    {
        NfConn[] entries = _entries;
        CtHashLink[] next = _next;
        for (CtHashLink l = _buckets[Bucket(hash)]; l.Node >= 0; l = next[l.Node])
        {
            if (l.Hash != hash)
                continue;
            int n = l.Node;
            ref NfConn c = ref entries[n >> 1];
            if (c.Zone == zone && TupleEquals(in NodeTuple(ref c, n), in t))
            {
                if (now >= c.Timeout)
                {
                    Destroy(n >> 1, c.Timeout, deferFree: false);
                    return -1;
                }
                return n;
            }
        }
        return -1;
    }

    private int FindNodeNoExpire(in NfConntrackTuple t, ushort zone)
    {
        uint hash = Hash(in t, zone);
        for (CtHashLink l = _buckets[Bucket(hash)]; l.Node >= 0; l = _next[l.Node])
        {
            if (l.Hash != hash)
                continue;
            int n = l.Node;
            ref NfConn c = ref _entries[n >> 1];
            if (c.Zone == zone && TupleEquals(in NodeTuple(ref c, n), in t))
                return n;
        }
        return -1;
    }

    /// <summary>
    /// __nf_conntrack_alloc's admission: over nf_conntrack_max, early_drop must free a slot first or the
    /// packet is dropped.
    /// </summary>
    private int Alloc(uint hash, long now)
    {
        if (_settings.Max > 0 && _count >= _settings.Max && !EarlyDrop(hash, now))
            return -1;
        int idx;
        if (_freeHead >= 0)
        {
            idx = _freeHead;
            _freeHead = _next[idx * 2].Node;
        }
        else
        {
            if (_highWater == _entries.Length)
            {
                long cap = (long)_entries.Length * 2;
                if (_settings.Max > 0)
                    cap = Math.Min(cap, _settings.Max + EvictionRange);
                cap = Math.Max(cap, _entries.Length + 1);
                int newCap = (int)Math.Min(cap, Array.MaxLength / 2);
                Array.Resize(ref _entries, newCap);
                Array.Resize(ref _next, newCap * 2);
                Array.Resize(ref _nodeHash, newCap * 2);
                int old = _expires.Length;
                Array.Resize(ref _expires, newCap);
                _expires.AsSpan(old).Fill(long.MaxValue);
            }
            idx = _highWater++;
        }
        ref NfConn c = ref _entries[idx];
        c = default;
        _next[idx * 2] = _next[(idx * 2) + 1] = CtHashLink.End;
        c.Slot = SlotFlags.InUse | (_settings.Acct ? SlotFlags.Acct : SlotFlags.Free);
        _count++;
        return idx;
    }

    /// <summary>
    /// early_drop / early_drop_list (6.x): from the new tuple's bucket, scan up to
    /// <see cref="EvictionRange"/> buckets; in the first bucket holding any, every confirmed entry that is
    /// not ASSURED is deleted (not only the oldest: that was the pre-4.7 rule). Expired entries met on the
    /// way are reaped. Unlike the kernel, where gc_worker has usually removed them already, reaping an
    /// expired entry also counts as success: this table's sweep is lazier than gc_worker.
    /// </summary>
    private bool EarlyDrop(uint hash, long now)
    {
        int bucket = Bucket(hash);
        int freed = 0;
        for (int i = 0; i < EvictionRange; i++)
        {
            int b = (bucket + i) % _buckets.Length;
            int drops = 0;
            bool again = true;
            while (again)
            {
                again = false;
                for (int n = _buckets[b].Node; n >= 0; n = _next[n].Node)
                {
                    ref NfConn c = ref _entries[n >> 1];
                    if (now >= c.Timeout)
                    {
                        Destroy(n >> 1, c.Timeout, deferFree: false);
                        freed++;
                        again = true;
                        break;
                    }
                    if ((c.Status & CtStatus.Assured) != 0 || (c.Slot & SlotFlags.DeferredFree) != 0)
                        continue;
                    Destroy(n >> 1, now, deferFree: false);
                    drops++;
                    again = true;
                    break;
                }
            }
            if (drops > 0)
            {
                EarlyDrops += drops;
                return true;
            }
            if (freed > 0)
                return true;
        }
        return false;
    }

    private void Link(int idx)
    {
        ref NfConn c = ref _entries[idx];
        int node = idx * 2;
        uint ho = Hash(in c.Orig, c.Zone);
        int bo = Bucket(ho);
        _nodeHash[node] = ho;
        _next[node] = _buckets[bo];
        _buckets[bo] = new CtHashLink(node, ho);
        uint hr = Hash(in c.Reply, c.Zone);
        int br = Bucket(hr);
        _nodeHash[node + 1] = hr;
        _next[node + 1] = _buckets[br];
        _buckets[br] = new CtHashLink(node + 1, hr);
        c.Slot |= SlotFlags.Hashed;
    }

    private void Unlink(int idx)
    {
        UnlinkNode(Bucket(_nodeHash[idx * 2]), idx * 2);
        UnlinkNode(Bucket(_nodeHash[(idx * 2) + 1]), (idx * 2) + 1);
        _entries[idx].Slot &= ~SlotFlags.Hashed;
    }

    private void UnlinkNode(int bucket, int node)
    {
        ref CtHashLink link = ref _buckets[bucket];
        while (link.Node >= 0)
        {
            if (link.Node == node)
            {
                link = _next[node];
                return;
            }
            link = ref _next[link.Node];
        }
    }

    private void Destroy(int idx, long time, bool deferFree)
    {
        ref NfConn c = ref _entries[idx];
        if ((c.Slot & SlotFlags.Hashed) != 0)
        {
            Unlink(idx);
            c.Status |= CtStatus.Dying;
            Emit(NfctEventType.Destroy, NfctEventMask.Destroy, time, idx);
        }
        if (deferFree)
        {
            c.Slot |= SlotFlags.DeferredFree;
            if (_deferredCount == _deferred.Length)
                Array.Resize(ref _deferred, _deferred.Length * 2);
            _deferred[_deferredCount++] = idx;
        }
        else
        {
            FreeSlot(idx);
        }
    }

    private void FreeSlot(int idx)
    {
        ref NfConn c = ref _entries[idx];
        if ((c.Slot & SlotFlags.InUse) == 0)
            return;
        if ((c.Slot & SlotFlags.Hashed) != 0)
            Unlink(idx);
        c.Slot = SlotFlags.Free;
        _expires[idx] = long.MaxValue;
        _next[idx * 2] = new CtHashLink(_freeHead, 0);
        _freeHead = idx;
        _count--;
        _secctx?.Remove(idx);
    }

    private void DeliverUpdate(int idx, long now)
    {
        ref NfConn c = ref _entries[idx];
        NfctEventMask mask = c.PendingEvents;
        c.PendingEvents = NfctEventMask.None;
        Emit(NfctEventType.Update, mask, now, idx);
    }

    private void Emit(NfctEventType type, NfctEventMask mask, long time, int idx)
    {
        if (!EventsEnabled)
            return;
        ref NfConn c = ref _entries[idx];
        if (_eventCount == _events.Length)
            Array.Resize(ref _events, _events.Length * 2);
        _events[_eventCount++] = new NfConntrackEvent(type, mask, time, idx, c.Orig, c.Reply, c.Zone, c.Status, c.Tcp.State, c.Mark,
            c.OrigPackets, c.OrigBytes, c.ReplyPackets, c.ReplyBytes, c.Timeout, c.HasAcct) { StartNs = c.StartNs };
    }
}

/// <summary>
/// A hash chain link (hlist_nulls_node's next) that also carries the hash of the node it points to, so
/// a lookup reads the bucket and then only the entry whose hash matches: one dependent cache miss
/// fewer than reading the node's hash from an array of its own.
/// </summary>
internal readonly record struct CtHashLink(int Node, uint Hash)
{
    public static CtHashLink End => new(-1, 0);
}

/// <summary>What an L4 tracker's packet() returns: NF_ACCEPT, -NF_ACCEPT (invalid), -NF_REPEAT, NF_DROP.</summary>
internal enum L4Verdict : byte
{
    Accept,
    Invalid,
    Repeat,
    Drop,
}
