using System.Runtime.InteropServices;

namespace TraceReplay.Capture.Decode;

/// <summary>Which layers of a frame were decoded (present in the captured bytes and well formed).</summary>
[Flags]
public enum Layers : ushort
{
    None = 0,
    Link = 1 << 0,
    Vlan = 1 << 1,
    Arp = 1 << 2,
    Ip = 1 << 3,
    Transport = 1 << 4,
    /// <summary>The IP header quoted by an ICMP/ICMPv6 error (and the first 8 bytes after it).</summary>
    InnerIp = 1 << 5,
    InnerTransport = 1 << 6,
}

[Flags]
public enum PacketFlags : ushort
{
    None = 0,
    /// <summary>The capture kept fewer bytes than were on the wire (snap length): layers past the cut are absent.</summary>
    Truncated = 1 << 0,
    /// <summary>A header is inconsistent with itself or with the frame; <see cref="DecodedPacket.Issue"/> says which.</summary>
    Malformed = 1 << 1,
    /// <summary>A fragment (IPv4 MF or offset, or an IPv6 fragment header).</summary>
    Fragment = 1 << 2,
    MoreFragments = 1 << 3,
    DontFragment = 1 << 4,
    /// <summary>An IPv6 fragment header with offset 0 and M=0 (RFC 6946).</summary>
    AtomicFragment = 1 << 5,
    IcmpError = 1 << 6,
    HasIpv4Options = 1 << 7,
}

/// <summary>IPv6 extension headers met on the chain, as ip6t_ipv6header's flags.</summary>
[Flags]
public enum Ipv6ExtHeaders : byte
{
    None = 0,
    HopByHop = 1 << 0,
    Routing = 1 << 1,
    Fragment = 1 << 2,
    DestinationOptions = 1 << 3,
    Authentication = 1 << 4,
    Esp = 1 << 5,
    NoNext = 1 << 6,
    Other = 1 << 7,
}

[Flags]
public enum TcpFlags : ushort
{
    None = 0,
    Fin = 0x01,
    Syn = 0x02,
    Rst = 0x04,
    Psh = 0x08,
    Ack = 0x10,
    Urg = 0x20,
    Ece = 0x40,
    Cwr = 0x80,
    /// <summary>The ECN nonce bit (RFC 3540, historic) in the data-offset byte.</summary>
    Ns = 0x100,
}

/// <summary>The first reason a frame was judged malformed.</summary>
public enum DecodeIssue : byte
{
    None,
    UnsupportedLinkType,
    LinkHeaderShort,
    VlanTagShort,
    IpVersionMismatch,
    Ipv4HeaderLength,
    Ipv4TotalLength,
    Ipv6PayloadLength,
    Ipv6ExtensionHeader,
    TcpHeaderShort,
    TcpDataOffset,
    UdpLength,
    IcmpShort,
    SctpShort,
    GreShort,
    EspShort,
    ArpShort,
    NflogTlv,
    NullFamily,
}

public static class L4Protocol
{
    public const byte HopByHop = 0;
    public const byte Icmp = 1;
    public const byte Igmp = 2;
    public const byte Tcp = 6;
    public const byte Udp = 17;
    public const byte Routing = 43;
    public const byte Fragment = 44;
    public const byte Gre = 47;
    public const byte Esp = 50;
    public const byte Ah = 51;
    public const byte Icmpv6 = 58;
    public const byte NoNext = 59;
    public const byte DestinationOptions = 60;
    public const byte Sctp = 132;
    public const byte UdpLite = 136;

