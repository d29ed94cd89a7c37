using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Netfilter.Nat;

/// <summary>
/// What the nat table decided for the first packet of a connection at one hook: a rule's range, or
/// nothing (no rule matched: a null binding), or a verdict of its own (a DROP in the nat table).
/// The hook graph implements it by running the nat chain of <c>hook</c>; a struct so the call is
/// not boxed.
/// </summary>
public interface INfNatRuleLookup
{
    /// <returns>true when a rule asked for NAT (<paramref name="range"/> and <paramref name="ruleId"/> set).</returns>
    bool Lookup(NfInetHook hook, in DecodedPacket packet, out NfNatRange2 range, out int ruleId);
}

/// <summary>
/// The NAT hooks joined to the connection tracker: nf_nat_inet_fn (net/netfilter/nf_nat_core.c)
/// with nf_nat_ipv4_fn / nf_nat_ipv6_fn's ICMP handling. On the first packet of a connection at a
/// hook of each manip type (DNAT: PREROUTING, OUTPUT; SNAT: POSTROUTING, INPUT) it asks the nat
/// table once and stores the binding in the unconfirmed entry (its reply tuple and status bits);
/// every later packet of both directions, and ICMP errors RELATED to the connection, is rewritten
/// from the entry without the nat table. Each binding becomes a <see cref="NatMapping"/> record,
/// closed when conntrack destroys the entry and then handed to <see cref="MappingSink"/>: the hook
/// keeps only the open bindings, so its memory follows the live connections (~110 B per open binding
/// with NfNatCore's by-source node, NatMappingMemoryTests), not the connections ever made.
/// </summary>
public sealed class NfNatHook(NfConntrackTable conntrack, NfNatCore core)
{
    private const int Examples = 10;

    // Open bindings per entry and manip (a connection has at most one of each: key entry * 2 + manip),
    // so DESTROY can close them. Only what DESTROY's copy of the entry cannot tell is kept: its
    // original tuple is the binding's, and so is its reply tuple, unless the other manip type bound
    // later and moved it (DNAT at PREROUTING, then a SNAT that had to change the reply): then the
    // reply as this binding left it waits in _replies (a DNAT's record must not show the SNAT).
    private readonly Dictionary<long, OpenBinding> _open = [];
    private readonly Dictionary<long, NfConntrackTuple> _replies = [];
    private readonly List<NatMapping> _first = [];

    // MappingsMade when the last batch of events was seen: a binding with a smaller sequence was made
    // before the current packet. A slot that conntrack freed during this packet (gc or a lookup reaped
    // an expired entry; its DESTROY is still pending) can hold a new connection by the time it binds,
    // and the two connections' bindings share a key: the sequence tells them apart.
    private long _sequenceAtEvents;

    // The ports the binding's rule allowed (its range, or the original port's class when the rule gave
    // none: nf_nat_l4proto_unique_tuple), so a port adopted from the capture can be checked against them.
    private readonly record struct OpenBinding(long SetUpNs, long Sequence, int RuleId, ushort MinPort = 0, ushort MaxPort = 0);

    /// <summary>Receives each binding when it closes; null drops the records (only the counts remain).</summary>
    public INfNatMappingSink? MappingSink { get; set; }

    /// <summary>Bindings set up so far (closed or open), of each manip type.</summary>
    public long MappingsMade => SrcMappingsMade + DstMappingsMade;

    public long SrcMappingsMade { get; private set; }

    public long DstMappingsMade { get; private set; }

    /// <summary>Bindings open now: one per live NATed connection and manip type.</summary>
    public int OpenCount => _open.Count;

    /// <summary>The first bindings of the run as they were set up (at most ten): examples for a summary.</summary>
    public IReadOnlyList<NatMapping> FirstMappings => _first;

    public NfNatCore Core => core;

    /// <summary>Failures to find a free tuple (the kernel drops the packet): the "NAT port exhaustion" signal.</summary>
    public long NoFreeTupleDrops { get; private set; }

