using System.Buffers.Binary;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Netfilter.Nat;

/// <summary>
/// Packet rewriting from a connection's binding (net/netfilter/nf_nat_proto.c): addresses, ports and
/// ICMP ids, with the IPv4 header checksum and the L4 checksums patched incrementally as the kernel
/// does (csum_replace4, inet_proto_csum_replace2/4/16 with the pseudo-header), and the header an ICMP
/// error quotes (nf_nat_icmp_reply_translation, nf_nat_icmpv6_reply_translation). Works in place on
/// the captured frame at the decoder's offsets; allocates nothing.
/// <para>
/// Bytes the capture cut off (snap length) are left alone: every field and checksum that is present
/// is rewritten, and an incremental update stays right for the whole packet. A header missing from
/// the datagram itself drops the packet, as skb_ensure_writable failing does. Checksums are taken as
/// complete: a capture cannot show CHECKSUM_PARTIAL, where the kernel patches only the pseudo-header sum.
/// </para>
/// </summary>
public static class NfNatProto
{
    private const int IcmpHeaderLength = 8;

    /// <summary>
    /// nf_nat_packet: rewrites a packet of direction <paramref name="dir"/> at a hook of
    /// <paramref name="manip"/> when the connection's status says that manip applies (IPS_SRC_NAT /
    /// IPS_DST_NAT, swapped for replies); otherwise leaves it as it is.
    /// </summary>
    public static NatVerdict Packet(Span<byte> frame, in DecodedPacket d, in NfConntrackTuple original, in NfConntrackTuple reply,
        CtStatus status, NfNatManipType manip, CtDirection dir)
    {
        if (!NfNatTuple.NeedsManip(status, manip, dir))
            return NatVerdict.Accept;
        return ManipPacket(frame, d, original, reply, manip, dir);
    }

    /// <summary>
    /// What nf_nat_ipv4_fn / nf_nat_ipv6_fn do once the binding exists: an ICMP error RELATED to the
    /// connection gets its quoted header translated too; every other packet goes through <see cref="Packet"/>.
    /// </summary>
    public static NatVerdict Translate(Span<byte> frame, in DecodedPacket d, in NfConntrackTuple original, in NfConntrackTuple reply,
        CtStatus status, CtState state, NfNatManipType manip, CtDirection dir)
    {
        if (state == CtState.Related && (d.Flags & PacketFlags.IcmpError) != 0 && d.Protocol is NfNatTuple.Icmp or NfNatTuple.Icmpv6)
            return IcmpReplyTranslation(frame, d, original, reply, status, manip, dir);
        return Packet(frame, d, original, reply, status, manip, dir);
    }

    /// <summary>
    /// nf_nat_manip_pkt: makes the packet look like the inverse of the other direction's tuple, on
    /// the side <paramref name="manip"/> names.
    /// </summary>
    public static NatVerdict ManipPacket(Span<byte> frame, in DecodedPacket d, in NfConntrackTuple original, in NfConntrackTuple reply,
        NfNatManipType manip, CtDirection dir)
    {
        if (!d.HasIp)
            return NatVerdict.DropHeaderMissing;
        var target = NfNatTuple.Invert(dir == CtDirection.Original ? reply : original);
        int end = DatagramEnd(frame, d);
        bool ok = d.IsIpv4
            ? Ipv4ManipPkt(frame, d.L3Offset, end, target, manip)
            : Ipv6ManipPkt(frame, d.L3Offset, end, target, manip);
        return ok ? NatVerdict.Accept : NatVerdict.DropHeaderMissing;
    }

