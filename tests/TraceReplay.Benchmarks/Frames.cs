using System.Buffers.Binary;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;

namespace TraceReplay.Benchmarks;

public enum FrameKind
{
    EthernetIpv4Tcp,
    EthernetIpv4Udp,
    VlanIpv4Tcp,
    EthernetIpv6Tcp,
    Sll2Ipv4Tcp,
    IcmpEcho,
    IcmpPortUnreachable,
}

/// <summary>
/// Hand-built frames for the benchmarks, so the bytes are exactly what a capture holds (Ethernet padding
/// to 60 bytes included) with no packet library's cost or allocations in setup. Only the IPv4 header
/// checksum is filled in: nothing on the read path verifies the others.
/// </summary>
public static class Frames
{
    /// <summary>Large enough for any frame written here (1500-byte MTU plus link headers).</summary>
    public const int MaxLength = 1600;

    private const int EthernetMinimum = 60;
    private const int Mtu = 1500;

    /// <summary>Writes one frame of <paramref name="kind"/> with addresses, ports and sizes drawn from <paramref name="rng"/>.</summary>
    public static int Write(Span<byte> f, FrameKind kind, Random rng, out LinkType linkType)
    {
        f[..MaxLength].Clear();
        linkType = kind == FrameKind.Sll2Ipv4Tcp ? LinkType.LinuxSll2 : LinkType.Ethernet;
        var flow = Flow.Random(rng);
        int l3 = kind switch
        {
            FrameKind.VlanIpv4Tcp => Vlan(f, flow, (ushort)rng.Next(1, 4095), EtherTypes.Ipv4),
            FrameKind.Sll2Ipv4Tcp => Sll2(f, flow, rng.Next(1, 64), (byte)rng.Next(0, 5), EtherTypes.Ipv4),
            FrameKind.EthernetIpv6Tcp => Ethernet(f, flow, EtherTypes.Ipv6),
            _ => Ethernet(f, flow, EtherTypes.Ipv4),
        };
        int end = kind switch
        {
            FrameKind.EthernetIpv4Udp => Ipv4Udp(f, l3, flow, UdpPayload(rng)),
            FrameKind.EthernetIpv6Tcp => Ipv6Tcp(f, l3, flow, rng),
            FrameKind.IcmpEcho => IcmpEcho(f, l3, flow, rng),
            FrameKind.IcmpPortUnreachable => IcmpPortUnreachable(f, l3, flow, rng),
            _ => Ipv4Tcp(f, l3, flow, rng),
        };
        return linkType == LinkType.Ethernet ? Math.Max(end, EthernetMinimum) : end;
    }

    /// <summary>A frame for the pipeline run: TCP and UDP over IPv4 and IPv6, sizes from ACK-only to full MTU.</summary>
    public static int WriteTraffic(Span<byte> f, Random rng, out LinkType linkType)
    {
        int roll = rng.Next(100);
        var kind = roll switch
        {
            < 60 => FrameKind.EthernetIpv4Tcp,
            < 80 => FrameKind.EthernetIpv4Udp,
            < 90 => FrameKind.EthernetIpv6Tcp,
            _ => FrameKind.VlanIpv4Tcp,
        };
        return Write(f, kind, rng, out linkType);
    }

    private readonly record struct Flow(ulong SrcMac, ulong DstMac, uint Src, uint Dst, ushort SrcPort, ushort DstPort, uint Seq, uint Ack)
    {
        private static readonly ushort[] ServicePorts = [22, 53, 80, 123, 443, 993, 3306, 5432, 8080, 8443];

        public static Flow Random(Random rng)
        {
            // A client in 10.0.0.0/16 talking to a server in 198.51.100.0/24 (or the other way round):
            // enough distinct tuples that nothing downstream sees one hot flow.
            uint client = 0x0A00_0000u | (uint)rng.Next(1, 0xFFFF);
            uint server = 0xC633_6400u | (uint)rng.Next(1, 255);
            ushort ephemeral = (ushort)rng.Next(32768, 61000);
            ushort service = ServicePorts[rng.Next(ServicePorts.Length)];
            ulong clientMac = 0x0200_0000_0000UL | (uint)rng.Next();
            const ulong RouterMac = 0x0200_5E00_0001UL;
            uint seq = (uint)rng.NextInt64(0, 1L << 32), ack = (uint)rng.NextInt64(0, 1L << 32);
            return rng.Next(2) == 0
                ? new Flow(clientMac, RouterMac, client, server, ephemeral, service, seq, ack)
                : new Flow(RouterMac, clientMac, server, client, service, ephemeral, seq, ack);
        }
    }