    /// <summary>
    /// The hook for one packet. <paramref name="frame"/> is rewritten in place; the decoded view's
    /// addresses and ports are updated to match so later hooks see the translated packet.
    /// </summary>
    public NatVerdict Process<TLookup>(Span<byte> frame, ref DecodedPacket packet, CtInfo ctinfo, NfInetHook hook, long nowNs, ref TLookup lookup)
        where TLookup : INfNatRuleLookup
    {
        // No connection (untracked, invalid): nf_ct_get returns NULL and NAT lets the packet pass untouched.
        if (!ctinfo.HasEntry || ctinfo.State is CtState.Untracked or CtState.Invalid)
            return NatVerdict.Accept;
        int entry = ctinfo.Entry;
        var manip = NfNatTuple.HookToManip(hook);
        ref NfConn ct = ref conntrack[entry];

        // IP_CT_NEW and IP_CT_RELATED: set the binding up once per manip type ("seen it before?").
        if (ctinfo.State is CtState.New or CtState.Related && !NfNatTuple.Initialized(ct.Status, manip) && !ct.IsConfirmed)
        {
            var verdict = Bind(ref ct, entry, packet, hook, manip, nowNs, ref lookup);
            if (verdict != NatVerdict.Accept)
                return verdict;
        }

        var result = NfNatProto.Translate(frame, packet, ct.Orig, ct.Reply, ct.Status, ctinfo.State, manip, ctinfo.Direction);
        if (result == NatVerdict.Accept && NfNatTuple.NeedsManip(ct.Status, manip, ctinfo.Direction))
            Redecode(ref packet, ct, manip, ctinfo.Direction);
        return result;
    }

    private NatVerdict Bind<TLookup>(ref NfConn ct, int entry, in DecodedPacket packet, NfInetHook hook, NfNatManipType manip, long nowNs, ref TLookup lookup)
        where TLookup : INfNatRuleLookup
    {
        // The entry is unconfirmed, so a binding made before this packet under its slot is the previous
        // occupant's, reaped during this packet: close it with its pending DESTROY before the key is reused.
        if (IsStale(Key(entry, NfNatManipType.Src)) || IsStale(Key(entry, NfNatManipType.Dst)))
            CloseStale(entry);
        var taken = new TableTaken(conntrack, ct.Zone, entry, nowNs);
        var reply = ct.Reply;
        var status = ct.Status;
        NatVerdict verdict;
        int ruleId = -1;
        if (lookup.Lookup(hook, packet, out var range, out ruleId))
        {
            verdict = core.SetupInfo(ref taken, ct.Orig, ref reply, ref status, range, manip);
        }
        else
        {
            ruleId = -1;
            verdict = core.AllocNullBinding(ref taken, ct.Orig, ref reply, ref status, manip);
        }
        if (verdict != NatVerdict.Accept)
        {
            if (verdict == NatVerdict.DropNoFreeTuple)
                NoFreeTupleDrops++;
            return verdict;
        }
        // A null binding is a mapping only when a clash made it move the port; the other manip type's
        // translation (a DNAT before this SNAT hook) must not count as this one's.
        bool changed = !reply.Equals(ct.Reply);
        var other = manip == NfNatManipType.Src ? NfNatManipType.Dst : NfNatManipType.Src;
        if (changed && _open.ContainsKey(Key(entry, other)))
            _replies.TryAdd(Key(entry, other), ct.Reply); // not stale: CloseStale ran above
        if (changed)
            conntrack.AlterReply(entry, reply);
        ct.Status = status;
        if (ruleId >= 0 || changed)
        {
            long key = Key(entry, manip);
            long sequence = MappingsMade;
            if (manip == NfNatManipType.Src)
                SrcMappingsMade++;
            else
                DstMappingsMade++;
            var (minPort, maxPort) = PortsAllowed(range, ruleId, ct.Orig, manip);
            _open[key] = new OpenBinding(nowNs, sequence, ruleId, minPort, maxPort);
            if (_first.Count < Examples)
                _first.Add(NatMapping.Create(nowNs, ct.Orig, reply, ruleId, manip) with { Sequence = sequence });
        }
        return NatVerdict.Accept;
    }

    /// <summary>Source ports taken from the capture where the simulation chose another (<see cref="AdoptSourcePort"/>).</summary>
    public long SourcePortsAdopted { get; private set; }

    /// <summary>Seen source ports not taken: the connection was gone or another's, its binding not a plain SNAT, the port outside what the rule allowed, or held by another connection.</summary>
    public long SourcePortsNotAdopted { get; private set; }

    internal bool RefuseAdoption()
    {
        SourcePortsNotAdopted++;
        return false;
    }