    /// <summary>
    /// nf_nat_icmp_reply_translation / nf_nat_icmpv6_reply_translation: an ICMP error about a NATed
    /// connection. The quoted header is rewritten with the opposite manip to the other direction's
    /// tuple (it travelled the other way), the ICMP checksum follows, then the outer header is
    /// rewritten as for any packet of this direction.
    /// </summary>
    public static NatVerdict IcmpReplyTranslation(Span<byte> frame, in DecodedPacket d, in NfConntrackTuple original, in NfConntrackTuple reply,
        CtStatus status, NfNatManipType manip, CtDirection dir)
    {
        if (!d.HasIp || !d.HasTransport)
            return NatVerdict.DropHeaderMissing;
        bool v6 = d.IsIpv6;
        int icmp = d.L4Offset;
        int end = DatagramEnd(frame, d);
        int inner = icmp + IcmpHeaderLength;
        if (end < inner + (v6 ? 40 : 20) || !Has(frame, icmp, 4))
            return NatVerdict.DropHeaderMissing;

        // A redirect is translated only for a connection with both bindings done and no NAT at all.
        if (frame[icmp] == (v6 ? 137 : 5))
        {
            const CtStatus doneMask = CtStatus.SrcNatDone | CtStatus.DstNatDone;
            if ((status & doneMask) != doneMask || (status & (CtStatus.SrcNat | CtStatus.DstNat)) != 0)
                return NatVerdict.DropIcmpRedirect;
        }

        if (!NfNatTuple.NeedsManip(status, manip, dir))
            return NatVerdict.Accept;

        // The quoted packet went the other way: rewrite it toward the other direction's tuple as it is.
        ref readonly var other = ref dir == CtDirection.Original ? ref reply : ref original;
        var quoted = frame[inner..Math.Min(end, frame.Length)];
        uint before = InetChecksum.Sum(quoted);
        var innerManip = manip == NfNatManipType.Src ? NfNatManipType.Dst : NfNatManipType.Src;
        bool ok = v6
            ? Ipv6ManipPkt(frame, inner, end, other, innerManip)
            : Ipv4ManipPkt(frame, inner, end, other, innerManip);
        if (!ok)
            return NatVerdict.DropHeaderMissing;
        // The kernel sums the whole ICMP message again; patching by the quoted bytes' change is the same when the checksum was right.
        InetChecksum.ReplaceSum(frame, icmp + 2, before, InetChecksum.Sum(quoted));

        // Change the outer header to look like the reply to an incoming packet.
        var target = NfNatTuple.Invert(other) with { Protocol = d.Protocol };
        ok = v6
            ? Ipv6ManipPkt(frame, d.L3Offset, end, target, manip)
            : Ipv4ManipPkt(frame, d.L3Offset, end, target, manip);
        return ok ? NatVerdict.Accept : NatVerdict.DropHeaderMissing;
    }

    /// <summary>Where the datagram ends by its length field (the kernel's skb->len); the capture may hold fewer bytes.</summary>
    private static int DatagramEnd(ReadOnlySpan<byte> frame, in DecodedPacket d) => d.L3Offset + d.IpTotalLength;

    /// <summary>Whether the capture holds <paramref name="length"/> bytes at <paramref name="at"/>: what it does not hold is not rewritten.</summary>
    private static bool Has(ReadOnlySpan<byte> frame, int at, int length) => at + length <= frame.Length;

    /// <summary>nf_nat_ipv4_manip_pkt: the L4 part first (its pseudo-header update reads the old address), then the address and header checksum.</summary>
    private static bool Ipv4ManipPkt(Span<byte> frame, int iphdroff, int end, in NfConntrackTuple target, NfNatManipType manip)
    {
        if (end < iphdroff + 20)
            return false;
        if (!Has(frame, iphdroff, 20))
            return true; // a quoted header beyond the snap length
        int ihl = (frame[iphdroff] & 0xF) * 4;
        if (ihl < 20)
            return false; // a quoted header conntrack could not have parsed
        int hdroff = iphdroff + ihl;
        // Defrag precedes NAT in the kernel; a fragment seen here past the first carries no L4 header.
        bool firstFragment = (BinaryPrimitives.ReadUInt16BigEndian(frame[(iphdroff + 6)..]) & 0x1FFF) == 0;
        if (firstFragment && !L4ManipPkt(frame, iphdroff, hdroff, end, target, manip, v6: false))
            return false;

        int at = iphdroff + (manip == NfNatManipType.Src ? 12 : 16);
        uint oldIp = BinaryPrimitives.ReadUInt32BigEndian(frame[at..]);
        uint newIp = manip == NfNatManipType.Src ? target.Src.V4 : target.Dst.V4;
        InetChecksum.Replace4(frame, iphdroff + 10, oldIp, newIp);
        BinaryPrimitives.WriteUInt32BigEndian(frame[at..], newIp);
        return true;
    }

