using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Bridge;

/// <summary>
/// The bridge hooks (enum nf_br_hook_priorities' hook numbers, include/uapi/linux/netfilter_bridge.h:
/// NF_BR_PRE_ROUTING 0 … NF_BR_POST_ROUTING 4, NF_BR_BROUTING 5).
/// </summary>
public enum NfBrHook : byte
{
    PreRouting = 0,
    LocalIn = 1,
    Forward = 2,
    LocalOut = 3,
    PostRouting = 4,
    Broute = 5,
}

/// <summary>A record a watcher (log, nflog) or arpreply made; the hook layer keeps or drops them.</summary>
public readonly record struct EbtRecord(EbtRecordKind Kind, EbtTableInfo Table, int Entry, string Prefix, ushort Group, MacAddr Mac, long TimeNs);

/// <summary>What an <see cref="EbtRecord"/> says happened.</summary>
public enum EbtRecordKind : byte
{
    /// <summary>ebt_log: a line in the kernel log.</summary>
    Log,

    /// <summary>ebt_nflog: a message to the NFLOG group.</summary>
    Nflog,

    /// <summary>ebt_arpreply: arp_send(ARPOP_REPLY …) out of the input port, with <see cref="EbtRecord.Mac"/> as the answer.</summary>
    ArpReply,
}

/// <summary>Receives watcher and arpreply records; null on the parameter when nobody listens.</summary>
public interface IEbtRecordSink
{
    void Record(in EbtRecord record, in DecodedPacket packet);
}

/// <summary>
/// The per-frame state of one ebt_do_table call: the sk_buff's bridge-visible fields and struct
/// nf_hook_state (in/out devices), as a ref struct so nothing is allocated per frame. The Ethernet
/// addresses live here rather than on <see cref="DecodedPacket"/> because snat/dnat/redirect rewrite
/// eth_hdr(skb) and every later rule and table reads the rewritten header.
/// </summary>
public ref struct EbtActionParam
{
    // ---- inputs ----
    public ref DecodedPacket Packet;

    /// <summary>The captured frame from its Ethernet header (the modules read the L3 header from it, as skb_header_pointer does).</summary>
    public ReadOnlySpan<byte> Frame;

    public NfBrHook Hook;

    /// <summary>state->in / state->out; null where the hook has none (no out at PREROUTING/INPUT/BROUTING, no in at OUTPUT/POSTROUTING).</summary>
    public string? InDev;
    public string? OutDev;

    /// <summary>The bridge of <see cref="InDev"/> / <see cref="OutDev"/> when it is a bridge port (br_port_get_rcu(in)->br->dev): --logical-in/--logical-out.</summary>
    public string? InBridge;
    public string? OutBridge;

    /// <summary>MAC of the input port (redirect in BROUTING) and of its bridge (redirect elsewhere, dnat's PACKET_HOST test).</summary>
    public MacAddr InPortMac;
    public MacAddr InBridgeMac;

    /// <summary>The frame's time on the capture clock, ns since the epoch (limit).</summary>
    public long TimeNs;

    public IEbtRecordSink? RecordSink;

    // ---- inputs that targets change ----

    /// <summary>eth_hdr(skb)->h_source / h_dest.</summary>
    public MacAddr SrcMac;
    public MacAddr DstMac;

    /// <summary>skb->pkt_type (PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3, OUTGOING 4).</summary>
    public byte PktType;

    /// <summary>skb->mark.</summary>
    public uint Mark;

    // ---- outputs ----

    /// <summary>snat --snat-arp rewrote the ARP sender hardware address to this (zero when not).</summary>
    public MacAddr ArpSenderMac;
    public bool ArpSenderMacChanged;

    /// <summary>The entry that last rewrote a MAC (snat, dnat, redirect), -1 when none: what the trace and the report name.</summary>
    public int MacRewriteEntry;

    /// <summary>The entry being evaluated (set by the traversal, for records).</summary>
    public int Entry;

    public EbtActionParam(ref DecodedPacket packet, ReadOnlySpan<byte> frame, NfBrHook hook)
    {
        Packet = ref packet;
        Frame = frame;
        Hook = hook;
        SrcMac = packet.SrcMac;
        DstMac = packet.DstMac;
        PktType = PktTypeOf(packet.DstMac, default);
        MacRewriteEntry = -1;
        Entry = -1;
    }

    /// <summary>
    /// eth_type_trans's pkt_type for a frame received on a device with address <paramref name="devMac"/>:
    /// broadcast, multicast (the group bit), host (our address), else otherhost.
    /// </summary>
    public static byte PktTypeOf(MacAddr dst, MacAddr devMac)
    {
        if (dst.Value == 0xFFFF_FFFF_FFFFUL)
            return 1;
        if ((dst.Value & 0x0100_0000_0000UL) != 0)
            return 2;
        return dst == devMac ? (byte)0 : (byte)3;
    }

    /// <summary>skb_vlan_tag_present: __netif_receive_skb_core untags every 802.1Q/802.1ad frame before the bridge sees it.</summary>
    public readonly bool VlanTagPresent => Packet.VlanCount > 0;

    /// <summary>
    /// Offset of the network header in <see cref="Frame"/> (skb->data at the bridge hooks): past the
    /// link header (Ethernet 14 bytes, a cooked SLL2 capture's 20) and the accelerated outer tag. A second
    /// (inner) tag stays in the payload.
    /// </summary>
    public readonly int NetworkOffset => Packet.L3Offset > 0
        ? Packet.L3Offset - (Packet.VlanCount > 1 ? 4 * (Packet.VlanCount - 1) : 0)
        : Packet.VlanCount > 0 ? 18 : 14;

    /// <summary>skb->len at the bridge hooks: the frame without its Ethernet header (and the accelerated tag), what ebtables counts as bytes.</summary>
    public readonly ulong SkbLen => (ulong)Math.Max(Packet.WireLength - NetworkOffset, 0);

    /// <summary>
    /// skb_header_pointer(skb, offset, len) failed: when the capture's snap length cut it the kernel
    /// had the bytes, so the answer is unknown; when the frame is really that short the module says no.
    /// </summary>
    public readonly Tristate Short(int endInFrame) =>
        Packet.WireLength >= endInFrame && Frame.Length < endInFrame ? Tristate.Unknown : Tristate.False;
}
