using System.Buffers.Binary;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Nat;

namespace TraceReplay.Netfilter.Reject;

/// <summary>
/// The IPv6 packets REJECT makes, as net/ipv6/netfilter/nf_reject_ipv6.c (nf_send_reset6:
/// nf_reject_ip6hdr_put + nf_reject_ip6_tcphdr_put) and net/ipv6/icmp.c (nf_send_unreach6 →
/// icmp6_send) build them.
/// </summary>
public static class NfRejectIpv6
{
    public const int ResetLength = 60;

    /// <summary>icmp6_send quotes at most IPV6_MIN_MTU − 40 − 8 bytes of the offending packet.</summary>
    public const int MaxQuoted = 1280 - 40 - 8;

    public const byte Icmp6DestUnreach = 1;

    /// <summary>ip6t_REJECT.c reject_tg6: ICMPV6_NOROUTE, _ADM_PROHIBITED, _ADDR_UNREACH, _PORT_UNREACH, _POLICY_FAIL, _REJECT_ROUTE.</summary>
    public static byte IcmpCode(RejectWith with) => with switch
    {
        RejectWith.Icmp6NoRoute => 0,
        RejectWith.Icmp6AdmProhibited => 1,
        RejectWith.Icmp6AddrUnreachable => 3,
        RejectWith.Icmp6PolicyFail => 5,
        RejectWith.Icmp6RejectRoute => 6,
        _ => 4,
    };

    /// <summary>ipv6_addr_type(a) &amp; IPV6_ADDR_UNICAST: not unspecified and not multicast.</summary>
    public static bool IsUnicast(IpAddr a) => !(a.Hi == 0 && a.Lo == 0) && (a.Hi >> 56) != 0xFF;

    /// <summary>
    /// nf_send_reset6's checks: unicast source and destination, and nf_reject_ip6_tcphdr_get: TCP
    /// after the extension headers, not a non-first fragment, not a RST (the checksum is not
    /// checked, as for IPv4: offloaded checksums are wrong in captures).
    /// </summary>
    public static bool CanReset(in DecodedPacket old) =>
        old.IsIpv6 && IsUnicast(old.Src) && IsUnicast(old.Dst) && old.FragmentOffset == 0 && old.Protocol == L4Protocol.Tcp
        && old.HasTransport && (old.TcpFlags & TcpFlags.Rst) == 0;

    /// <summary>
    /// nf_reject_ip6hdr_put (traffic class 0, flow label 0, <paramref name="hopLimit"/>, addresses
    /// swapped) and nf_reject_ip6_tcphdr_put (a 20-byte header: with ACK seq=its ack; without,
    /// ack=seq+SYN+FIN+payload and the ACK flag; window 0).
    /// </summary>
    public static int BuildReset(in DecodedPacket old, byte hopLimit, Span<byte> dst)
    {
        var b = dst[..ResetLength];
        b.Clear();
        WriteIpHeader(b, 20, L4Protocol.Tcp, hopLimit, 0, old.Dst, old.Src);
        var t = b[40..];
        BinaryPrimitives.WriteUInt16BigEndian(t, old.DstPort);
        BinaryPrimitives.WriteUInt16BigEndian(t[2..], old.SrcPort);
        byte flags = 0x04;
        if ((old.TcpFlags & TcpFlags.Ack) != 0)
        {
            BinaryPrimitives.WriteUInt32BigEndian(t[4..], old.TcpAck);
        }
        else
        {
            // otcplen = oldskb->len − tcphoff: the TCP header and payload.
            int otcplen = old.IpTotalLength - old.IpHeaderLength;
            uint ack = old.TcpSeq + ((old.TcpFlags & TcpFlags.Syn) != 0 ? 1u : 0) + ((old.TcpFlags & TcpFlags.Fin) != 0 ? 1u : 0) + (uint)Math.Max(0, otcplen - old.TcpHeaderLength);
            BinaryPrimitives.WriteUInt32BigEndian(t[8..], ack);
            flags |= 0x10;
        }
        t[12] = 5 << 4;
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t[16..], Checksum(old.Dst, old.Src, L4Protocol.Tcp, t[..20]));
        return ResetLength;
    }

    /// <summary>
    /// icmp6_send's refusals: a source that is unspecified or multicast, a multicast destination
    /// (the codes REJECT sends are not the PKT_TOOBIG/PARAMPROB exceptions), an ICMPv6 error
    /// (is_ineligible), and nf_send_unreach6's reject6_csum_ok: a non-first fragment.
    /// </summary>
    public static bool CanUnreach(in DecodedPacket old)
    {
        if (!old.IsIpv6 || !IsUnicast(old.Src) || (old.Dst.Hi >> 56) == 0xFF || old.FragmentOffset != 0)
            return false;
        if (old.Protocol == L4Protocol.Icmpv6)
            return old.HasTransport && (old.IcmpType & 0x80) != 0;
        return true;
    }

    /// <summary>
    /// The ICMPv6 error icmp6_send makes: traffic class 0, flow label 0 (the kernel's auto flow
    /// label is a keyed hash, see NfHost.Reject), the type, code and 4 zero bytes, then the offending
    /// packet from its IPv6 header, at most <see cref="MaxQuoted"/> bytes.
    /// </summary>
    public static int BuildUnreach(in DecodedPacket old, ReadOnlySpan<byte> datagram, byte type, byte code, IpAddr src, byte hopLimit, Span<byte> dst)
    {
        int quoted = Math.Min(Math.Min(datagram.Length, old.IpTotalLength), MaxQuoted);
        int total = 48 + quoted;
        var b = dst[..total];
        WriteIpHeader(b, 8 + quoted, L4Protocol.Icmpv6, hopLimit, 0, src, old.Src);
        var icmp = b[40..];
        icmp[0] = type;
        icmp[1] = code;
        icmp[2..8].Clear();
        datagram[..quoted].CopyTo(icmp[8..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum(src, old.Src, L4Protocol.Icmpv6, icmp));
        return total;
    }

    private static void WriteIpHeader(Span<byte> b, int payload, byte next, byte hopLimit, uint flowLabel, IpAddr src, IpAddr dst)
    {
        BinaryPrimitives.WriteUInt32BigEndian(b, 0x6000_0000u | (flowLabel & 0xFFFFF));
        BinaryPrimitives.WriteUInt16BigEndian(b[4..], (ushort)payload);
        b[6] = next;
        b[7] = hopLimit;
        Write(b[8..], src);
        Write(b[24..], dst);
    }

    private static void Write(Span<byte> b, IpAddr a)
    {
        BinaryPrimitives.WriteUInt64BigEndian(b, a.Hi);
        BinaryPrimitives.WriteUInt64BigEndian(b[8..], a.Lo);
    }

    /// <summary>csum_ipv6_magic over the pseudo-header (addresses, upper-layer length, next header) and the data.</summary>
    private static ushort Checksum(IpAddr src, IpAddr dst, byte next, ReadOnlySpan<byte> data)
    {
        uint pseudo = InetChecksum.Fold(InetChecksum.Sum128(src)) + (uint)InetChecksum.Fold(InetChecksum.Sum128(dst)) + (uint)data.Length + next;
        return (ushort)~InetChecksum.Fold(InetChecksum.Sum(data, pseudo));
    }
}
