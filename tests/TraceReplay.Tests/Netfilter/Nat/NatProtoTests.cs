using System.Buffers.Binary;
using System.Net;
using PacketDotNet;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Netfilter.Nat;

/// <summary>
/// Packet rewriting (nf_nat_proto.c). The first tests replay datagrams a Linux 6.18 router forwarded
/// with `-t nat -A POSTROUTING -o r1 -j MASQUERADE` (client 10.0.1.2 behind r0, server 192.0.2.2 on
/// r1, router 192.0.2.1; three network namespaces, tcpdump on r0 and r1, deleted afterwards; the
/// client sent through raw sockets so its checksums were complete rather than CHECKSUM_PARTIAL):
/// our rewrite of the datagram seen on one side, plus the forward path's TTL decrement, must give
/// the bytes seen on the other side exactly. The rest check our output with PacketDotNet's checksums.
/// </summary>
public sealed class NatProtoTests
{
    private static IpAddr Ip(string s) => IpAddr.Parse(s);

    // Witnessed datagrams (IP header onward), as tcpdump -x printed them.
    private const string UdpOnR0 = "45000021c1d540004011abf20a000102c000020215b3270f000db23b68656c6c6f";
    private const string UdpOnR1 = "45000021c1d540003f11f5f2c0000201c000020215b3270f000dfb3b68656c6c6f";
    private const string UnreachOnR1 = "45c0003dfb0e00004001faedc0000202c00002010303811f0000000045000021c1d540003f11f5f2c0000201c000020215b3270f000dfb3b68656c6c6f";
    private const string UnreachOnR0 = "45c0003dfb0e00003f01b2edc00002020a0001020303ca1f0000000045000021c1d540003f11acf20a000102c000020215b3270f000db23b68656c6c6f";
    private const string SynOnR0 = "45000028f60d4000400677be0a000102c00002029c40270e000003e8000000005002faf020b70000";
    private const string SynOnR1 = "45000028f60d40003f06c1bec0000201c00002029c40270e000003e8000000005002faf069b70000";
    private const string RstOnR1 = "45000028000040004006b6ccc0000202c0000201270e9c4000000000000003e95014000064950000";
    private const string RstOnR0 = "45000028000040003f066eccc00002020a000102270e9c4000000000000003e9501400001b950000";

    private const CtStatus Masqueraded = CtStatus.SrcNat | CtStatus.SrcNatDone | CtStatus.DstNatDone;

    /// <summary>ip_decrease_ttl: the forward path's TTL decrement with its checksum trick.</summary>
    private static void DecreaseTtl(Span<byte> ip)
    {
        uint check = BinaryPrimitives.ReadUInt16LittleEndian(ip[10..]); // the kernel adds htons(0x0100) to the raw __sum16
        check += 0x0001; // htons(0x0100) on a little-endian host, read little-endian
        check += check >= 0xFFFF ? 1u : 0u;
        BinaryPrimitives.WriteUInt16LittleEndian(ip[10..], (ushort)check);
        ip[8]--;
    }

    /// <summary>Support.Frames leaves some L4 checksums unset: fill them with PacketDotNet so the rewrite starts from a valid packet.</summary>
    private static byte[] Checksummed(byte[] ethernet)
    {
        var eth = new EthernetPacket(Frames.Segment(ethernet));
        switch (eth.PayloadPacket?.PayloadPacket)
        {
            case TcpPacket tcp:
                tcp.UpdateTcpChecksum();
                Assert.True(tcp.ValidTcpChecksum);
                break;
            case UdpPacket udp:
                udp.UpdateUdpChecksum();
                Assert.True(udp.ValidUdpChecksum);
                break;
        }
        if (eth.PayloadPacket is IPv4Packet ip)
            ip.UpdateIPChecksum();
        return eth.Bytes;
    }

    private static DecodedPacket Decode(byte[] frame, LinkType link = LinkType.Raw)
    {
        PacketDecoder.Decode(frame, link, frame.Length, out var d);
        Assert.True(d.HasIp && !d.IsMalformed, d.Issue.ToString());
        return d;
    }

