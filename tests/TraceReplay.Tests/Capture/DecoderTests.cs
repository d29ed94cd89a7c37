using System.Net;
using PacketDotNet;
using TraceReplay.Capture.Decode;
using TraceReplay.Tests.Support;
using LinkType = TraceReplay.Capture.LinkType;

namespace TraceReplay.Tests.Capture;

/// <summary>Decoder cases the corpus does not pin down, on frames PacketDotNet encodes.</summary>
public sealed class DecoderTests
{
    [Fact]
    public void Every_cut_of_a_tcp_frame_keeps_what_is_present_and_says_truncated()
    {
        byte[] frame = Frames.TcpV4("192.0.2.1", 40000, "198.51.100.7", 443, payload: 32);
        for (int cut = 1; cut < frame.Length; cut++)
        {
            PacketDecoder.Decode(frame.AsSpan(0, cut), LinkType.Ethernet, frame.Length, out var d);
            Assert.True(d.IsTruncated, $"cut {cut}");
            Assert.False(d.IsMalformed, $"cut {cut}: a snap-length cut is not malformation ({d.Issue})");
            // Layers appear exactly when their header fits: Ethernet 14, IPv4 +20, TCP +20.
            Assert.Equal(cut >= 14, (d.Layers & Layers.Link) != 0);
            Assert.Equal(cut >= 34, d.HasIp);
            Assert.Equal(cut >= 54, d.HasTransport);
            if (cut >= 38)
                Assert.Equal((40000, 443), (d.SrcPort, d.DstPort));
            if (cut >= 34)
                Assert.Equal(frame.Length - 14, d.IpTotalLength);
        }
    }

    [Fact]
    public void A_whole_frame_shorter_than_its_ip_length_is_malformed()
    {
        byte[] frame = Frames.TcpV4("192.0.2.1", 40000, "198.51.100.7", 443, payload: 32);
        PacketDecoder.Decode(frame.AsSpan(0, frame.Length - 10), LinkType.Ethernet, frame.Length - 10, out var d);
        Assert.True(d.IsMalformed);
        Assert.Equal(DecodeIssue.Ipv4TotalLength, d.Issue);
        Assert.True(d.HasIp);
    }

    [Fact]
    public void Ethernet_padding_after_the_datagram_is_not_payload()
    {
        byte[] frame = Frames.TcpV4("192.0.2.1", 40000, "198.51.100.7", 443); // 54 bytes, padded on the wire to 60
        byte[] padded = [.. frame, 0, 0, 0, 0, 0, 0];
        PacketDecoder.Decode(padded, LinkType.Ethernet, padded.Length, out var d);
        Assert.False(d.IsMalformed);
        Assert.Equal(40, d.IpTotalLength);
        Assert.Equal(0, d.PayloadLength);
    }

    [Fact]
    public void Qinq_tags_are_both_read()
    {
        byte[] frame = Frames.Tagged(Frames.UdpV4("10.1.1.1", 5353, "10.1.1.2", 53), outerVid: 100, innerVid: 20);
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        Assert.Equal(2, d.VlanCount);
        Assert.Equal(EtherTypes.QinQ, d.OuterVlanTpid);
        Assert.Equal(100, d.OuterVlanId);
        Assert.Equal(20, d.InnerVlanId);
        Assert.Equal(EtherTypes.Ipv4, d.EtherType);
        Assert.Equal((5353, 53), (d.SrcPort, d.DstPort));
    }

    [Fact]
    public void Icmp_port_unreachable_carries_the_quoted_udp_tuple()
    {
        // The error a host sends for the UDP datagram 10.0.0.1:5000 -> 10.0.0.2:53 (RFC 792: IP header + 8 bytes).
        byte[] offending = Frames.UdpV4("10.0.0.1", 5000, "10.0.0.2", 53)[14..];
        var icmp = new IcmpV4Packet(new PacketDotNet.Utils.ByteArraySegment(new byte[8 + 28]))
        {
            TypeCode = IcmpV4TypeCode.UnreachablePort,
        };
        offending.AsSpan(0, 28).CopyTo(icmp.Bytes.AsSpan(8));
        var ip = new IPv4Packet(IPAddress.Parse("10.0.0.2"), IPAddress.Parse("10.0.0.1")) { PayloadPacket = icmp, TimeToLive = 64 };
        ip.UpdateCalculatedValues();
        byte[] frame = new EthernetPacket(Frames.MacB, Frames.MacA, EthernetType.IPv4) { PayloadPacket = ip }.Bytes;

        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        Assert.True((d.Flags & PacketFlags.IcmpError) != 0);
        Assert.Equal((3, 3), (d.IcmpType, d.IcmpCode));
        Assert.True((d.Layers & Layers.InnerTransport) != 0);
        Assert.Equal(L4Protocol.Udp, d.InnerProtocol);
        Assert.Equal("10.0.0.1", d.InnerSrc.ToString());
        Assert.Equal("10.0.0.2", d.InnerDst.ToString());
        Assert.Equal((5000, 53), (d.InnerSrcPort, d.InnerDstPort));
    }

