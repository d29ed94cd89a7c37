using System.Runtime.InteropServices;
using TraceReplay.Capture.Decode;

namespace TraceReplay.Netfilter.Conntrack;

/// <summary>
/// One direction of a connection, as `struct nf_conntrack_tuple` (include/net/netfilter/nf_conntrack_tuple.h):
/// source and destination address, the L4 ids (TCP/UDP/SCTP/DCCP ports; ICMP: id in the source
/// "port", type and code in the destination; GRE: keys), the L3 and L4 protocol. A plain value type
/// so lookups hash and compare it without allocating.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public readonly record struct NfConntrackTuple(
    IpAddr Src,
    IpAddr Dst,
    ushort SrcPort,
    ushort DstPort,
    byte Protocol,
    bool IsV6,
    byte IcmpType = 0,
    byte IcmpCode = 0)
{
    /// <summary>
    /// The tuple seen from the other end: nf_ct_invert_tuple (for ICMP echo the type becomes its reply type).
    /// ICMP/ICMPv6 keep the echo id where it is (icmp_invert_tuple copies src.u.icmp.id): it is the
    /// same field in both directions, not a port pair.
    /// </summary>
    public NfConntrackTuple Invert() => Protocol is 1 or 58
        ? this with { Src = Dst, Dst = Src, IcmpType = InvertIcmpType(IcmpType, Protocol) }
        : this with { Src = Dst, Dst = Src, SrcPort = DstPort, DstPort = SrcPort };

    /// <summary>nf_conntrack_proto_icmp.c invmap / icmpv6 invmap: echo ↔ echo reply and the other request/reply pairs.</summary>
    public static byte InvertIcmpType(byte type, byte protocol) => protocol switch
    {
        1 => type switch
        {
            8 => 0, 0 => 8, 13 => 14, 14 => 13, 15 => 16, 16 => 15, 17 => 18, 18 => 17,
            _ => type,
        },
        58 => type switch
        {
            128 => 129, 129 => 128, 139 => 140, 140 => 139,
            _ => type,
        },
        _ => type,
    };

    public override string ToString() =>
        $"{(IsV6 ? "ipv6" : "ipv4")} proto {Protocol} src={Src} dst={Dst} sport={SrcPort} dport={DstPort}" + (Protocol is 1 or 58 ? $" type={IcmpType} code={IcmpCode}" : string.Empty);
}

/// <summary>
/// The direction a packet travels in its connection (enum ip_conntrack_dir): ORIGINAL is the
/// direction of the first packet, REPLY the other.
/// </summary>
public enum CtDirection : byte
{
    Original = 0,
    Reply = 1,
}

/// <summary>
/// What conntrack says of a packet (enum ip_conntrack_info, plus the untracked and invalid cases
/// that the kernel expresses as a null/template ct): the value `-m conntrack --ctstate` tests.
/// </summary>
public enum CtState : byte
{
    Invalid,
    New,
    Established,
    Related,
    Untracked,
}

/// <summary>The status bits of a connection (enum ip_conntrack_status, include/uapi/linux/netfilter/nf_conntrack_common.h).</summary>
[Flags]
public enum CtStatus : uint
{
    None = 0,
    Expected = 1 << 0,
    SeenReply = 1 << 1,
    Assured = 1 << 2,
    Confirmed = 1 << 3,
    SrcNat = 1 << 4,
    DstNat = 1 << 5,
    SeqAdjust = 1 << 6,
    SrcNatDone = 1 << 7,
    DstNatDone = 1 << 8,
    Dying = 1 << 9,
    FixedTimeout = 1 << 10,
    Template = 1 << 11,
    Untracked = 1 << 12,
    Helper = 1 << 13,
    Offload = 1 << 14,
    HwOffload = 1 << 15,
}
