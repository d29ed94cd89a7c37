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
/// closed when conntrack destroys the entry.
/// </summary>
public sealed class NfNatHook(NfConntrackTable conntrack, NfNatCore core)
{
    private readonly List<NatMapping> _mappings = [];

    // Open mappings per entry and manip (a connection has at most one of each), so DESTROY can close them.
    private readonly Dictionary<(int Entry, NfNatManipType Manip), int> _open = [];

    /// <summary>Every binding set up so far, closed or live, in the order they were made.</summary>
    public IReadOnlyList<NatMapping> Mappings => _mappings;

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
        if (changed)
            conntrack.AlterReply(entry, reply);
        ct.Status = status;
        var mapping = NatMapping.Create(nowNs, ct.Orig, reply, ruleId, manip);
        if (ruleId >= 0 || changed)
        {
            _open[(entry, manip)] = _mappings.Count;
            _mappings.Add(mapping);
        }
        return NatVerdict.Accept;
    }

    /// <summary>
    /// The conntrack events since the last call: a DESTROY releases the connection's by-source slot
    /// (nf_nat_cleanup_conntrack) and closes its mapping records at the event's time.
    /// </summary>
    public void OnEvents(ReadOnlySpan<NfConntrackEvent> events)
    {
        foreach (ref readonly var e in events)
        {
            if (e.Type != NfctEventType.Destroy)
                continue;
            core.Destroy(e.Orig, e.Reply, e.Status);
            foreach (var manip in (ReadOnlySpan<NfNatManipType>)[NfNatManipType.Src, NfNatManipType.Dst])
            {
                if (_open.Remove((e.Entry, manip), out int index))
                    _mappings[index] = _mappings[index].Removed(e.Time);
            }
        }
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