    [Fact]
    public void Ipv6_extension_chain_is_walked_to_the_upper_protocol()
    {
        // The libpcap filter test vector: hop-by-hop, routing, fragment, destination options, then the upper header.
        string path = Corpus.Pcap("libpcap/tests/filter/ipv6_ext_headers.pcap");
        using var reader = TraceReplay.Capture.Readers.CaptureFile.Open(path);
        Assert.True(reader.MoveNext());
        PacketDecoder.Decode(reader.Data, reader.Current.LinkType, reader.Current.WireLength, out var d);
        Assert.Equal(Ipv6ExtHeaders.HopByHop | Ipv6ExtHeaders.Routing | Ipv6ExtHeaders.Fragment | Ipv6ExtHeaders.DestinationOptions,
            d.ExtHeaders & ~Ipv6ExtHeaders.Other);
        // tcpdump -v names the upper protocol of this vector; its header follows all four extension headers.
        var tcpdump = Tcpdump.Run("-nn", "-v", "-r", path);
        string line = string.Join(' ', tcpdump.Lines);
        Assert.Contains(L4Protocol.Name(d.Protocol).ToUpperInvariant(), line.ToUpperInvariant(), StringComparison.Ordinal);
        Assert.True(d.IpHeaderLength > 40);
    }

    [Fact]
    public void Ipv6_tcp_without_extensions()
    {
        byte[] frame = Frames.TcpV6("2001:db8::1", 1234, "2001:db8::2", 80);
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        Assert.Equal(6, d.IpVersion);
        Assert.Equal(40, d.IpHeaderLength);
        Assert.Equal(L4Protocol.Tcp, d.Protocol);
        Assert.Equal((1234, 80), (d.SrcPort, d.DstPort));
        Assert.Equal(TcpFlags.Syn, d.TcpFlags);
        Assert.Equal(63, d.Ttl);
    }

    [Fact]
    public void Non_first_ipv4_fragment_has_no_transport_header()
    {
        byte[] frame = Frames.UdpV4("10.0.0.1", 1000, "10.0.0.2", 2000, payload: 64);
        frame[14 + 6] = 0x00;
        frame[14 + 7] = 0x03; // offset 3 * 8 = 24 bytes, MF clear: the last fragment
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        Assert.True((d.Flags & PacketFlags.Fragment) != 0);
        Assert.Equal(24, d.FragmentOffset);
        Assert.False(d.HasTransport);
        Assert.Equal(0, d.SrcPort);
    }

    [Fact]
    public void Raw_and_null_link_types_find_the_ip_header()
    {
        byte[] ip = Frames.UdpV4("10.0.0.1", 1000, "10.0.0.2", 2000)[14..];
        PacketDecoder.Decode(ip, LinkType.Raw, ip.Length, out var raw);
        Assert.Equal((1000, 2000), (raw.SrcPort, raw.DstPort));

        byte[] nullLe = [2, 0, 0, 0, .. ip]; // AF_INET in the capturing host's (little-endian) order
        PacketDecoder.Decode(nullLe, LinkType.Null, nullLe.Length, out var n);
        Assert.Equal((1000, 2000), (n.SrcPort, n.DstPort));

        byte[] loop = [0, 0, 0, 2, .. ip]; // DLT_LOOP: network order
        PacketDecoder.Decode(loop, LinkType.Loop, loop.Length, out var l);
        Assert.Equal((1000, 2000), (l.SrcPort, l.DstPort));
    }

    [Fact]
    public void Decoding_allocates_nothing()
    {
        byte[] frame = Frames.TcpV4("192.0.2.1", 40000, "198.51.100.7", 443, payload: 100);
        // A decoder that allocates per packet allocates 50,000 times in every round (Allocations.Quietest says why a round, not one run).
        long sum = 0;
        int rounds = 0;
        Assert.Equal(0, Allocations.Quietest(() =>
        {
            rounds++;
            sum += SumOfSourcePorts(frame, 50_000);
        }));
        Assert.Equal(40000L * 50_000 * rounds, sum);
    }

    private static long SumOfSourcePorts(byte[] frame, int times)
    {
        long sum = 0;
        for (int i = 0; i < times; i++)
        {
            PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
            sum += d.SrcPort;
        }
        return sum;
    }
}