    private static int Ethernet(Span<byte> f, in Flow flow, ushort etherType)
    {
        WriteMac(f, flow.DstMac);
        WriteMac(f[6..], flow.SrcMac);
        BinaryPrimitives.WriteUInt16BigEndian(f[12..], etherType);
        return 14;
    }

    private static int Vlan(Span<byte> f, in Flow flow, ushort vid, ushort etherType)
    {
        Ethernet(f, flow, EtherTypes.Vlan);
        BinaryPrimitives.WriteUInt16BigEndian(f[14..], vid);
        BinaryPrimitives.WriteUInt16BigEndian(f[16..], etherType);
        return 18;
    }

    /// <summary>DLT_LINUX_SLL2: protocol, reserved, ifindex, ARPHRD_ETHER, packet type, address length, address (8 bytes).</summary>
    private static int Sll2(Span<byte> f, in Flow flow, int ifIndex, byte packetType, ushort protocol)
    {
        BinaryPrimitives.WriteUInt16BigEndian(f, protocol);
        BinaryPrimitives.WriteInt32BigEndian(f[4..], ifIndex);
        BinaryPrimitives.WriteUInt16BigEndian(f[8..], 1);
        f[10] = packetType;
        f[11] = 6;
        WriteMac(f[12..], flow.SrcMac);
        return 20;
    }

    private static int Ipv4Tcp(Span<byte> f, int l3, in Flow flow, Random rng)
    {
        int l4 = l3 + 20;
        int tcpLength = Tcp(f[l4..], flow, rng, Mtu - 20);
        Ipv4(f[l3..], flow.Src, flow.Dst, L4Protocol.Tcp, tcpLength, rng);
        return l4 + tcpLength;
    }

    private static int Ipv6Tcp(Span<byte> f, int l3, in Flow flow, Random rng)
    {
        int l4 = l3 + 40;
        int tcpLength = Tcp(f[l4..], flow, rng, Mtu - 40);
        var h = f[l3..];
        BinaryPrimitives.WriteUInt32BigEndian(h, 0x6000_0000u | (uint)rng.Next(0, 1 << 20));
        BinaryPrimitives.WriteUInt16BigEndian(h[4..], (ushort)tcpLength);
        h[6] = L4Protocol.Tcp;
        h[7] = 64;
        // 2001:db8::/32 documentation prefix, with the IPv4 flow's addresses as interface ids.
        BinaryPrimitives.WriteUInt64BigEndian(h[8..], 0x2001_0db8_0000_0001UL);
        BinaryPrimitives.WriteUInt64BigEndian(h[16..], flow.Src);
        BinaryPrimitives.WriteUInt64BigEndian(h[24..], 0x2001_0db8_0000_0002UL);
        BinaryPrimitives.WriteUInt64BigEndian(h[32..], flow.Dst);
        return l4 + tcpLength;
    }

    private static int Ipv4Udp(Span<byte> f, int l3, in Flow flow, int payload)
    {
        int l4 = l3 + 20;
        int udpLength = Udp(f[l4..], flow.SrcPort, flow.DstPort, payload);
        Ipv4(f[l3..], flow.Src, flow.Dst, L4Protocol.Udp, udpLength, null);
        return l4 + udpLength;
    }

