using System.Net;
using PacketDotNet;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Readers;
using TraceReplay.Tests.Support;
using LinkType = TraceReplay.Capture.LinkType;

namespace TraceReplay.Tests.Capture;

/// <summary>
/// Every packet of the shared corpus decoded twice, by our decoder and by PacketDotNet (an independent
/// parser), and every field both produce compared. PacketDotNet has no NFLOG decoder, so for NFLOG
/// frames it parses the IP datagram at our offset: the fields are still compared independently.
/// </summary>
public sealed class PacketDotNetCrossCheckTests
{
    [Theory]
    [MemberData(nameof(Corpus.CaptureFiles), MemberType = typeof(Corpus))]
    public void Decoded_fields_agree_with_PacketDotNet(string relative)
    {
        string path = Corpus.Pcap(relative);
        using var reader = CaptureFile.Open(path);
        int compared = 0;
        while (reader.MoveNext())
        {
            byte[] frame = reader.Data.ToArray();
            PacketDecoder.Decode(frame, reader.Current.LinkType, reader.Current.WireLength, out var d);
            string where = $"{relative} record {reader.Current.RecordNumber}";
            Packet? theirs = Parse(frame, reader.Current.LinkType, d);
            if (theirs is null)
                continue;
            Compare(where, d, theirs);
            compared++;
        }
        Assert.True(compared > 0, $"{relative}: PacketDotNet parsed no packet to compare");
    }

    private static Packet? Parse(byte[] frame, LinkType linkType, in DecodedPacket d)
    {
        if (linkType == LinkType.Nflog)
        {
            if (!d.HasIp)
                return null;
            var ip = frame.AsSpan(d.L3Offset).ToArray();
            return d.IsIpv4 ? new IPv4Packet(new PacketDotNet.Utils.ByteArraySegment(ip)) : new IPv6Packet(new PacketDotNet.Utils.ByteArraySegment(ip));
        }
        return Packet.ParsePacket((LinkLayers)(ushort)linkType, frame);
    }

    private static void Compare(string where, in DecodedPacket d, Packet theirs)
    {
        if (theirs.Extract<EthernetPacket>() is { } eth)
        {
            Assert.True(Mac(eth.SourceHardwareAddress) == d.SrcMac.Value, where + ": source MAC");
            Assert.True(Mac(eth.DestinationHardwareAddress) == d.DstMac.Value, where + ": destination MAC");
        }
        if (theirs.Extract<LinuxSll2Packet>() is { } sll2)
        {
            Assert.True(sll2.InterfaceIndex == d.LinkIfIndex, where + ": SLL2 ifindex");
            Assert.True((byte)sll2.Type == d.LinkPacketType, where + ": SLL2 packet type");
        }
        else if (theirs.Extract<LinuxSllPacket>() is { } sll)
        {
            Assert.True((byte)sll.Type == d.LinkPacketType, where + ": SLL packet type");
        }
        if (theirs.Extract<Ieee8021QPacket>() is { } vlan)
            Assert.True(vlan.VlanIdentifier == d.OuterVlanId, where + $": VLAN id {vlan.VlanIdentifier} vs {d.OuterVlanId}");
        if (theirs.Extract<ArpPacket>() is { } arp && (d.Layers & Layers.Arp) != 0 && arp.SenderProtocolAddress is not null)
        {
            Assert.True((ushort)arp.Operation == d.ArpOperation, where + ": ARP operation");
            Assert.Equal(arp.SenderProtocolAddress, d.ArpSenderIp.ToIPAddress());
            Assert.Equal(arp.TargetProtocolAddress, d.ArpTargetIp.ToIPAddress());
        }
        var ip = theirs.Extract<IPPacket>();
        if (ip is null)
        {
            Assert.False(d.HasIp && d.IpHeaderLength > 0 && !d.IsMalformed && !d.IsTruncated && d.LinkType != LinkType.Nflog,
                where + ": we decoded IP where PacketDotNet found none");
            return;
        }
        if (!d.HasIp)
            return; // PacketDotNet builds IP packets from too-short buffers; we do not claim them
        Assert.True((int)ip.Version == d.IpVersion, where + ": IP version");
        Assert.Equal(ip.SourceAddress, d.Src.ToIPAddress());
        Assert.Equal(ip.DestinationAddress, d.Dst.ToIPAddress());
        Assert.True(ip.TimeToLive == d.Ttl, where + ": TTL / hop limit");
        if (ip is IPv4Packet v4)
        {
            Assert.True(v4.TotalLength == d.IpTotalLength, where + ": IPv4 total length");
            Assert.True(v4.Id == d.IpId, where + ": IPv4 id");
            Assert.True(v4.FragmentOffset * 8 == d.FragmentOffset, where + ": fragment offset");
            Assert.True(v4.HeaderLength * 4 == d.IpHeaderLength, where + ": IPv4 header length");
            Assert.True(v4.TypeOfService == d.Tos, where + ": TOS");
            Assert.True((byte)v4.Protocol == d.Protocol, where + ": protocol");
        }
        else if (ip is IPv6Packet v6)
        {
            Assert.True(v6.PayloadLength + 40 == d.IpTotalLength, where + ": IPv6 payload length");
            Assert.True(v6.FlowLabel == d.FlowLabel, where + ": flow label");
            Assert.True(v6.TrafficClass == d.Tos, where + ": traffic class");
        }
        if (!d.HasTransport || d.FragmentOffset != 0)
            return;
        switch (ip.PayloadPacket)
        {
            case TcpPacket tcp when d.Protocol == L4Protocol.Tcp:
                Assert.True(tcp.SourcePort == d.SrcPort && tcp.DestinationPort == d.DstPort, where + ": TCP ports");
                Assert.True(tcp.SequenceNumber == d.TcpSeq && tcp.AcknowledgmentNumber == d.TcpAck, where + ": TCP seq/ack");
                Assert.True(tcp.Flags == (ushort)d.TcpFlags, where + $": TCP flags {tcp.Flags:x} vs {(ushort)d.TcpFlags:x}");
                Assert.True(tcp.WindowSize == d.TcpWindow, where + ": TCP window");
                Assert.True(tcp.DataOffset * 4 == d.TcpHeaderLength, where + ": TCP data offset");
                break;
            case UdpPacket udp when d.Protocol == L4Protocol.Udp:
                Assert.True(udp.SourcePort == d.SrcPort && udp.DestinationPort == d.DstPort, where + ": UDP ports");
                break;
            case IcmpV4Packet icmp when d.Protocol == L4Protocol.Icmp:
                Assert.True((ushort)icmp.TypeCode == ((d.IcmpType << 8) | d.IcmpCode), where + ": ICMP type/code");
                if (d.IcmpType is 0 or 8)
                    Assert.True(icmp.Id == d.IcmpId && icmp.Sequence == d.IcmpSeq, where + ": ICMP id/seq");
                break;
            case IcmpV6Packet icmp6 when d.Protocol == L4Protocol.Icmpv6:
                Assert.True((byte)icmp6.Type == d.IcmpType && icmp6.Code == d.IcmpCode, where + ": ICMPv6 type/code");
                break;
        }
    }

    private static ulong Mac(System.Net.NetworkInformation.PhysicalAddress a)
    {
        ulong v = 0;
        foreach (byte b in a.GetAddressBytes())
            v = (v << 8) | b;
        return v;
    }
}