    /// <summary>nf_nat_ipv6_manip_pkt: the L4 part when the extension headers lead to it (first fragment only), then the address.</summary>
    private static bool Ipv6ManipPkt(Span<byte> frame, int iphdroff, int end, in NfConntrackTuple target, NfNatManipType manip)
    {
        if (end < iphdroff + 40)
            return false;
        if (!Has(frame, iphdroff, 40))
            return true; // a quoted header beyond the snap length
        // An extension-header chain running past the capture hides the upper header: only the address is rewritten.
        int hdroff = SkipExtHeaders(frame, iphdroff, Math.Min(end, frame.Length), out bool laterFragment);
        if (hdroff >= 0 && !laterFragment && !L4ManipPkt(frame, iphdroff, hdroff, end, target, manip, v6: true))
            return false;

        int at = iphdroff + (manip == NfNatManipType.Src ? 8 : 24);
        var addr = manip == NfNatManipType.Src ? target.Src : target.Dst;
        BinaryPrimitives.WriteUInt64BigEndian(frame[at..], addr.Hi);
        BinaryPrimitives.WriteUInt64BigEndian(frame[(at + 8)..], addr.Lo);
        return true;
    }

    /// <summary>ipv6_skip_exthdr from the fixed header: the upper-layer header's offset, or -1 (no next header, or the chain runs out).</summary>
    private static int SkipExtHeaders(ReadOnlySpan<byte> frame, int iphdroff, int end, out bool laterFragment)
    {
        laterFragment = false;
        byte next = frame[iphdroff + 6];
        int at = iphdroff + 40;
        while (next is 0 or 43 or 44 or 51 or 59 or 60)
        {
            if (next == 59 || at + 8 > end)
                return -1;
            int length;
            if (next == 44)
            {
                if ((BinaryPrimitives.ReadUInt16BigEndian(frame[(at + 2)..]) & ~7) != 0)
                {
                    laterFragment = true;
                    return at + 8;
                }
                length = 8;
            }
            else if (next == 51)
            {
                length = (frame[at + 1] + 2) << 2;
            }
            else
            {
                length = (frame[at + 1] + 1) << 3;
            }
            next = frame[at];
            at += length;
        }
        return at;
    }