    private static int IcmpEcho(Span<byte> f, int l3, in Flow flow, Random rng)
    {
        const int PingPayload = 56;
        var icmp = f[(l3 + 20)..];
        icmp[0] = (byte)(rng.Next(2) == 0 ? 8 : 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], (ushort)rng.Next(1, 65536));
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], (ushort)rng.Next(1, 65536));
        Ipv4(f[l3..], flow.Src, flow.Dst, L4Protocol.Icmp, 8 + PingPayload, rng);
        return l3 + 20 + 8 + PingPayload;
    }

    /// <summary>Port unreachable from the server, quoting the client's UDP datagram header as RFC 792 asks (IP header + 8 bytes).</summary>
    private static int IcmpPortUnreachable(Span<byte> f, int l3, in Flow flow, Random rng)
    {
        var icmp = f[(l3 + 20)..];
        icmp[0] = 3;
        icmp[1] = 3;
        int quotedUdp = UdpPayload(rng);
        Ipv4(icmp[8..], flow.Dst, flow.Src, L4Protocol.Udp, 8 + quotedUdp, rng);
        Udp(icmp[28..], flow.DstPort, flow.SrcPort, quotedUdp);
        const int IcmpLength = 8 + 20 + 8;
        Ipv4(f[l3..], flow.Src, flow.Dst, L4Protocol.Icmp, IcmpLength, rng);
        return l3 + 20 + IcmpLength;
    }

    /// <summary>Writes a 20-byte IPv4 header; a null <paramref name="rng"/> means DF with id 0, as Linux sends UDP.</summary>
    private static void Ipv4(Span<byte> h, uint src, uint dst, byte protocol, int payloadLength, Random? rng)
    {
        h[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(h[2..], (ushort)(20 + payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(h[4..], rng is null ? (ushort)0 : (ushort)rng.Next(0, 65536));
        h[6] = 0x40;
        h[8] = 64;
        h[9] = protocol;
        BinaryPrimitives.WriteUInt32BigEndian(h[12..], src);
        BinaryPrimitives.WriteUInt32BigEndian(h[16..], dst);
        uint sum = 0;
        for (int i = 0; i < 20; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(h[i..]);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum += sum >> 16;
        BinaryPrimitives.WriteUInt16BigEndian(h[10..], (ushort)~sum);
    }

    /// <summary>
    /// A TCP segment shaped like bulk traffic: SYNs carry the full Linux option set (MSS, SACK-permitted,
    /// timestamps, window scale); established segments carry timestamps, and are pure ACKs or data up to the MSS.
    /// </summary>
    private static int Tcp(Span<byte> t, in Flow flow, Random rng, int maxSegment)
    {
        BinaryPrimitives.WriteUInt16BigEndian(t, flow.SrcPort);
        BinaryPrimitives.WriteUInt16BigEndian(t[2..], flow.DstPort);
        BinaryPrimitives.WriteUInt32BigEndian(t[4..], flow.Seq);
        BinaryPrimitives.WriteUInt16BigEndian(t[14..], (ushort)rng.Next(500, 65536));
        int roll = rng.Next(100);
        int headerLength;
        int payload = 0;
        if (roll < 5)
        {
            headerLength = 40;
            t[13] = (byte)(roll < 3 ? TcpFlags.Syn : TcpFlags.Syn | TcpFlags.Ack);
            ReadOnlySpan<byte> syn = [2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7];
            syn.CopyTo(t[20..]);
            BinaryPrimitives.WriteUInt32BigEndian(t[28..], (uint)rng.Next());
        }
        else
        {
            headerLength = 32;
            BinaryPrimitives.WriteUInt32BigEndian(t[8..], flow.Ack);
            ReadOnlySpan<byte> timestamps = [1, 1, 8, 10];
            timestamps.CopyTo(t[20..]);
            BinaryPrimitives.WriteUInt32BigEndian(t[24..], (uint)rng.Next());
            BinaryPrimitives.WriteUInt32BigEndian(t[28..], (uint)rng.Next());
            int mss = maxSegment - headerLength;
            payload = roll switch
            {
                < 45 => 0,
                < 80 => mss,
                _ => rng.Next(1, mss),
            };
            t[13] = (byte)(payload > 0 && rng.Next(4) == 0 ? TcpFlags.Ack | TcpFlags.Psh : TcpFlags.Ack);
        }
        t[12] = (byte)((headerLength / 4) << 4);
        return headerLength + payload;
    }

    private static int Udp(Span<byte> u, ushort srcPort, ushort dstPort, int payload)
    {
        BinaryPrimitives.WriteUInt16BigEndian(u, srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(u[2..], dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(u[4..], (ushort)(8 + payload));
        return 8 + payload;
    }

    /// <summary>Mostly DNS/NTP-sized datagrams, some bulk (QUIC, media) up to the MTU.</summary>
    private static int UdpPayload(Random rng) => rng.Next(3) == 0 ? rng.Next(900, Mtu - 28) : rng.Next(20, 300);

    private static void WriteMac(Span<byte> f, ulong mac)
    {
        BinaryPrimitives.WriteUInt32BigEndian(f, (uint)(mac >> 16));
        BinaryPrimitives.WriteUInt16BigEndian(f[4..], (ushort)mac);
    }
}