    public static string Name(byte p) => p switch
    {
        Icmp => "icmp",
        Igmp => "igmp",
        Tcp => "tcp",
        Udp => "udp",
        Gre => "gre",
        Esp => "esp",
        Ah => "ah",
        Icmpv6 => "icmpv6",
        Sctp => "sctp",
        UdpLite => "udplite",
        _ => p.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

public static class EtherTypes
{
    public const ushort Ipv4 = 0x0800;
    public const ushort Arp = 0x0806;
    public const ushort Vlan = 0x8100;
    public const ushort Ipv6 = 0x86DD;
    public const ushort QinQ = 0x88A8;
    /// <summary>Pre-standard QinQ outer tag still met on some switches.</summary>
    public const ushort QinQLegacy = 0x9100;
}

/// <summary>
/// One frame's headers, decoded in place from the captured bytes (the struct view the pipeline passes
/// on): offsets into the frame plus the fields every later stage reads, so nothing is parsed twice and
/// nothing is allocated. Addresses are copied out (32 bytes) because conntrack hashes them.
/// Fields of layers not in <see cref="Layers"/> are zero. Auto layout packs the fields without padding:
/// the struct is cleared for every frame, so its size is per-packet cost.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public struct DecodedPacket
{
    // ---- frame ----
    public LinkType LinkType;
    public Layers Layers;
    public PacketFlags Flags;
    public DecodeIssue Issue;
    public int CapturedLength;
    public int WireLength;

    // ---- link layer ----
    /// <summary>SLL/SLL2 packet type (0 host, 1 broadcast, 2 multicast, 3 otherhost, 4 outgoing); 255 when the link layer has none.</summary>
    public byte LinkPacketType;
    /// <summary>SLL2 interface index, or NFLOG's input (else output) device index; 0 when unknown.</summary>
    public int LinkIfIndex;
    /// <summary>ARPHRD_* of SLL/SLL2 headers.</summary>
    public ushort ArpHardwareType;
    public MacAddr SrcMac;
    public MacAddr DstMac;
    public byte VlanCount;
    /// <summary>TPID of the outermost tag (0x8100, 0x88a8 or 0x9100).</summary>
    public ushort OuterVlanTpid;
    /// <summary>Tag control information (PCP, DEI, VID) of the outer and inner tags.</summary>
    public ushort OuterVlanTci;
    public ushort InnerVlanTci;
    public ushort EtherType;

    // ---- ARP (Ethernet/IPv4) ----
    public ushort ArpOperation;
    public MacAddr ArpSenderMac;
    public MacAddr ArpTargetMac;
    public IpAddr ArpSenderIp;
    public IpAddr ArpTargetIp;

    // ---- IP ----
    public ushort L3Offset;
    public byte IpVersion;
    /// <summary>IPv4 header length with options; for IPv6 40 plus every extension header before the upper protocol.</summary>
    public ushort IpHeaderLength;
    /// <summary>The datagram length as netfilter counts bytes: IPv4 tot_len, IPv6 40 + payload length.</summary>
    public int IpTotalLength;
    public byte Ttl;
    /// <summary>IPv4 TOS or IPv6 traffic class (DSCP + ECN).</summary>
    public byte Tos;
    public uint FlowLabel;
    /// <summary>IPv4 identification, or the IPv6 fragment header's identification.</summary>
    public uint IpId;
    /// <summary>Fragment offset in bytes.</summary>
    public int FragmentOffset;
    public byte Ipv4OptionsLength;
    public Ipv6ExtHeaders ExtHeaders;
    /// <summary>The upper-layer protocol: after the IPv6 extension-header chain, the first non-extension next header.</summary>
    public byte Protocol;
    public IpAddr Src;
    public IpAddr Dst;

    // ---- transport ----
    public ushort L4Offset;
    public ushort SrcPort;
    public ushort DstPort;
    public uint TcpSeq;
    public uint TcpAck;
    public TcpFlags TcpFlags;
    public ushort TcpWindow;
    public byte TcpHeaderLength;
    public byte IcmpType;
    public byte IcmpCode;
    /// <summary>ICMP/ICMPv6 echo (and timestamp/information) identifier: the "port" conntrack keys on.</summary>
    public ushort IcmpId;
    public ushort IcmpSeq;
    /// <summary>ESP/AH SPI, SCTP verification tag, or GRE key.</summary>
    public uint Spi;
    public ushort GreProtocol;
    public byte GreVersion;
    public ushort PayloadOffset;
    public int PayloadLength;

    // ---- the header quoted by an ICMP error ----
    public byte InnerProtocol;
    public IpAddr InnerSrc;
    public IpAddr InnerDst;
    public ushort InnerSrcPort;
    public ushort InnerDstPort;
    public byte InnerIcmpType;
    public ushort InnerIcmpId;

    public readonly bool IsTruncated => (Flags & PacketFlags.Truncated) != 0;
    public readonly bool IsMalformed => (Flags & PacketFlags.Malformed) != 0;
    public readonly bool HasIp => (Layers & Layers.Ip) != 0;
    public readonly bool HasTransport => (Layers & Layers.Transport) != 0;
    public readonly bool IsIpv4 => IpVersion == 4;
    public readonly bool IsIpv6 => IpVersion == 6;
    public readonly ushort OuterVlanId => (ushort)(OuterVlanTci & 0x0FFF);
    public readonly ushort InnerVlanId => (ushort)(InnerVlanTci & 0x0FFF);
}
