using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;

namespace TraceReplay.Netfilter.Tables;

/// <summary>
/// What conntrack attached to the packet (skb->_nfct and the entry behind it) as the matches and
/// targets read it: the ctinfo (state and direction), the entry's status, mark, tuples and time
/// left. <see cref="From"/> copies them from the conntrack table before a traversal;
/// <see cref="XtActionParam.CommitCtMark"/> writes <see cref="Mark"/> back after it.
/// </summary>
public struct NfCtInfo
{
    public CtState State;
    public CtDirection Direction;
    public CtStatus Status;

    /// <summary>ct->mark (CONNMARK, -m connmark).</summary>
    public uint Mark;
    public NfConntrackTuple Original;
    public NfConntrackTuple Reply;

    /// <summary>nf_ct_expires(ct) / HZ: whole seconds until the entry times out (-m conntrack --ctexpire).</summary>
    public uint ExpiresSeconds;

    /// <summary>The entry's index in <see cref="NfConntrackTable"/> (CtInfo.Entry), -1 when none.</summary>
    public int Entry;

    /// <summary>The entry has the accounting extension (nf_conn_acct_find); -m connbytes never matches without it.</summary>
    public bool HasAcct;

    /// <summary>
    /// The per-direction accounting (struct nf_conn_counter; -m connbytes turns accounting on for
    /// the namespace), the current packet included as nf_conntrack_in has counted it.
    /// </summary>
    public ulong OrigPackets, OrigBytes, ReplyPackets, ReplyBytes;

    /// <summary>For an expected (RELATED) connection, the name of the helper of its master (-m helper); else null.</summary>
    public string? MasterHelper;

    /// <summary>
    /// Whether nf_ct_get would return an entry: new, established and related packets have one;
    /// invalid and untracked ones do not (since Linux 4.12 both leave the ct pointer NULL).
    /// </summary>
    public readonly bool HasEntry => State is CtState.New or CtState.Established or CtState.Related;

    public static NfCtInfo Untracked => new() { State = CtState.Untracked, Entry = -1 };

    /// <summary>
    /// What the matches see of a packet conntrack has classified: the ctinfo from
    /// <see cref="NfConntrackTable.ConntrackIn"/> and, when there is an entry, its status, mark,
    /// tuples, accounting and time left (nf_ct_expires / HZ, whole seconds, at <paramref name="nowNs"/>).
    /// </summary>
    public static NfCtInfo From(NfConntrackTable table, CtInfo info, long nowNs)
    {
        var ct = default(NfCtInfo);
        Fill(ref ct, table, info, nowNs);
        return ct;
    }

    /// <summary>
    /// <see cref="From"/> written in place (into <see cref="XtActionParam.Ct"/>): the per-packet path then
    /// builds no temporary, whose wide copy would wait on the narrow stores that filled it.
    /// </summary>
    public static void Fill(ref NfCtInfo into, NfConntrackTable table, CtInfo info, long nowNs)
    {
        ArgumentNullException.ThrowIfNull(table);
        into = default;
        into.State = info.State;
        into.Direction = info.Direction;
        if (!info.HasEntry)
        {
            into.Entry = -1;
            return;
        }
        ref var ct = ref table[info.Entry];
        long left = ct.Timeout - nowNs;
        into.Status = ct.Status;
        into.Mark = ct.Mark;
        into.Original = ct.Orig;
        into.Reply = ct.Reply;
        into.ExpiresSeconds = left <= 0 ? 0 : (uint)Math.Min(left / 1_000_000_000, uint.MaxValue);
        into.Entry = info.Entry;
        into.HasAcct = ct.HasAcct;
        into.OrigPackets = ct.OrigPackets;
        into.OrigBytes = ct.OrigBytes;
        into.ReplyPackets = ct.ReplyPackets;
        into.ReplyBytes = ct.ReplyBytes;
    }
}

/// <summary>What a NAT target asked for; the hook layer hands it to the NAT core (nf_nat_setup_info).</summary>
public enum XtNatKind : byte
{
    None,
    Snat,
    Dnat,
    Masquerade,
    Redirect,
    Netmap,
}

/// <summary>A NAT target's request: the kind, the range as the target carries it, and which entry asked.</summary>
public readonly record struct XtNatRequest(XtNatKind Kind, NfNatManipType Manip, NfNatRange2 Range, int Entry);

/// <summary>What CT / NOTRACK asked of conntrack (xt_ct_target: attach a template or mark untracked); the hook layer applies it before conntrack runs.</summary>
public readonly record struct XtCtRequest(XtCtFlags Flags, ushort Zone, string Helper, string Timeout, int Entry)
{
    public bool Notrack => (Flags & XtCtFlags.Notrack) != 0;
}

/// <summary>REJECT's reply (reject_tg: nf_send_reset / nf_send_unreach): what the host would send back.</summary>
public readonly record struct XtRejectRecord(RejectWith With, int Entry);

