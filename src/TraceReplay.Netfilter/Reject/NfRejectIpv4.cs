using System.Buffers.Binary;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Nat;

namespace TraceReplay.Netfilter.Reject;

/// <summary>
/// The IPv4 packets REJECT makes, byte for byte as net/ipv4/netfilter/nf_reject_ipv4.c and
/// net/ipv4/icmp.c build them: the TCP RST of nf_send_reset (nf_reject_iphdr_put +
/// nf_reject_ip_tcphdr_put) and the ICMP destination unreachable of nf_send_unreach → __icmp_send.
/// The caller decides where the reply goes and whether it is sent (route, rate limit); these only
/// say whether the kernel would build one at all and write it into a caller's buffer.
/// </summary>
public static class NfRejectIpv4
{
    /// <summary>An IPv4 header without options and a TCP header without options: what nf_send_reset allocates.</summary>
    public const int ResetLength = 40;

    /// <summary>__icmp_send quotes as much of the datagram as keeps the error within 576 bytes (RFC 1812 4.3.2.3).</summary>
    public const int MaxErrorLength = 576;

    public const byte IcmpDestUnreach = 3;

    /// <summary>ipt_REJECT.c reject_tg: the ICMP code of each --reject-with (ICMP_NET_ANO, ICMP_HOST_ANO, ICMP_PKT_FILTERED for the prohibited ones).</summary>
    public static byte IcmpCode(RejectWith with) => with switch
    {
        RejectWith.IcmpNetUnreachable => 0,
        RejectWith.IcmpHostUnreachable => 1,
        RejectWith.IcmpProtoUnreachable => 2,
        RejectWith.IcmpNetProhibited => 9,
        RejectWith.IcmpHostProhibited => 10,
        RejectWith.IcmpAdminProhibited => 13,
        _ => 3,
    };

    /// <summary>
    /// nf_reject_ip_tcphdr_get: a RST answers only the first fragment of a TCP segment whose header
    /// is there, never a RST. The kernel also verifies the TCP checksum (nf_ip_checksum); a capture
    /// cannot say whether a wrong one was left for the NIC to fill (checksum offload), so it is not checked.
    /// </summary>
    public static bool CanReset(in DecodedPacket old) =>
        old.IsIpv4 && old.FragmentOffset == 0 && old.Protocol == L4Protocol.Tcp && old.HasTransport && (old.TcpFlags & TcpFlags.Rst) == 0;

