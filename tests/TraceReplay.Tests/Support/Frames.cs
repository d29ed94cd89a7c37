using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;
using PacketDotNet.Utils;

namespace TraceReplay.Tests.Support;

/// <summary>Frames built with PacketDotNet (an independent encoder), so decoder tests do not check our bytes against our own reading of them.</summary>
public static class Frames
{
    public static readonly PhysicalAddress MacA = PhysicalAddress.Parse("02-00-00-00-00-0A");
    public static readonly PhysicalAddress MacB = PhysicalAddress.Parse("02-00-00-00-00-0B");

    public static byte[] TcpV4(string src, ushort sport, string dst, ushort dport, bool syn = true, bool ack = false, int payload = 0, ushort ipId = 0x1234,
        uint seq = 1000, uint ackNumber = 2000)
    {
        var tcp = new TcpPacket(sport, dport)
        {
            Synchronize = syn,
            Acknowledgment = ack,
            SequenceNumber = seq,
            AcknowledgmentNumber = ack ? ackNumber : 0,
            WindowSize = 64240,
            PayloadData = new byte[payload],
        };
        var ip = new IPv4Packet(IPAddress.Parse(src), IPAddress.Parse(dst)) { TimeToLive = 64, Id = ipId, PayloadPacket = tcp };
        ip.UpdateCalculatedValues();
        tcp.UpdateTcpChecksum();
        ip.UpdateIPChecksum();
        return new EthernetPacket(MacA, MacB, EthernetType.IPv4) { PayloadPacket = ip }.Bytes;
    }

    public static byte[] UdpV4(string src, ushort sport, string dst, ushort dport, int payload = 8)
    {
        var udp = new UdpPacket(sport, dport) { PayloadData = new byte[payload] };
        var ip = new IPv4Packet(IPAddress.Parse(src), IPAddress.Parse(dst)) { TimeToLive = 64, PayloadPacket = udp };
        ip.UpdateCalculatedValues();
        udp.UpdateCalculatedValues();
        ip.UpdateIPChecksum(); // a real sender's header checksum is always right (ip_send_check); ip_rcv_core drops a wrong one
        return new EthernetPacket(MacA, MacB, EthernetType.IPv4) { PayloadPacket = ip }.Bytes;
    }

    public static byte[] TcpV6(string src, ushort sport, string dst, ushort dport)
    {
        var tcp = new TcpPacket(sport, dport) { Synchronize = true, SequenceNumber = 7, WindowSize = 1000 };
        var ip = new IPv6Packet(IPAddress.Parse(src), IPAddress.Parse(dst)) { HopLimit = 63, PayloadPacket = tcp };
        ip.UpdateCalculatedValues();
        return new EthernetPacket(MacA, MacB, EthernetType.IPv6) { PayloadPacket = ip }.Bytes;
    }

    /// <summary>Wraps an Ethernet frame's payload in one or two VLAN tags (TPID 0x8100, or 0x88a8 outside 0x8100 for QinQ).</summary>
    public static byte[] Tagged(byte[] ethernet, ushort outerVid, ushort? innerVid = null)
    {
        var tags = new List<byte>();
        if (innerVid is { } inner)
        {
            tags.AddRange([0x88, 0xA8, (byte)(outerVid >> 8), (byte)outerVid, 0x81, 0x00, (byte)(inner >> 8), (byte)inner]);
        }
        else
        {
            tags.AddRange([0x81, 0x00, (byte)(outerVid >> 8), (byte)outerVid]);
        }
        return [.. ethernet.AsSpan(0, 12), .. tags, .. ethernet.AsSpan(12)];
    }

    public static byte[] Bytes(Packet p) => p.Bytes;

    public static ByteArraySegment Segment(byte[] b) => new(b);
}