    [Fact]
    public void Masqueraded_udp_matches_the_kernels_bytes()
    {
        var original = new NfConntrackTuple(Ip("10.0.1.2"), Ip("192.0.2.2"), 5555, 9999, NfNatTuple.Udp, false);
        var reply = new NfConntrackTuple(Ip("192.0.2.2"), Ip("192.0.2.1"), 9999, 5555, NfNatTuple.Udp, false);
        var frame = Convert.FromHexString(UdpOnR0);
        var d = Decode(frame);
        DecreaseTtl(frame); // forwarding precedes POSTROUTING
        Assert.Equal(NatVerdict.Accept, NfNatProto.Packet(frame, d, original, reply, Masqueraded, NfNatManipType.Src, CtDirection.Original));
        Assert.Equal(UdpOnR1, Convert.ToHexStringLower(frame));

        // The same packet at PREROUTING (DST manip) is not touched: the connection has no DNAT.
        var untouched = Convert.FromHexString(UdpOnR0);
        NfNatProto.Packet(untouched, d, original, reply, Masqueraded, NfNatManipType.Dst, CtDirection.Original);
        Assert.Equal(UdpOnR0, Convert.ToHexStringLower(untouched));
    }

    [Fact]
    public void Masqueraded_tcp_both_ways_matches_the_kernels_bytes()
    {
        var original = new NfConntrackTuple(Ip("10.0.1.2"), Ip("192.0.2.2"), 40000, 9998, NfNatTuple.Tcp, false);
        var reply = new NfConntrackTuple(Ip("192.0.2.2"), Ip("192.0.2.1"), 9998, 40000, NfNatTuple.Tcp, false);

        var syn = Convert.FromHexString(SynOnR0);
        var d = Decode(syn);
        DecreaseTtl(syn);
        Assert.Equal(NatVerdict.Accept, NfNatProto.Packet(syn, d, original, reply, Masqueraded, NfNatManipType.Src, CtDirection.Original));
        Assert.Equal(SynOnR1, Convert.ToHexStringLower(syn));

        // The reset comes back in the reply direction: de-NATed at PREROUTING (DST manip), then forwarded.
        var rst = Convert.FromHexString(RstOnR1);
        d = Decode(rst);
        Assert.Equal(NatVerdict.Accept, NfNatProto.Packet(rst, d, original, reply, Masqueraded, NfNatManipType.Dst, CtDirection.Reply));
        DecreaseTtl(rst);
        Assert.Equal(RstOnR0, Convert.ToHexStringLower(rst));
    }

    [Fact]
    public void Icmp_error_inner_header_matches_the_kernels_bytes()
    {
        // Port unreachable from the server about the masqueraded datagram: RELATED, reply direction.
        var original = new NfConntrackTuple(Ip("10.0.1.2"), Ip("192.0.2.2"), 5555, 9999, NfNatTuple.Udp, false);
        var reply = new NfConntrackTuple(Ip("192.0.2.2"), Ip("192.0.2.1"), 9999, 5555, NfNatTuple.Udp, false);
        var frame = Convert.FromHexString(UnreachOnR1);
        var d = Decode(frame);
        Assert.True((d.Flags & PacketFlags.IcmpError) != 0);
        Assert.Equal(NatVerdict.Accept, NfNatProto.Translate(frame, d, original, reply, Masqueraded, CtState.Related, NfNatManipType.Dst, CtDirection.Reply));
        DecreaseTtl(frame);
        Assert.Equal(UnreachOnR0, Convert.ToHexStringLower(frame));

        // At POSTROUTING (SRC manip) of the same direction nothing is left to do (no DNAT on the connection).
        var again = Convert.FromHexString(UnreachOnR1);
        NfNatProto.Translate(again, d, original, reply, Masqueraded, CtState.Related, NfNatManipType.Src, CtDirection.Reply);
        Assert.Equal(UnreachOnR1, Convert.ToHexStringLower(again));
    }

    [Fact]
    public void Icmp_redirect_about_a_natted_connection_is_dropped()
    {
        // nf_nat_icmp_reply_translation refuses redirects unless both bindings are done and neither translates.
        var original = new NfConntrackTuple(Ip("10.0.1.2"), Ip("192.0.2.2"), 5555, 9999, NfNatTuple.Udp, false);
        var reply = new NfConntrackTuple(Ip("192.0.2.2"), Ip("192.0.2.1"), 9999, 5555, NfNatTuple.Udp, false);
        var frame = Convert.FromHexString(UnreachOnR1);
        frame[20] = 5; // type: redirect
        var d = Decode(frame);
        Assert.Equal(NatVerdict.DropIcmpRedirect, NfNatProto.Translate(frame, d, original, reply, Masqueraded, CtState.Related, NfNatManipType.Dst, CtDirection.Reply));
    }

