using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TraceReplay.Capture.Decode;

/// <summary>
/// Decodes a captured frame into a <see cref="DecodedPacket"/> in one forward pass without allocating.
/// Missing bytes in a frame the capture cut short (caplen &lt; wire length) end the decode quietly with
/// <see cref="PacketFlags.Truncated"/>; missing bytes in a whole frame, or inconsistent fields, set
/// <see cref="PacketFlags.Malformed"/> with the reason. Both keep every layer decoded before the problem.
/// </summary>
public static class PacketDecoder
{
    private const int MaxVlanTags = 8;
    private const int MaxIpv6ExtHeaders = 16;

    /// <summary>Decodes <paramref name="frame"/> (the captured bytes) of link type <paramref name="linkType"/>.</summary>
    /// <param name="wireLength">The original length on the wire; less than frame.Length is treated as frame.Length.</param>
    public static void Decode(ReadOnlySpan<byte> frame, LinkType linkType, int wireLength, out DecodedPacket d)
    {
        d = default;
        d.LinkType = linkType;
        d.CapturedLength = frame.Length;
        d.WireLength = Math.Max(wireLength, frame.Length);
        d.LinkPacketType = 255;
        if (frame.Length < d.WireLength)
            d.Flags = PacketFlags.Truncated;

        switch (linkType)
        {
            case LinkType.Ethernet:
                DecodeEthernet(frame, ref d);
                break;
            case LinkType.LinuxSll2:
                DecodeSll2(frame, ref d);
                break;
            case LinkType.LinuxSll:
                DecodeSll(frame, ref d);
                break;
            case LinkType.Raw:
            case LinkType.RawBsd12:
            case LinkType.RawBsd14:
                d.Layers = Layers.Link;
                DecodeRawIp(frame, 0, ref d);
                break;
            case LinkType.Ipv4:
                d.Layers = Layers.Link;
                d.EtherType = EtherTypes.Ipv4;
                DecodeIpv4(frame, 0, ref d);
                break;
            case LinkType.Ipv6:
                d.Layers = Layers.Link;
                d.EtherType = EtherTypes.Ipv6;
                DecodeIpv6(frame, 0, ref d);
                break;
            case LinkType.Null:
            case LinkType.Loop:
                DecodeNull(frame, linkType, ref d);
                break;
            case LinkType.Nflog:
                DecodeNflog(frame, ref d);
                break;
            default:
                d.Flags |= PacketFlags.Malformed;
                d.Issue = DecodeIssue.UnsupportedLinkType;
                break;
        }
    }