    /// <summary>
    /// l4proto_manip_pkt, chosen by the target tuple's protocol. TCP, UDP and the rest mirror
    /// tcp_manip_pkt, __udp_manip_pkt, sctp_manip_pkt, icmp_manip_pkt and icmpv6_manip_pkt. A header
    /// quoted in an ICMP error may hold only its first 8 bytes: then the ports change and the checksum,
    /// beyond them, does not. Unknown protocols (and GRE outside PPTP) pass unmodified.
    /// </summary>
    private static bool L4ManipPkt(Span<byte> frame, int iphdroff, int hdroff, int end, in NfConntrackTuple target, NfNatManipType manip, bool v6)
    {
        switch (target.Protocol)
        {
            case NfNatTuple.Tcp:
            {
                if (end < hdroff + 8)
                    return false;
                int portAt = hdroff + (manip == NfNatManipType.Src ? 0 : 2);
                if (!Has(frame, portAt, 2))
                    return true;
                ushort oldPort = BinaryPrimitives.ReadUInt16BigEndian(frame[portAt..]);
                ushort newPort = manip == NfNatManipType.Src ? target.SrcPort : target.DstPort;
                BinaryPrimitives.WriteUInt16BigEndian(frame[portAt..], newPort);
                if (end < hdroff + 20 || !Has(frame, hdroff + 16, 2))
                    return true;
                CsumUpdate(frame, iphdroff, hdroff + 16, target, manip, v6);
                InetChecksum.Replace2(frame, hdroff + 16, oldPort, newPort);
                return true;
            }
            case NfNatTuple.Udp:
            case NfNatTuple.UdpLite:
            {
                if (end < hdroff + 8)
                    return false;
                int portAt = hdroff + (manip == NfNatManipType.Src ? 0 : 2);
                if (!Has(frame, portAt, 2))
                    return true;
                ushort oldPort = BinaryPrimitives.ReadUInt16BigEndian(frame[portAt..]);
                ushort newPort = manip == NfNatManipType.Src ? target.SrcPort : target.DstPort;
                // A zero UDP checksum over IPv4 means "none"; UDP-Lite always has one.
                bool doCsum = Has(frame, hdroff + 6, 2)
                    && (target.Protocol == NfNatTuple.UdpLite || BinaryPrimitives.ReadUInt16BigEndian(frame[(hdroff + 6)..]) != 0);
                if (doCsum)
                {
                    CsumUpdate(frame, iphdroff, hdroff + 6, target, manip, v6);
                    InetChecksum.Replace2(frame, hdroff + 6, oldPort, newPort);
                    if (BinaryPrimitives.ReadUInt16BigEndian(frame[(hdroff + 6)..]) == 0)
                        BinaryPrimitives.WriteUInt16BigEndian(frame[(hdroff + 6)..], 0xFFFF); // CSUM_MANGLED_0
                }
                BinaryPrimitives.WriteUInt16BigEndian(frame[portAt..], newPort);
                return true;
            }
            case NfNatTuple.Sctp:
            {
                if (end < hdroff + 8)
                    return false;
                int portAt = hdroff + (manip == NfNatManipType.Src ? 0 : 2);
                if (Has(frame, portAt, 2))
                    BinaryPrimitives.WriteUInt16BigEndian(frame[portAt..], manip == NfNatManipType.Src ? target.SrcPort : target.DstPort);
                if (end < hdroff + 12 || !Has(frame, hdroff, end - hdroff))
                    return true;
                // CRC32c cannot be patched: recomputed over the packet, which must all be in the capture.
                var sctp = frame[hdroff..end];
                BinaryPrimitives.WriteUInt32LittleEndian(frame[(hdroff + 8)..], InetChecksum.Crc32C(sctp, 8));
                return true;
            }
            case NfNatTuple.Icmp:
            {
                if (end < hdroff + 8)
                    return false;
                if (!Has(frame, hdroff, 8))
                    return true;
                // Only the query types carry an id; an error's "unused" word must stay as it is.
                if (frame[hdroff] is not (0 or 8 or 13 or 14 or 15 or 16 or 17 or 18))
                    return true;
                ushort oldId = BinaryPrimitives.ReadUInt16BigEndian(frame[(hdroff + 4)..]);
                InetChecksum.Replace2(frame, hdroff + 2, oldId, target.SrcPort);
                BinaryPrimitives.WriteUInt16BigEndian(frame[(hdroff + 4)..], target.SrcPort);
                return true;
            }
            case NfNatTuple.Icmpv6:
            {
                if (end < hdroff + 8)
                    return false;
                if (!Has(frame, hdroff, 8))
                    return true;
                CsumUpdate(frame, iphdroff, hdroff + 2, target, manip, v6);
                if (frame[hdroff] is 128 or 129)
                {
                    ushort oldId = BinaryPrimitives.ReadUInt16BigEndian(frame[(hdroff + 4)..]);
                    InetChecksum.Replace2(frame, hdroff + 2, oldId, target.SrcPort);
                    BinaryPrimitives.WriteUInt16BigEndian(frame[(hdroff + 4)..], target.SrcPort);
                }
                return true;
            }
            default:
                return true;
        }
    }

    /// <summary>nf_csum_update: the pseudo-header part of an L4 checksum follows the address about to change.</summary>
    private static void CsumUpdate(Span<byte> frame, int iphdroff, int checkAt, in NfConntrackTuple target, NfNatManipType manip, bool v6)
    {
        if (!v6)
        {
            int at = iphdroff + (manip == NfNatManipType.Src ? 12 : 16);
            uint oldIp = BinaryPrimitives.ReadUInt32BigEndian(frame[at..]);
            InetChecksum.Replace4(frame, checkAt, oldIp, manip == NfNatManipType.Src ? target.Src.V4 : target.Dst.V4);
        }
        else
        {
            int at = iphdroff + (manip == NfNatManipType.Src ? 8 : 24);
            var oldIp = IpAddr.ReadV6(frame[at..]);
            InetChecksum.Replace16(frame, checkAt, oldIp, manip == NfNatManipType.Src ? target.Src : target.Dst);
        }
    }
}