    [Fact]
    public void Tcp_v4_snat_and_dnat_checksums_verify_with_PacketDotNet()
    {
        var frame = Frames.TcpV4("10.0.0.2", 40000, "203.0.113.9", 443, payload: 33);
        var d = Decode(frame, LinkType.Ethernet);
        var original = new NfConntrackTuple(Ip("10.0.0.2"), Ip("203.0.113.9"), 40000, 443, NfNatTuple.Tcp, false);
        var reply = new NfConntrackTuple(Ip("192.168.7.7"), Ip("198.51.100.1"), 8443, 61000, NfNatTuple.Tcp, false);
        var status = CtStatus.SrcNat | CtStatus.DstNat | CtStatus.SrcNatDone | CtStatus.DstNatDone;
        Assert.Equal(NatVerdict.Accept, NfNatProto.Packet(frame, d, original, reply, status, NfNatManipType.Dst, CtDirection.Original));
        Assert.Equal(NatVerdict.Accept, NfNatProto.Packet(frame, d, original, reply, status, NfNatManipType.Src, CtDirection.Original));

        var ip = (IPv4Packet)new EthernetPacket(Frames.Segment(frame)).PayloadPacket;
        var tcp = (TcpPacket)ip.PayloadPacket;
        Assert.Equal((IPAddress.Parse("198.51.100.1"), IPAddress.Parse("192.168.7.7")), (ip.SourceAddress, ip.DestinationAddress));
        Assert.Equal(((ushort)61000, (ushort)8443), (tcp.SourcePort, tcp.DestinationPort));
        Assert.True(ip.ValidIPChecksum);
        Assert.True(tcp.ValidTcpChecksum);

        // And back: the reply direction undoes both.
        var back = Frames.TcpV4("192.168.7.7", 8443, "198.51.100.1", 61000, syn: true, ack: true);
        d = Decode(back, LinkType.Ethernet);
        NfNatProto.Packet(back, d, original, reply, status, NfNatManipType.Dst, CtDirection.Reply);
        NfNatProto.Packet(back, d, original, reply, status, NfNatManipType.Src, CtDirection.Reply);
        ip = (IPv4Packet)new EthernetPacket(Frames.Segment(back)).PayloadPacket;
        tcp = (TcpPacket)ip.PayloadPacket;
        Assert.Equal((IPAddress.Parse("203.0.113.9"), IPAddress.Parse("10.0.0.2")), (ip.SourceAddress, ip.DestinationAddress));
        Assert.Equal(((ushort)443, (ushort)40000), (tcp.SourcePort, tcp.DestinationPort));
        Assert.True(ip.ValidIPChecksum && tcp.ValidTcpChecksum);
    }