    /// <summary>Records that <paramref name="issue"/>'s header needed bytes the frame does not have.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Short(ref DecodedPacket d, DecodeIssue issue)
    {
        if ((d.Flags & PacketFlags.Truncated) == 0)
            Malformed(ref d, issue);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Malformed(ref DecodedPacket d, DecodeIssue issue)
    {
        if (d.Issue == DecodeIssue.None)
            d.Issue = issue;
        d.Flags |= PacketFlags.Malformed;
    }

    private static void DecodeEthernet(ReadOnlySpan<byte> f, ref DecodedPacket d)
    {
        if (f.Length < 14)
        {
            Short(ref d, DecodeIssue.LinkHeaderShort);
            return;
        }
        d.DstMac = Mac(f, 0);
        d.SrcMac = Mac(f, 6);
        d.Layers = Layers.Link;
        DecodeEtherType(f, 12, ref d);
    }

    /// <summary>Reads the ethertype at <paramref name="at"/>, walks any 802.1Q/802.1ad tags, and decodes the payload.</summary>
    private static void DecodeEtherType(ReadOnlySpan<byte> f, int at, ref DecodedPacket d)
    {
        ushort type = U16(f, at);
        int offset = at + 2;
        while (type is EtherTypes.Vlan or EtherTypes.QinQ or EtherTypes.QinQLegacy)
        {
            if (f.Length < offset + 4)
            {
                d.EtherType = type;
                Short(ref d, DecodeIssue.VlanTagShort);
                return;
            }
            ushort tci = U16(f, offset);
            if (d.VlanCount == 0)
            {
                d.OuterVlanTpid = type;
                d.OuterVlanTci = tci;
            }
            else if (d.VlanCount == 1)
            {
                d.InnerVlanTci = tci;
            }
            d.VlanCount++;
            d.Layers |= Layers.Vlan;
            type = U16(f, offset + 2);
            offset += 4;
            if (d.VlanCount == MaxVlanTags)
                break;
        }
        d.EtherType = type;
        DecodeL3(f, offset, type, ref d);
    }

    private static void DecodeL3(ReadOnlySpan<byte> f, int offset, ushort etherType, ref DecodedPacket d)
    {
        // Where the network header starts whatever it is (the IP decoders set the same): a bridge forwards a
        // non-IP frame unchanged, so the correlator fingerprints ARP by these bytes, and ebtables reads
        // its headers here; behind a cooked (SLL/SLL2) header they do not start at 14.
        d.L3Offset = (ushort)offset;
        switch (etherType)
        {
            case EtherTypes.Ipv4:
                DecodeIpv4(f, offset, ref d);
                break;
            case EtherTypes.Ipv6:
                DecodeIpv6(f, offset, ref d);
                break;
            case EtherTypes.Arp:
                DecodeArp(f, offset, ref d);
                break;
            default:
                // 802.3 length field (LLC/STP), or an ethertype no netfilter table inspects: link layer only.
                break;
        }
    }

    /// <summary>Linux cooked capture v2 (DLT_LINUX_SLL2), what `tcpdump -i any` writes since libpcap 1.10.</summary>
    private static void DecodeSll2(ReadOnlySpan<byte> f, ref DecodedPacket d)
    {
        if (f.Length < 20)
        {
            Short(ref d, DecodeIssue.LinkHeaderShort);
            return;
        }
        d.LinkIfIndex = (int)U32(f, 4);
        d.ArpHardwareType = U16(f, 8);
        d.LinkPacketType = f[10];
        if (f[11] == 6)
            d.SrcMac = Mac(f, 12);
        d.Layers = Layers.Link;
        DecodeCookedPayload(f, 0, 20, ref d);
    }

    /// <summary>Linux cooked capture v1 (DLT_LINUX_SLL): packet type, but no interface index.</summary>
    private static void DecodeSll(ReadOnlySpan<byte> f, ref DecodedPacket d)
    {
        if (f.Length < 16)
        {
            Short(ref d, DecodeIssue.LinkHeaderShort);
            return;
        }
        d.LinkPacketType = (byte)U16(f, 0);
        d.ArpHardwareType = U16(f, 2);
        if (U16(f, 4) == 6)
            d.SrcMac = Mac(f, 6);
        d.Layers = Layers.Link;
        DecodeCookedPayload(f, 14, 16, ref d);
    }

    private static void DecodeCookedPayload(ReadOnlySpan<byte> f, int protocolAt, int payloadAt, ref DecodedPacket d)
    {
        const ushort ArphrdNetlink = 824;
        if (d.ArpHardwareType == ArphrdNetlink)
            return; // netlink monitor frames on nlmon: not IP
        ushort protocol = U16(f, protocolAt);
        if (protocol is EtherTypes.Vlan or EtherTypes.QinQ or EtherTypes.QinQLegacy)
        {
            DecodeEtherType(f, protocolAt, ref d);
            return;
        }
        d.EtherType = protocol;
        DecodeL3(f, payloadAt, protocol, ref d);
    }

    /// <summary>DLT_NULL (address family in the capturing host's byte order) and DLT_LOOP (network order).</summary>
    private static void DecodeNull(ReadOnlySpan<byte> f, LinkType lt, ref DecodedPacket d)
    {
        if (f.Length < 4)
        {
            Short(ref d, DecodeIssue.LinkHeaderShort);
            return;
        }
        uint family = U32(f, 0);
        if (lt == LinkType.Null && (family & 0xFFFF) == 0)
            family = BinaryPrimitives.ReadUInt32LittleEndian(f);
        d.Layers = Layers.Link;
        switch (family)
        {
            case 2: // AF_INET everywhere
                d.EtherType = EtherTypes.Ipv4;
                DecodeIpv4(f, 4, ref d);
                break;
            case 10 or 24 or 28 or 30: // AF_INET6: Linux, NetBSD/OpenBSD, FreeBSD, Darwin
                d.EtherType = EtherTypes.Ipv6;
                DecodeIpv6(f, 4, ref d);
                break;
            default:
                Malformed(ref d, DecodeIssue.NullFamily);
                break;
        }
    }

    /// <summary>LINKTYPE_NFLOG: an nflog header, then TLVs in host byte order; the packet is NFULA_PAYLOAD.</summary>
    private static void DecodeNflog(ReadOnlySpan<byte> f, ref DecodedPacket d)
    {
        const int NfulaIfindexIndev = 4, NfulaIfindexOutdev = 5, NfulaPayload = 9;
        if (f.Length < 4)
        {
            Short(ref d, DecodeIssue.LinkHeaderShort);
            return;
        }
        byte family = f[0];
        d.Layers = Layers.Link;
        int offset = 4;
        while (offset + 4 <= f.Length)
        {
            int length = BinaryPrimitives.ReadUInt16LittleEndian(f[offset..]);
            int type = BinaryPrimitives.ReadUInt16LittleEndian(f[(offset + 2)..]) & 0x7FFF;
            if (length < 4)
            {
                Malformed(ref d, DecodeIssue.NflogTlv);
                return;
            }
            if (offset + length > f.Length)
            {
                if (type != NfulaPayload)
                {
                    Short(ref d, DecodeIssue.NflogTlv);
                    return;
                }
                length = f.Length - offset; // payload cut by the snap length: decode what is there
            }
            var value = f.Slice(offset + 4, length - 4);
            switch (type)
            {
                case NfulaIfindexIndev when value.Length >= 4:
                    d.LinkIfIndex = BinaryPrimitives.ReadInt32BigEndian(value);
                    d.LinkPacketType = 0;
                    break;
                case NfulaIfindexOutdev when value.Length >= 4 && d.LinkIfIndex == 0:
                    d.LinkIfIndex = BinaryPrimitives.ReadInt32BigEndian(value);
                    d.LinkPacketType = 4;
                    break;
                case NfulaPayload:
                    if (family == 2)
                    {
                        d.EtherType = EtherTypes.Ipv4;
                        DecodeIpv4(f, offset + 4, ref d, offset + length);
                    }
                    else if (family == 10)
                    {
                        d.EtherType = EtherTypes.Ipv6;
                        DecodeIpv6(f, offset + 4, ref d, offset + length);
                    }
                    return;
            }
            offset += (length + 3) & ~3;
        }
    }

    private static void DecodeRawIp(ReadOnlySpan<byte> f, int offset, ref DecodedPacket d)
    {
        if (f.Length <= offset)
        {
            Short(ref d, DecodeIssue.IpVersionMismatch);
            return;
        }
        switch (f[offset] >> 4)
        {
            case 4:
                d.EtherType = EtherTypes.Ipv4;
                DecodeIpv4(f, offset, ref d);
                break;
            case 6:
                d.EtherType = EtherTypes.Ipv6;
                DecodeIpv6(f, offset, ref d);
                break;
            default:
                Malformed(ref d, DecodeIssue.IpVersionMismatch);
                break;
        }
    }

    private static void DecodeArp(ReadOnlySpan<byte> f, int o, ref DecodedPacket d)
    {
        if (f.Length < o + 8)
        {
            Short(ref d, DecodeIssue.ArpShort);
            return;
        }
        d.ArpOperation = U16(f, o + 6);
        byte hlen = f[o + 4], plen = f[o + 5];
        ushort htype = U16(f, o);
        ushort ptype = U16(f, o + 2);
        d.Layers |= Layers.Arp;
        if (htype != 1 || ptype != EtherTypes.Ipv4 || hlen != 6 || plen != 4)
            return; // only Ethernet/IPv4 ARP carries addresses arptables-style matches use
        if (f.Length < o + 28)
        {
            d.Layers &= ~Layers.Arp;
            Short(ref d, DecodeIssue.ArpShort);
            return;
        }
        d.ArpSenderMac = Mac(f, o + 8);
        d.ArpSenderIp = V4(f, o + 14);
        d.ArpTargetMac = Mac(f, o + 18);
        d.ArpTargetIp = V4(f, o + 24);
    }

    /// <param name="end">Where the datagram's container ends (the frame end unless a TLV bounds it).</param>
    private static void DecodeIpv4(ReadOnlySpan<byte> f, int o, ref DecodedPacket d, int end = -1)
    {
        if (end >= 0)
            f = f[..end];
        if (f.Length < o + 20)
        {
            Short(ref d, DecodeIssue.Ipv4HeaderLength);
            return;
        }
        byte vihl = f[o];
        if (vihl >> 4 != 4)
        {
            Malformed(ref d, DecodeIssue.IpVersionMismatch);
            return;
        }
        int ihl = (vihl & 0xF) * 4;
        int total = U16(f, o + 2);
        if (ihl < 20 || total < ihl)
        {
            Malformed(ref d, ihl < 20 ? DecodeIssue.Ipv4HeaderLength : DecodeIssue.Ipv4TotalLength);
            return;
        }
        if (f.Length < o + ihl)
        {
            Short(ref d, DecodeIssue.Ipv4HeaderLength);
            return;
        }
        d.L3Offset = (ushort)o;
        d.IpVersion = 4;
        d.IpHeaderLength = (ushort)ihl;
        d.IpTotalLength = total;
        d.Tos = f[o + 1];
        d.IpId = U16(f, o + 4);
        ushort frag = U16(f, o + 6);
        d.FragmentOffset = (frag & 0x1FFF) * 8;
        if ((frag & 0x4000) != 0)
            d.Flags |= PacketFlags.DontFragment;
        if ((frag & 0x2000) != 0)
            d.Flags |= PacketFlags.MoreFragments | PacketFlags.Fragment;
        if (d.FragmentOffset != 0)
            d.Flags |= PacketFlags.Fragment;
        d.Ttl = f[o + 8];
        d.Protocol = f[o + 9];
        d.Src = V4(f, o + 12);
        d.Dst = V4(f, o + 16);
        if (ihl > 20)
        {
            d.Ipv4OptionsLength = (byte)(ihl - 20);
            d.Flags |= PacketFlags.HasIpv4Options;
        }
        d.Layers |= Layers.Ip;

        // Trailing bytes past tot_len are Ethernet padding; fewer bytes than tot_len is a cut or a lie.
        int datagramEnd = o + total;
        if (datagramEnd > f.Length)
        {
            if ((d.Flags & PacketFlags.Truncated) == 0)
            {
                Malformed(ref d, DecodeIssue.Ipv4TotalLength);
                return;
            }
            datagramEnd = f.Length;
        }
        if (d.FragmentOffset != 0)
            return; // only the first fragment carries the transport header
        DecodeTransport(f[..datagramEnd], o + ihl, d.Protocol, ref d);
    }

    private static void DecodeIpv6(ReadOnlySpan<byte> f, int o, ref DecodedPacket d, int end = -1)
    {
        if (end >= 0)
            f = f[..end];
        if (f.Length < o + 40)
        {
            Short(ref d, DecodeIssue.Ipv6PayloadLength);
            return;
        }
        uint first = U32(f, o);
        if (first >> 28 != 6)
        {
            Malformed(ref d, DecodeIssue.IpVersionMismatch);
            return;
        }
        int payloadLength = U16(f, o + 4);
        d.L3Offset = (ushort)o;
        d.IpVersion = 6;
        d.Tos = (byte)(first >> 20);
        d.FlowLabel = first & 0xFFFFF;
        d.IpTotalLength = 40 + payloadLength;
        d.Ttl = f[o + 7];
        d.Src = V6(f, o + 8);
        d.Dst = V6(f, o + 24);
        d.Layers |= Layers.Ip;

        int datagramEnd = o + 40 + payloadLength;
        if (datagramEnd > f.Length)
        {
            // A payload length of 0 with a hop-by-hop jumbo option is legal (RFC 2675) but not met on Linux hosts below 64 KB MTUs.
            if ((d.Flags & PacketFlags.Truncated) == 0)
            {
                d.IpHeaderLength = 40;
                d.Protocol = f[o + 6];
                Malformed(ref d, DecodeIssue.Ipv6PayloadLength);
                return;
            }
            datagramEnd = f.Length;
        }
        f = f[..datagramEnd];

        byte next = f[o + 6];
        int at = o + 40;
        for (int i = 0; i < MaxIpv6ExtHeaders; i++)
        {
            int length;
            switch (next)
            {
                case L4Protocol.HopByHop:
                case L4Protocol.Routing:
                case L4Protocol.DestinationOptions:
                case 135: // mobility
                case 139: // HIP
                case 140: // shim6
                    if (f.Length < at + 8)
                    {
                        Short(ref d, DecodeIssue.Ipv6ExtensionHeader);
                        FinishIpv6Chain(ref d, next, at, o);
                        return;
                    }
                    d.ExtHeaders |= next switch
                    {
                        L4Protocol.HopByHop => Ipv6ExtHeaders.HopByHop,
                        L4Protocol.Routing => Ipv6ExtHeaders.Routing,
                        L4Protocol.DestinationOptions => Ipv6ExtHeaders.DestinationOptions,
                        _ => Ipv6ExtHeaders.Other,
                    };
                    length = (f[at + 1] + 1) * 8;
                    break;
                case L4Protocol.Fragment:
                    if (f.Length < at + 8)
                    {
                        Short(ref d, DecodeIssue.Ipv6ExtensionHeader);
                        FinishIpv6Chain(ref d, next, at, o);
                        return;
                    }
                    d.ExtHeaders |= Ipv6ExtHeaders.Fragment;
                    ushort fo = U16(f, at + 2);
                    d.FragmentOffset = fo & 0xFFF8;
                    d.IpId = U32(f, at + 4);
                    if ((fo & 1) != 0)
                        d.Flags |= PacketFlags.MoreFragments | PacketFlags.Fragment;
                    else if (d.FragmentOffset == 0)
                        d.Flags |= PacketFlags.AtomicFragment;
                    if (d.FragmentOffset != 0)
                        d.Flags |= PacketFlags.Fragment;
                    length = 8;
                    if (d.FragmentOffset != 0)
                    {
                        // Later fragments: the upper header is in the first one.
                        FinishIpv6Chain(ref d, f[at], at + 8, o);
                        return;
                    }
                    break;
                case L4Protocol.Ah:
                    if (f.Length < at + 12)
                    {
                        Short(ref d, DecodeIssue.Ipv6ExtensionHeader);
                        FinishIpv6Chain(ref d, next, at, o);
                        return;
                    }
                    d.ExtHeaders |= Ipv6ExtHeaders.Authentication;
                    d.Spi = U32(f, at + 4);
                    length = (f[at + 1] + 2) * 4;
                    break;
                case L4Protocol.NoNext:
                    d.ExtHeaders |= Ipv6ExtHeaders.NoNext;
                    FinishIpv6Chain(ref d, next, at, o);
                    return;
                default:
                    FinishIpv6Chain(ref d, next, at, o);
                    DecodeTransport(f, at, next, ref d);
                    return;
            }
            if (at + length > f.Length)
            {
                Short(ref d, DecodeIssue.Ipv6ExtensionHeader);
                FinishIpv6Chain(ref d, next, at, o);
                return;
            }
            next = f[at];
            at += length;
        }
        Malformed(ref d, DecodeIssue.Ipv6ExtensionHeader);
        FinishIpv6Chain(ref d, next, at, o);
    }

    private static void FinishIpv6Chain(ref DecodedPacket d, byte next, int at, int l3)
    {
        d.Protocol = next;
        d.IpHeaderLength = (ushort)(at - l3);
        if (next == L4Protocol.Esp)
            d.ExtHeaders |= Ipv6ExtHeaders.Esp;
    }

    /// <param name="f">The frame cut to the end of the IP datagram (or of the captured bytes).</param>
    private static void DecodeTransport(ReadOnlySpan<byte> f, int o, byte protocol, ref DecodedPacket d)
    {
        d.L4Offset = (ushort)o;
        switch (protocol)
        {
            case L4Protocol.Tcp:
                DecodeTcp(f, o, ref d);
                break;
            case L4Protocol.Udp:
            case L4Protocol.UdpLite:
                DecodeUdp(f, o, protocol, ref d);
                break;
            case L4Protocol.Icmp:
            case L4Protocol.Icmpv6:
                DecodeIcmp(f, o, protocol, ref d);
                break;
            case L4Protocol.Sctp:
                if (f.Length < o + 12)
                {
                    Short(ref d, DecodeIssue.SctpShort);
                    return;
                }
                d.SrcPort = U16(f, o);
                d.DstPort = U16(f, o + 2);
                d.Spi = U32(f, o + 4);
                SetPayload(ref d, o + 12, f.Length);
                break;
            case L4Protocol.Gre:
                DecodeGre(f, o, ref d);
                break;
            case L4Protocol.Esp:
                if (f.Length < o + 8)
                {
                    Short(ref d, DecodeIssue.EspShort);
                    return;
                }
                d.Spi = U32(f, o);
                SetPayload(ref d, o + 8, f.Length);
                break;
            case L4Protocol.Ah:
                if (f.Length < o + 12)
                {
                    Short(ref d, DecodeIssue.EspShort);
                    return;
                }
                d.Spi = U32(f, o + 4);
                SetPayload(ref d, o + ((f[o + 1] + 2) * 4), f.Length);
                break;
            default:
                SetPayload(ref d, o, f.Length);
                d.Layers &= ~Layers.Transport;
                break;
        }
    }

    private static void SetPayload(ref DecodedPacket d, int offset, int end)
    {
        d.Layers |= Layers.Transport;
        if (offset > end)
            offset = end;
        d.PayloadOffset = (ushort)offset;
        d.PayloadLength = end - offset;
    }

    private static void DecodeTcp(ReadOnlySpan<byte> f, int o, ref DecodedPacket d)
    {
        if (f.Length < o + 20)
        {
            // The ports alone are enough for conntrack and most matches: keep them when present.
            if (f.Length >= o + 4)
            {
                d.SrcPort = U16(f, o);
                d.DstPort = U16(f, o + 2);
            }
            Short(ref d, DecodeIssue.TcpHeaderShort);
            return;
        }
        d.SrcPort = U16(f, o);
        d.DstPort = U16(f, o + 2);
        d.TcpSeq = U32(f, o + 4);
        d.TcpAck = U32(f, o + 8);
        byte offsetByte = f[o + 12];
        d.TcpFlags = (TcpFlags)(f[o + 13] | ((offsetByte & 1) << 8));
        d.TcpWindow = U16(f, o + 14);
        int hl = (offsetByte >> 4) * 4;
        d.TcpHeaderLength = (byte)hl;
        if (hl < 20)
        {
            Malformed(ref d, DecodeIssue.TcpDataOffset);
            return;
        }
        if (f.Length < o + hl)
        {
            // Options cut: fields above are valid, the payload offset is not.
            d.Layers |= Layers.Transport;
            d.PayloadOffset = (ushort)f.Length;
            Short(ref d, DecodeIssue.TcpDataOffset);
            return;
        }
        SetPayload(ref d, o + hl, f.Length);
    }

    private static void DecodeUdp(ReadOnlySpan<byte> f, int o, byte protocol, ref DecodedPacket d)
    {
        if (f.Length < o + 8)
        {
            if (f.Length >= o + 4)
            {
                d.SrcPort = U16(f, o);
                d.DstPort = U16(f, o + 2);
            }
            Short(ref d, DecodeIssue.UdpLength);
            return;
        }
        d.SrcPort = U16(f, o);
        d.DstPort = U16(f, o + 2);
        int length = U16(f, o + 4);
        // UDP-Lite's field is the checksum coverage, 0 meaning all; a bad length is still a decodable header.
        // A first fragment holds only part of the datagram its length describes.
        bool partial = (d.Flags & (PacketFlags.Truncated | PacketFlags.MoreFragments)) != 0;
        if (protocol == L4Protocol.Udp && (length < 8 || (o + length > f.Length && !partial)))
        {
            SetPayload(ref d, o + 8, f.Length);
            Malformed(ref d, DecodeIssue.UdpLength);
            return;
        }
        int end = protocol == L4Protocol.Udp ? Math.Min(o + length, f.Length) : f.Length;
        SetPayload(ref d, o + 8, end);
    }

    private static bool IsIcmpError(byte protocol, byte type) => protocol == L4Protocol.Icmp
        ? type is 3 or 4 or 5 or 11 or 12
        : type is >= 1 and <= 4;

    /// <summary>ICMP types whose header carries an identifier (echo, timestamp, information, address mask).</summary>
    private static bool HasIcmpId(byte protocol, byte type) => protocol == L4Protocol.Icmp
        ? type is 0 or 8 or 13 or 14 or 15 or 16 or 17 or 18
        : type is 128 or 129;

    private static void DecodeIcmp(ReadOnlySpan<byte> f, int o, byte protocol, ref DecodedPacket d)
    {
        if (f.Length < o + 4)
        {
            if (f.Length >= o + 2)
            {
                d.IcmpType = f[o];
                d.IcmpCode = f[o + 1];
            }
            Short(ref d, DecodeIssue.IcmpShort);
            return;
        }
        d.IcmpType = f[o];
        d.IcmpCode = f[o + 1];
        if (f.Length < o + 8)
        {
            d.Layers |= Layers.Transport;
            Short(ref d, DecodeIssue.IcmpShort);
            return;
        }
        if (HasIcmpId(protocol, d.IcmpType))
        {
            d.IcmpId = U16(f, o + 4);
            d.IcmpSeq = U16(f, o + 6);
        }
        SetPayload(ref d, o + 8, f.Length);
        if (IsIcmpError(protocol, d.IcmpType))
        {
            d.Flags |= PacketFlags.IcmpError;
            DecodeInner(f, o + 8, protocol == L4Protocol.Icmp ? 4 : 6, ref d);
        }
    }

    /// <summary>
    /// The header an ICMP error quotes: conntrack finds the connection it is RELATED to from it
    /// (nf_conntrack_icmpv4_error / icmpv6_error). Quoted datagrams are usually cut, so lengths are not checked.
    /// </summary>
    private static void DecodeInner(ReadOnlySpan<byte> f, int o, int version, ref DecodedPacket d)
    {
        int at;
        if (version == 4)
        {
            if (f.Length < o + 20 || f[o] >> 4 != 4)
                return;
            int ihl = (f[o] & 0xF) * 4;
            if (ihl < 20 || f.Length < o + ihl)
                return;
            d.InnerProtocol = f[o + 9];
            d.InnerSrc = V4(f, o + 12);
            d.InnerDst = V4(f, o + 16);
            at = o + ihl;
            if ((U16(f, o + 6) & 0x1FFF) != 0)
            {
                d.Layers |= Layers.InnerIp;
                return;
            }
        }
        else
        {
            if (f.Length < o + 40 || f[o] >> 4 != 6)
                return;
            d.InnerSrc = V6(f, o + 8);
            d.InnerDst = V6(f, o + 24);
            byte next = f[o + 6];
            at = o + 40;
            for (int i = 0; i < MaxIpv6ExtHeaders && next is L4Protocol.HopByHop or L4Protocol.Routing or L4Protocol.DestinationOptions or L4Protocol.Fragment; i++)
            {
                if (f.Length < at + 8)
                    break;
                int len = next == L4Protocol.Fragment ? 8 : (f[at + 1] + 1) * 8;
                next = f[at];
                at += len;
            }
            d.InnerProtocol = next;
        }
        d.Layers |= Layers.InnerIp;
        if (f.Length < at + 8)
            return;
        switch (d.InnerProtocol)
        {
            case L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.UdpLite or L4Protocol.Sctp:
                d.InnerSrcPort = U16(f, at);
                d.InnerDstPort = U16(f, at + 2);
                d.Layers |= Layers.InnerTransport;
                break;
            case L4Protocol.Icmp or L4Protocol.Icmpv6:
                d.InnerIcmpType = f[at];
                d.InnerIcmpId = U16(f, at + 4);
                d.Layers |= Layers.InnerTransport;
                break;
        }
    }

    private static void DecodeGre(ReadOnlySpan<byte> f, int o, ref DecodedPacket d)
    {
        if (f.Length < o + 4)
        {
            Short(ref d, DecodeIssue.GreShort);
            return;
        }
        ushort flags = U16(f, o);
        d.GreVersion = (byte)(flags & 7);
        d.GreProtocol = U16(f, o + 2);
        int at = o + 4;
        if ((flags & 0x8000) != 0)
            at += 4; // checksum + reserved
        if ((flags & 0x2000) != 0)
        {
            // Key; for PPTP's enhanced GRE (version 1) the low 16 bits are the call id nf_conntrack_proto_gre keys on.
            if (f.Length < at + 4)
            {
                Short(ref d, DecodeIssue.GreShort);
                return;
            }
            d.Spi = U32(f, at);
            at += 4;
        }
        if ((flags & 0x1000) != 0)
            at += 4; // sequence number
        if (d.GreVersion == 1 && (flags & 0x0080) != 0)
            at += 4; // acknowledgement number
        SetPayload(ref d, at, f.Length);
    }

    // Unchecked big-endian reads. Every call site has already checked that the frame holds the
    // header it reads (the decoder's invariant); the assertion proves it in Debug builds, where the
    // test suite and its fuzzing run, and the Release hot path pays no second bounds check.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort U16(ReadOnlySpan<byte> f, int at)
    {
        Debug.Assert(at >= 0 && at + 2 <= f.Length, "decoder read past the frame");
        return BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref MemoryMarshal.GetReference(f), at)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint U32(ReadOnlySpan<byte> f, int at)
    {
        Debug.Assert(at >= 0 && at + 4 <= f.Length, "decoder read past the frame");
        return BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref MemoryMarshal.GetReference(f), at)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong U64(ReadOnlySpan<byte> f, int at)
    {
        Debug.Assert(at >= 0 && at + 8 <= f.Length, "decoder read past the frame");
        return BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref MemoryMarshal.GetReference(f), at)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static MacAddr Mac(ReadOnlySpan<byte> f, int at) => new(((ulong)U32(f, at) << 16) | U16(f, at + 4));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static IpAddr V4(ReadOnlySpan<byte> f, int at) => IpAddr.FromV4(U32(f, at));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static IpAddr V6(ReadOnlySpan<byte> f, int at) => new(U64(f, at), U64(f, at + 8));
}