/// <summary>A LOG or NFLOG record, as the kernel would write it to the log or the netlink group.</summary>
public readonly record struct XtLogRecord(int Entry, bool Nflog, string Prefix, byte Level, ushort Group, long TimeNs);

/// <summary>Receives LOG/NFLOG records; null on the context when nobody listens.</summary>
public interface IXtLogSink
{
    void Log(in XtLogRecord record, in DecodedPacket packet);
}

/// <summary>
/// The per-packet state a traversal hands to every match and target: the role of the sk_buff plus
/// `struct xt_action_param` (include/linux/netfilter/x_tables.h) and `struct nf_hook_state`. A ref
/// struct so nothing is allocated per packet: the decoded headers are referenced, not copied.
/// Inputs are filled by the hook layer; the fields under "outputs" are written by targets and
/// read back by the hook layer (they are the kernel's side effects on the skb and the ct).
/// </summary>
public ref struct XtActionParam
{
    // ---- inputs ----
    public ref DecodedPacket Packet;

    /// <summary>The captured bytes the headers were decoded from (tcp --tcp-option reads options from them).</summary>
    public ReadOnlySpan<byte> Frame;

    public NfInetHook Hook;

    /// <summary>state->in / state->out: null where the hook has none (no in device at OUTPUT/POSTROUTING, no out device at PREROUTING/INPUT).</summary>
    public string? InDev;
    public string? OutDev;
    public int InIfIndex;
    public int OutIfIndex;

    /// <summary>br_netfilter's nf_bridge_info exists (the packet crossed a bridge), with the bridge ports (-m physdev).</summary>
    public bool Bridged;
    public string? PhysInDev;
    public string? PhysOutDev;

    /// <summary>skb->pkt_type: 0 host, 1 broadcast, 2 multicast, 3 otherhost, 4 outgoing, 5 loopback (PACKET_*).</summary>
    public byte PktType;

    /// <summary>The skb has a MAC header (received on an Ethernet device; not for locally generated packets).</summary>
    public bool HasMacHeader;

    /// <summary>skb->sk is set: a locally generated packet (-m recent adds 1 to the TTL of forwarded ones only).</summary>
    public bool HasSocket;

    /// <summary>The packet's time on the capture clock, ns since the epoch.</summary>
    public long TimeNs;

    /// <summary>Receives LOG/NFLOG records; null to drop them.</summary>
    public IXtLogSink? LogSink;

    // ---- inputs that targets change ----

    /// <summary>skb->mark.</summary>
    public uint Mark;

    /// <summary>The conntrack info; CONNMARK changes <see cref="NfCtInfo.Mark"/>.</summary>
    public NfCtInfo Ct;

    // ---- outputs ----
    public bool CtMarkChanged;

    /// <summary>skb->nf_trace, set by TRACE.</summary>
    public bool NfTrace;

    /// <summary>xt_action_param.hotdrop: a match found the packet malformed; the table drops it.</summary>
    public bool HotDrop;

    public XtNatRequest Nat;
    public XtCtRequest CtRequest;
    public XtRejectRecord Reject;
    public ushort QueueNum;
    public bool QueueBypass;

    /// <summary>The entry being evaluated (set by the traversal, for records targets make).</summary>
    public int Entry;

    public XtActionParam(ref DecodedPacket packet, ReadOnlySpan<byte> frame, NfInetHook hook)
    {
        Packet = ref packet;
        Frame = frame;
        Hook = hook;
        Ct = NfCtInfo.Untracked;
        Entry = -1;
        Reject = new XtRejectRecord(default, -1);
        Nat = new XtNatRequest(XtNatKind.None, default, default, -1);
        CtRequest = new XtCtRequest(XtCtFlags.None, 0, string.Empty, string.Empty, -1);
    }

    public readonly bool IsV6 => Packet.IpVersion == 6;

    /// <summary>Writes a CONNMARK change back to the entry (ct->mark is the entry's; the table raises IPCT_MARK).</summary>
    public readonly void CommitCtMark(NfConntrackTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (CtMarkChanged && Ct.HasEntry && Ct.Entry >= 0)
            table.SetMark(Ct.Entry, Ct.Mark, TimeNs);
    }

    /// <summary>
    /// xt_action_param.fragoff: the fragment offset in 8-byte units (0 for a first fragment or an
    /// unfragmented packet); port matches refuse non-first fragments.
    /// </summary>
    public readonly int FragOff => Packet.FragmentOffset >> 3;

    /// <summary>
    /// The transport header a match wants is not in the capture: when the snap length cut it, the
    /// kernel had it and we cannot know its answer (unknown); when the packet itself is short, the
    /// kernel's skb_header_pointer fails and the match hotdrops.
    /// </summary>
    public Tristate MissingTransport()
    {
        if (Packet.IsTruncated)
            return Tristate.Unknown;
        HotDrop = true;
        return Tristate.False;
    }
}