    /// <summary>
    /// nf_reject_iphdr_put + nf_reject_ip_tcphdr_put: addresses and ports swapped, tos 0, id 0, DF,
    /// TTL <paramref name="ttl"/> (ip4_dst_hoplimit of the original's route); a segment with ACK is
    /// answered by RST seq=its ack, one without by RST+ACK ack=seq+SYN+FIN+payload length; window 0.
    /// Returns the length written (<see cref="ResetLength"/>).
    /// </summary>
    public static int BuildReset(in DecodedPacket old, byte ttl, Span<byte> dst)
    {
        var b = dst[..ResetLength];
        b.Clear();
        WriteIpHeader(b, 0, ResetLength, 0, true, ttl, L4Protocol.Tcp, old.Dst.V4, old.Src.V4);
        var t = b[20..];
        BinaryPrimitives.WriteUInt16BigEndian(t, old.DstPort);
        BinaryPrimitives.WriteUInt16BigEndian(t[2..], old.SrcPort);
        byte flags = 0x04;
        if ((old.TcpFlags & TcpFlags.Ack) != 0)
        {
            BinaryPrimitives.WriteUInt32BigEndian(t[4..], old.TcpAck);
        }
        else
        {
            // oldskb->len is tot_len once ip_rcv_core trimmed the padding.
            int payload = old.IpTotalLength - old.IpHeaderLength - old.TcpHeaderLength;
            uint ack = old.TcpSeq + ((old.TcpFlags & TcpFlags.Syn) != 0 ? 1u : 0) + ((old.TcpFlags & TcpFlags.Fin) != 0 ? 1u : 0) + (uint)Math.Max(0, payload);
            BinaryPrimitives.WriteUInt32BigEndian(t[8..], ack);
            flags |= 0x10;
        }
        t[12] = 5 << 4;
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t[16..], TransportChecksum(old.Dst.V4, old.Src.V4, L4Protocol.Tcp, t[..20]));
        return ResetLength;
    }

    /// <summary>
    /// __icmp_send's checks before it builds anything: no error for a non-first fragment, for a
    /// packet the link layer did not address to this host (<paramref name="pktType"/> not
    /// PACKET_HOST) or whose route is broadcast/multicast, nor for an ICMP error (or an unknown ICMP type).
    /// </summary>
    public static bool CanUnreach(in DecodedPacket old, byte pktType, bool broadcastOrMulticastRoute)
    {
        if (!old.IsIpv4 || old.FragmentOffset != 0 || pktType != 0 || broadcastOrMulticastRoute)
            return false;
        if (old.Protocol == L4Protocol.Icmp)
            return old.HasTransport && old.IcmpType <= 18 && !IsIcmpError(old.IcmpType);
        return true;
    }

    /// <summary>icmp_pointers[type].error: the ICMP types that are errors.</summary>
    public static bool IsIcmpError(byte type) => type is 3 or 4 or 5 or 11 or 12;

    /// <summary>
    /// The ICMP error __icmp_send makes: IPv4 header (tos = (old tos &amp; IPTOS_TOS_MASK) | 0xc0, no
    /// DF since the ICMP socket sets IP_PMTUDISC_DONT, <paramref name="id"/>, <paramref name="ttl"/>),
    /// the ICMP header (type, code, 4 zero bytes) and the original datagram from its IP header, at most
    /// min(<paramref name="mtu"/>, 576) − 28 bytes of it. <paramref name="datagram"/> is the original
    /// from its IP header as the hook saw it (NAT and TTL decrement included), at most tot_len bytes.
    /// </summary>
    public static int BuildUnreach(in DecodedPacket old, ReadOnlySpan<byte> datagram, byte type, byte code, uint saddr, byte ttl, ushort id, int mtu, Span<byte> dst)
    {
        int room = Math.Min(mtu, MaxErrorLength) - 20 - 8;
        int quoted = Math.Min(Math.Min(datagram.Length, old.IpTotalLength), room);
        int total = 28 + quoted;
        var b = dst[..total];
        byte tos = (byte)((old.Tos & 0x1E) | 0xC0);
        WriteIpHeader(b, tos, total, id, false, ttl, L4Protocol.Icmp, saddr, old.Src.V4);
        var icmp = b[20..];
        icmp[0] = type;
        icmp[1] = code;
        icmp[2] = icmp[3] = 0;
        icmp[4..8].Clear();
        datagram[..quoted].CopyTo(icmp[8..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], (ushort)~InetChecksum.Fold(InetChecksum.Sum(icmp)));
        return total;
    }

    private static void WriteIpHeader(Span<byte> b, byte tos, int total, ushort id, bool df, byte ttl, byte protocol, uint src, uint dst)
    {
        b[0] = 0x45;
        b[1] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(b[2..], (ushort)total);
        BinaryPrimitives.WriteUInt16BigEndian(b[4..], id);
        BinaryPrimitives.WriteUInt16BigEndian(b[6..], (ushort)(df ? 0x4000 : 0));
        b[8] = ttl;
        b[9] = protocol;
        b[10] = b[11] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(b[12..], src);
        BinaryPrimitives.WriteUInt32BigEndian(b[16..], dst);
        BinaryPrimitives.WriteUInt16BigEndian(b[10..], (ushort)~InetChecksum.Fold(InetChecksum.Sum(b[..20])));
    }

    /// <summary>tcp_v4_check: the one's-complement sum over the pseudo-header and the segment.</summary>
    private static ushort TransportChecksum(uint src, uint dst, byte protocol, ReadOnlySpan<byte> segment)
    {
        uint sum = InetChecksum.Sum(segment, (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + protocol + (uint)segment.Length);
        return (ushort)~InetChecksum.Fold(sum);
    }

    /// <summary>ip_fast_csum: the header checksum of <paramref name="header"/> (ihl*4 bytes) verifies when it folds to 0xffff.</summary>
    public static bool HeaderChecksumOk(ReadOnlySpan<byte> header) => InetChecksum.Fold(InetChecksum.Sum(header)) == 0xFFFF;
}