    [Fact]
    public void Udp_checksum_zero_stays_zero_and_nonzero_stays_valid()
    {
        var original = new NfConntrackTuple(Ip("10.0.0.2"), Ip("203.0.113.9"), 5353, 53, NfNatTuple.Udp, false);
        var reply = new NfConntrackTuple(Ip("203.0.113.9"), Ip("198.51.100.1"), 53, 1234, NfNatTuple.Udp, false);
        var frame = Checksummed(Frames.UdpV4("10.0.0.2", 5353, "203.0.113.9", 53, payload: 17));
        var d = Decode(frame, LinkType.Ethernet);
        NfNatProto.Packet(frame, d, original, reply, CtStatus.SrcNat, NfNatManipType.Src, CtDirection.Original);
        var ip = (IPv4Packet)new EthernetPacket(Frames.Segment(frame)).PayloadPacket;
        var udp = (UdpPacket)ip.PayloadPacket;
        Assert.Equal(1234, udp.SourcePort);
        Assert.True(ip.ValidIPChecksum && udp.ValidUdpChecksum);

        // A datagram sent without a checksum (0) is not given one (__udp_manip_pkt's do_csum).
        var none = Checksummed(Frames.UdpV4("10.0.0.2", 5353, "203.0.113.9", 53, payload: 17));
        d = Decode(none, LinkType.Ethernet);
        none[d.L4Offset + 6] = 0;
        none[d.L4Offset + 7] = 0;
        NfNatProto.Packet(none, d, original, reply, CtStatus.SrcNat, NfNatManipType.Src, CtDirection.Original);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(none.AsSpan(d.L4Offset + 6)));
        Assert.Equal(1234, BinaryPrimitives.ReadUInt16BigEndian(none.AsSpan(d.L4Offset)));
    }

    [Fact]
    public void Tcp_v6_snat_checksum_verifies_with_PacketDotNet()
    {
        var frame = Checksummed(Frames.TcpV6("fd00::2", 40000, "2001:db8::9", 443));
        var d = Decode(frame, LinkType.Ethernet);
        var original = new NfConntrackTuple(Ip("fd00::2"), Ip("2001:db8::9"), 40000, 443, NfNatTuple.Tcp, true);
        var reply = new NfConntrackTuple(Ip("2001:db8::9"), Ip("2001:db8:ffff::1"), 443, 2222, NfNatTuple.Tcp, true);
        NfNatProto.Packet(frame, d, original, reply, CtStatus.SrcNat, NfNatManipType.Src, CtDirection.Original);
        var ip = (IPv6Packet)new EthernetPacket(Frames.Segment(frame)).PayloadPacket;
        var tcp = (TcpPacket)ip.PayloadPacket;
        Assert.Equal(IPAddress.Parse("2001:db8:ffff::1"), ip.SourceAddress);
        Assert.Equal(2222, tcp.SourcePort);
        Assert.True(tcp.ValidTcpChecksum);
    }

    [Fact]
    public void Icmp_echo_id_rewrite_keeps_the_checksum_valid()
    {
        var icmp = new IcmpV4Packet(new PacketDotNet.Utils.ByteArraySegment(new byte[8 + 12]))
        {
            TypeCode = IcmpV4TypeCode.EchoRequest,
            Id = 777,
            Sequence = 1,
        };
        var ipPacket = new IPv4Packet(IPAddress.Parse("10.0.0.2"), IPAddress.Parse("203.0.113.9")) { TimeToLive = 64, PayloadPacket = icmp };
        ipPacket.UpdateCalculatedValues();
        icmp.UpdateIcmpChecksum();
        ipPacket.UpdateIPChecksum();
        var frame = ipPacket.Bytes;
        var d = Decode(frame);
        var original = new NfConntrackTuple(Ip("10.0.0.2"), Ip("203.0.113.9"), 777, 0, NfNatTuple.Icmp, false, IcmpType: 8);
        var reply = new NfConntrackTuple(Ip("203.0.113.9"), Ip("198.51.100.1"), 4242, 0, NfNatTuple.Icmp, false, IcmpType: 0);
        NfNatProto.Packet(frame, d, original, reply, CtStatus.SrcNat, NfNatManipType.Src, CtDirection.Original);
        var ip = new IPv4Packet(new PacketDotNet.Utils.ByteArraySegment(frame));
        var echo = (IcmpV4Packet)ip.PayloadPacket;
        Assert.Equal(4242, echo.Id);
        Assert.Equal(IPAddress.Parse("198.51.100.1"), ip.SourceAddress);
        Assert.True(ip.ValidIPChecksum && echo.ValidIcmpChecksum);
    }

    [Fact]
    public void Icmpv6_error_inner_header_and_checksum_are_translated()
    {
        // A DNATed TCP connection fd00::2:40000 → [2001:db8::80]:80, really to [fd00:1::5]:8080; the server
        // answers an error (port unreachable) in the reply direction, seen at POSTROUTING (SRC manip).
        var original = new NfConntrackTuple(Ip("fd00::2"), Ip("2001:db8::80"), 40000, 80, NfNatTuple.Tcp, true);
        var reply = new NfConntrackTuple(Ip("fd00:1::5"), Ip("fd00::2"), 8080, 40000, NfNatTuple.Tcp, true);
        var status = CtStatus.DstNat | CtStatus.DstNatDone | CtStatus.SrcNatDone;

        // The quoted packet as the server saw it: fd00::2:40000 → [fd00:1::5]:8080 (40 + 20 bytes).
        var quoted = Checksummed(Frames.TcpV6("fd00::2", 40000, "fd00:1::5", 8080));
        var inner = quoted.AsSpan(14).ToArray();
        var frame = new byte[40 + 8 + inner.Length];
        frame[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(4), (ushort)(8 + inner.Length));
        frame[6] = 58;
        frame[7] = 64;
        WriteV6(frame.AsSpan(8), Ip("fd00:1::5"));
        WriteV6(frame.AsSpan(24), Ip("fd00::2"));
        frame[40] = 1; // destination unreachable
        frame[41] = 4; // port unreachable
        inner.CopyTo(frame, 48);
        WriteIcmpv6Checksum(frame);
        var d = Decode(frame);
        Assert.True((d.Flags & PacketFlags.IcmpError) != 0);

        Assert.Equal(NatVerdict.Accept, NfNatProto.Translate(frame, d, original, reply, status, CtState.Related, NfNatManipType.Src, CtDirection.Reply));
        Assert.Equal(Ip("2001:db8::80"), IpAddr.ReadV6(frame.AsSpan(8)));
        Assert.Equal(Ip("2001:db8::80"), IpAddr.ReadV6(frame.AsSpan(48 + 24)));
        Assert.Equal(80, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(48 + 40 + 2)));
        var check = frame.AsSpan(42, 2).ToArray();
        WriteIcmpv6Checksum(frame);
        Assert.Equal(check, frame.AsSpan(42, 2).ToArray());

        // The quoted TCP header's own checksum is patched too (tcp_manip_pkt on the inner header).
        var innerTcp = new IPv6Packet(new PacketDotNet.Utils.ByteArraySegment(frame.AsSpan(48).ToArray()));
        Assert.True(((TcpPacket)innerTcp.PayloadPacket).ValidTcpChecksum);
    }

    private static void WriteV6(Span<byte> at, IpAddr a)
    {
        BinaryPrimitives.WriteUInt64BigEndian(at, a.Hi);
        BinaryPrimitives.WriteUInt64BigEndian(at[8..], a.Lo);
    }

    /// <summary>The ICMPv6 checksum from scratch (RFC 4443 §2.3), independent of the incremental code under test.</summary>
    private static void WriteIcmpv6Checksum(byte[] f)
    {
        f[42] = f[43] = 0;
        int len = f.Length - 40;
        long sum = 0;
        for (int i = 8; i < 40; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(i));
        sum += len + 58;
        for (int i = 40; i < f.Length; i += 2)
            sum += i + 1 < f.Length ? BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(i)) : f[i] << 8;
        while (sum >> 16 != 0)
            sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(42), (ushort)~sum);
    }

    [Fact]
    public void Truncated_capture_rewrites_what_is_there_and_missing_headers_drop()
    {
        // Snap length 40 bytes of IP: the TCP header's ports are there, its checksum (offset 16) too.
        var full = Frames.TcpV4("10.0.0.2", 40000, "203.0.113.9", 443, payload: 100);
        var cut = full.AsSpan(0, 14 + 20 + 18).ToArray();
        PacketDecoder.Decode(cut, LinkType.Ethernet, full.Length, out var d);
        Assert.True(d.IsTruncated);
        var original = new NfConntrackTuple(Ip("10.0.0.2"), Ip("203.0.113.9"), 40000, 443, NfNatTuple.Tcp, false);
        var reply = new NfConntrackTuple(Ip("203.0.113.9"), Ip("198.51.100.1"), 443, 40000, NfNatTuple.Tcp, false);
        Assert.Equal(NatVerdict.Accept, NfNatProto.Packet(cut, d, original, reply, CtStatus.SrcNat, NfNatManipType.Src, CtDirection.Original));
        Assert.Equal(Ip("198.51.100.1"), IpAddr.ReadV4(cut.AsSpan(14 + 12)));
        // The incremental update is right for the whole packet: apply the same to the full frame and compare.
        PacketDecoder.Decode(full, LinkType.Ethernet, full.Length, out var fd);
        NfNatProto.Packet(full, fd, original, reply, CtStatus.SrcNat, NfNatManipType.Src, CtDirection.Original);
        Assert.Equal(full.AsSpan(0, cut.Length).ToArray(), cut);
        var tcp = (TcpPacket)((IPv4Packet)new EthernetPacket(Frames.Segment(full)).PayloadPacket).PayloadPacket;
        Assert.True(tcp.ValidTcpChecksum);

        // An IP header with no transport header at all in the datagram: tcp_manip_pkt cannot write the ports.
        var bare = Convert.FromHexString("45000014000040004006000c0a000002cb007109");
        PacketDecoder.Decode(bare, LinkType.Raw, bare.Length, out var bd);
        Assert.Equal(NatVerdict.DropHeaderMissing, NfNatProto.Packet(bare, bd, original, reply, CtStatus.SrcNat, NfNatManipType.Src, CtDirection.Original));
    }

    [Fact]
    public void Sctp_port_rewrite_recomputes_the_crc32c()
    {
        // sctp_manip_pkt cannot patch CRC32c: it recomputes sctp_compute_cksum over the packet, stored
        // little-endian. Checked against a bitwise CRC32c written here (Castagnoli, reflected 0x82F63B78),
        // itself checked on RFC 3720's vector (32 zero bytes → 0x8A9136AA).
        Assert.Equal(0x8A9136AAu, BitwiseCrc32C(new byte[32]));
        byte[] sctp =
        [
            0x9c, 0x40, 0x0b, 0x59, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, // ports 40000 → 2905, vtag, checksum
            0x00, 0x03, 0x00, 0x14, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x61, 0x62, 0x63, 0x64, // DATA chunk
        ];
        var frame = new byte[20 + sctp.Length];
        Convert.FromHexString("4500000000004000408400000a000002cb007109").CopyTo(frame, 0);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)frame.Length);
        sctp.CopyTo(frame, 20);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(28), BitwiseCrc32C(frame.AsSpan(20)));
        var d = Decode(frame);
        var original = new NfConntrackTuple(Ip("10.0.0.2"), Ip("203.0.113.9"), 40000, 2905, NfNatTuple.Sctp, false);
        var reply = new NfConntrackTuple(Ip("203.0.113.9"), Ip("198.51.100.1"), 2905, 50000, NfNatTuple.Sctp, false);
        Assert.Equal(NatVerdict.Accept, NfNatProto.Packet(frame, d, original, reply, CtStatus.SrcNat, NfNatManipType.Src, CtDirection.Original));
        Assert.Equal(50000, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(20)));
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(28));
        frame.AsSpan(28, 4).Clear();
        Assert.Equal(BitwiseCrc32C(frame.AsSpan(20)), stored);
    }

    private static uint BitwiseCrc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
        }
        return ~crc;
    }

    [Fact]
    public void Mutated_frames_never_throw()
    {
        // 20000 fixed-seed byte mutations and cuts of the witnessed datagrams, through every hook/direction:
        // the rewrite may drop or skip, never throw.
        var rng = new Random(4242);
        string[] seeds = [UdpOnR0, UnreachOnR1, SynOnR0, RstOnR1];
        var original = new NfConntrackTuple(Ip("10.0.1.2"), Ip("192.0.2.2"), 5555, 9999, NfNatTuple.Udp, false);
        var reply = new NfConntrackTuple(Ip("192.0.2.2"), Ip("192.0.2.1"), 9999, 5555, NfNatTuple.Udp, false);
        var v6original = new NfConntrackTuple(Ip("fd00::2"), Ip("2001:db8::80"), 40000, 80, NfNatTuple.Icmpv6, true);
        var v6reply = new NfConntrackTuple(Ip("fd00:1::5"), Ip("fd00::2"), 8080, 40000, NfNatTuple.Icmpv6, true);
        const CtStatus all = CtStatus.SrcNat | CtStatus.DstNat | CtStatus.SrcNatDone | CtStatus.DstNatDone;
        for (int n = 0; n < 20000; n++)
        {
            var frame = Convert.FromHexString(seeds[n % seeds.Length]);
            for (int m = rng.Next(1, 6); m > 0; m--)
                frame[rng.Next(frame.Length)] = (byte)rng.Next(256);
            if (n % 7 == 0)
                frame[0] = (byte)(0x60 | (frame[0] & 0xF));
            var cut = frame.AsSpan(0, rng.Next(1, frame.Length + 1)).ToArray();
            PacketDecoder.Decode(cut, LinkType.Raw, frame.Length, out var d);
            foreach (var proto in new byte[] { NfNatTuple.Udp, NfNatTuple.Tcp, NfNatTuple.Icmp, NfNatTuple.Sctp, NfNatTuple.Icmpv6 })
            {
                var (o, r) = d.IsIpv6 ? (v6original with { Protocol = proto }, v6reply with { Protocol = proto }) : (original with { Protocol = proto }, reply with { Protocol = proto });
                var state = (n & 1) == 0 ? CtState.Related : CtState.Established;
                NfNatProto.Translate(cut, d, o, r, all, state, (NfNatManipType)(n & 1), (CtDirection)((n >> 1) & 1));
            }
        }
    }
}