    /// <summary>
    /// The source ports a SNAT binding could have taken: the rule's port range when it gave one, else the
    /// original port's class that nf_nat_l4proto_unique_tuple keeps (1–511, 600–1023, 1024–65535);
    /// (0, 0) for a null binding, which may only have moved within that class too.
    /// </summary>
    private static (ushort Min, ushort Max) PortsAllowed(in NfNatRange2 range, int ruleId, in NfConntrackTuple original, NfNatManipType manip)
    {
        if (manip != NfNatManipType.Src)
            return (0, 0);
        if (ruleId >= 0 && range.ProtoSpecified)
            return (range.MinProto, range.MaxProto);
        ushort port = original.SrcPort;
        return port < 1024 ? (port <= 511 ? ((ushort)1, (ushort)511) : ((ushort)600, (ushort)1023)) : ((ushort)1024, (ushort)65535);
    }

    /// <summary>
    /// The capture shows <paramref name="entry"/>'s first packet leaving with source port
    /// <paramref name="port"/> where this simulation's SNAT chose another: the kernel resolved a clash
    /// with a random port (nf_nat_l4proto_unique_tuple), which no replay can predict. The entry, the
    /// by-source index and the binding's record take the capture's port, so the replies to it find their
    /// connection. Only a plain SNAT binding of a port protocol is moved (not one a DNAT also rewrote);
    /// false when nothing was changed.
    /// </summary>
    public bool AdoptSourcePort(int entry, ushort port, long nowNs)
    {
        if (!conntrack.IsLive(entry))
            return RefuseAdoption();
        ref readonly NfConn ct = ref conntrack[entry];
        long key = Key(entry, NfNatManipType.Src);
        if ((ct.Status & CtStatus.SrcNat) == 0 || (ct.Status & CtStatus.DstNat) != 0 || ct.Orig.Protocol is not (6 or 17 or 132 or 136)
            || _replies.ContainsKey(key) || !_open.TryGetValue(key, out var binding) || port < binding.MinPort || port > binding.MaxPort)
        {
            return RefuseAdoption();
        }
        var old = ct.Reply;
        var moved = old with { DstPort = port };
        // The simulation moved a port the kernel kept (a clash only this replay had): the entry would
        // be un-NATed and the binding no mapping; that divergence is left as it is, not papered over.
        if (binding.RuleId < 0 && moved == ct.Orig.Invert())
            return RefuseAdoption();
        if (!conntrack.AdoptReply(entry, moved, nowNs))
            return RefuseAdoption();
        core.Rebind(ct.Orig, old, moved);
        for (int i = 0; i < _first.Count; i++)
        {
            if (_first[i].Sequence == binding.Sequence)
                _first[i] = NatMapping.Create(binding.SetUpNs, ct.Orig, moved, binding.RuleId, NfNatManipType.Src) with { Sequence = binding.Sequence };
        }
        SourcePortsAdopted++;
        return true;
    }

    private static long Key(int entry, NfNatManipType manip) => ((long)entry << 1) | (manip == NfNatManipType.Dst ? 1L : 0L);

    /// <summary>The record of an open binding, given its entry's tuples (DESTROY's copy, or the live entry's).</summary>
    private NatMapping Record(long key, in OpenBinding b, in NfConntrackTuple orig, in NfConntrackTuple reply)
    {
        var manip = (key & 1) == 0 ? NfNatManipType.Src : NfNatManipType.Dst;
        return NatMapping.Create(b.SetUpNs, orig, _replies.TryGetValue(key, out var own) ? own : reply, b.RuleId, manip) with { Sequence = b.Sequence };
    }

    private bool IsStale(long key) => _open.TryGetValue(key, out var b) && b.Sequence < _sequenceAtEvents;

    /// <summary>Closes the bindings of <paramref name="entry"/>'s previous connection with its pending DESTROY (the latest of the batch).</summary>
    private void CloseStale(int entry)
    {
        var events = conntrack.Events;
        for (int i = events.Length - 1; i >= 0; i--)
        {
            ref readonly var e = ref events[i];
            if (e.Type != NfctEventType.Destroy || e.Entry != entry)
                continue;
            Close(Key(entry, NfNatManipType.Src), e, e.Time);
            Close(Key(entry, NfNatManipType.Dst), e, e.Time);
            return;
        }
        // No event to close them with (events were cleared unseen): nothing true can be said of their end.
        _open.Remove(Key(entry, NfNatManipType.Src));
        _open.Remove(Key(entry, NfNatManipType.Dst));
        _replies.Remove(Key(entry, NfNatManipType.Src));
        _replies.Remove(Key(entry, NfNatManipType.Dst));
    }

    /// <summary>
    /// The packet that made <paramref name="entry"/> was dropped before confirmation (nf_conntrack_free of
    /// an unconfirmed ct, no event): its bindings end with it, at <paramref name="nowNs"/>. Call before
    /// conntrack forgets the entry.
    /// </summary>
    public void Abort(int entry, long nowNs)
    {
        ref readonly NfConn ct = ref conntrack[entry];
        var copy = new NfConntrackEvent(NfctEventType.Destroy, default, nowNs, entry, ct.Orig, ct.Reply, ct.Zone, ct.Status, default, 0, 0, 0, 0, 0, 0, false);
        foreach (long key in (ReadOnlySpan<long>)[Key(entry, NfNatManipType.Src), Key(entry, NfNatManipType.Dst)])
        {
            if (_open.TryGetValue(key, out var b) && b.Sequence >= _sequenceAtEvents)
                Close(key, copy, nowNs);
        }
    }

    private void Close(long key, in NfConntrackEvent e, long time)
    {
        if (!_open.Remove(key, out var b))
            return;
        var m = Record(key, b, e.Orig, e.Reply).Removed(time);
        _replies.Remove(key);
        MappingSink?.OnMappingClosed(m);
    }

    /// <summary>
    /// The bindings still open, each with its entry's original tuple (the entry is live: its tuple is
    /// the one the binding was made for). In no particular order; <see cref="NatMapping.Sequence"/> gives set-up order.
    /// </summary>
    public IEnumerable<NatMapping> OpenMappings()
    {
        foreach (var (key, b) in _open)
        {
            var ct = conntrack[(int)(key >> 1)];
            yield return Record(key, b, ct.Orig, ct.Reply);
        }
    }

    /// <summary>
    /// The conntrack events since the last call: a DESTROY releases the connection's by-source slot
    /// (nf_nat_cleanup_conntrack), closes its bindings at the event's time and hands them to <see cref="MappingSink"/>.
    /// </summary>
    public void OnEvents(ReadOnlySpan<NfConntrackEvent> events)
    {
        for (int i = 0; i < events.Length; i++)
        {
            ref readonly var e = ref events[i];
            if (e.Type != NfctEventType.Destroy)
                continue;
            core.Destroy(e.Orig, e.Reply, e.Status);
            foreach (long key in (ReadOnlySpan<long>)[Key(e.Entry, NfNatManipType.Src), Key(e.Entry, NfNatManipType.Dst)])
            {
                // A binding made during this packet belongs to the slot's new connection when a NEW of
                // the same slot follows this DESTROY: the DESTROY is its reaped predecessor's.
                if (_open.TryGetValue(key, out var b) && (b.Sequence < _sequenceAtEvents || !NewFollows(events, i)))
                    Close(key, e, e.Time);
            }
        }
        _sequenceAtEvents = MappingsMade;
    }

    private static bool NewFollows(ReadOnlySpan<NfConntrackEvent> events, int destroy)
    {
        for (int j = destroy + 1; j < events.Length; j++)
        {
            if (events[j].Type == NfctEventType.New && events[j].Entry == events[destroy].Entry)
                return true;
        }
        return false;
    }

    /// <summary>The decoded view follows the rewrite: the packet now looks like the inverse of the other direction's tuple on the manipulated side.</summary>
    private static void Redecode(ref DecodedPacket packet, in NfConn ct, NfNatManipType manip, CtDirection dir)
    {
        if ((packet.Flags & PacketFlags.IcmpError) != 0)
            return; // the outer addresses of an error are rewritten, but its ports belong to the quoted packet
        var target = NfNatTuple.Invert(dir == CtDirection.Original ? ct.Reply : ct.Orig);
        bool icmp = NfNatTuple.IsIcmp(packet.Protocol);
        if (manip == NfNatManipType.Src)
        {
            packet.Src = target.Src;
            if (icmp)
                packet.IcmpId = target.SrcPort;
            else
                packet.SrcPort = target.SrcPort;
        }
        else
        {
            packet.Dst = target.Dst;
            if (!icmp)
                packet.DstPort = target.DstPort;
        }
    }

    /// <summary>nf_nat_used_tuple → nf_conntrack_tuple_taken over the live table, ignoring the connection being bound.</summary>
    private readonly struct TableTaken(NfConntrackTable table, ushort zone, int ignored, long now) : INfConntrackTupleTaken
    {
        public bool IsTaken(in NfConntrackTuple reply) => table.TupleTaken(reply, zone, ignored, now);
    }
}
