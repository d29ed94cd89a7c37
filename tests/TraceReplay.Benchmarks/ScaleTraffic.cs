using System.Buffers.Binary;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Writers;

namespace TraceReplay.Benchmarks;

/// <summary>
/// The capture of issue 9's memory target: N TCP connections through the docker-host topology
/// (<see cref="DockerHostTraffic"/>'s addresses) all open at once for the whole capture. Every
/// connection opens (SYN, SYN/ACK, ACK), then data packets go round-robin over all of them, each
/// direction in turn, and, when the record budget allows, every connection closes at the end (FIN,
/// FIN/ACK, ACK). Even connections are container egress (MASQUERADEd on eth0), odd ones inbound to
/// the published port 8080 (DNATed to 172.17.0.2:80), so every connection holds a NAT binding. As
/// with `tcpdump -i any` each packet is sighted three times (veth1, docker0, eth0). Headers only: the
/// snap length cuts the payload, the wire length keeps it. Real packets are 10 µs apart, so a
/// connection's packets come N × 10 µs apart (10 s at a million): far below established TCP's 5-day
/// timeout, and the handshake's three packets are 10 µs apart. Nothing is kept per connection: each
/// packet's addresses and sequence numbers are computed from the connection's number and round, so
/// the generator's memory does not grow with N.
/// </summary>
internal sealed class ScaleTraffic
{
    public const int SnapLength = 96;
    private const ulong Docker0Mac = 0x0242_AC11_0001UL, Eth0Mac = 0x8E0F_D112_8808UL;
    private const ulong GatewayMac = 0x9291_55FB_2C3DUL, ContainerMac = 0xC689_2AC4_BE27UL;
    private const uint Eth0Ip = 0xC633_6401u;      // 198.51.100.1
    private const uint ContainerIp = 0xAC11_0002u; // 172.17.0.2
    private const byte PacketHost = 0, PacketOutgoing = 4;
    private const int Sll2Length = 20, TcpHeader = 32, SynHeader = 40, ClientBytes = 100, ServerBytes = 200;
    private const long GapNs = 10_000;

    private readonly byte[] _frame = new byte[Sll2Length + 64];
    private readonly int _connections;
    private long _realPacket;

    public long Sightings { get; private set; }

    public long DataPackets { get; }

    public bool Closes { get; }

    public long LastNs => DockerHostTraffic.StartNs + (_realPacket * GapNs);

    private ScaleTraffic(int connections, long records)
    {
        _connections = connections;
        long open = 9L * connections, close = 9L * connections;
        Closes = records >= open + close;
        DataPackets = (records - open - (Closes ? close : 0)) / 3;
    }

    /// <summary>The smallest capture: every connection opened.</summary>
    public static long MinimumRecords(int connections) => 9L * connections;

    public static ScaleTraffic Write(Stream output, int connections, long records)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(records, MinimumRecords(connections));
        var t = new ScaleTraffic(connections, records);
        using var w = new PcapWriter(output, LinkType.LinuxSll2, SnapLength);
        for (int i = 0; i < connections; i++)
        {
            t.Packet(w, i, client: true, TcpFlags.Syn, Isn(i, true), 0, 0);
            t.Packet(w, i, client: false, TcpFlags.Syn | TcpFlags.Ack, Isn(i, false), Isn(i, true) + 1, 0);
            t.Packet(w, i, client: true, TcpFlags.Ack, Isn(i, true) + 1, Isn(i, false) + 1, 0);
        }
        for (long d = 0; d < t.DataPackets; d++)
        {
            int i = (int)(d % connections);
            long r = d / connections;
            // Bytes each side sent in the rounds before r: the client in the even ones, the server in the odd ones.
            uint c = Isn(i, true) + 1 + (uint)(ClientBytes * ((r + 1) / 2)), s = Isn(i, false) + 1 + (uint)(ServerBytes * (r / 2));
            if ((r & 1) == 0)
                t.Packet(w, i, client: true, TcpFlags.Psh | TcpFlags.Ack, c, s, ClientBytes);
            else
                t.Packet(w, i, client: false, TcpFlags.Psh | TcpFlags.Ack, s, c, ServerBytes);
        }
        if (t.Closes)
        {
            for (int i = 0; i < connections; i++)
            {
                // Rounds this connection had: client data in the even ones, server data in the odd ones.
                long rounds = (t.DataPackets / connections) + (i < t.DataPackets % connections ? 1 : 0);
                uint c = Isn(i, true) + 1 + (uint)(ClientBytes * ((rounds + 1) / 2)), s = Isn(i, false) + 1 + (uint)(ServerBytes * (rounds / 2));
                t.Packet(w, i, client: true, TcpFlags.Fin | TcpFlags.Ack, c, s, 0);
                t.Packet(w, i, client: false, TcpFlags.Fin | TcpFlags.Ack, s, c + 1, 0);
                t.Packet(w, i, client: true, TcpFlags.Ack, c + 1, s + 1, 0);
            }
        }
        return t;
    }

    /// <summary>A fixed pseudo-random initial sequence number per connection and side (a 32-bit mix, as secure_tcp_seq's hash spreads them).</summary>
    private static uint Isn(int i, bool client)
    {
        uint x = (uint)i * 2654435761u ^ (client ? 0x9E3779B9u : 0x85EBCA6Bu);
        x ^= x >> 15;
        x *= 0x2C1B3C6Du;
        x ^= x >> 12;
        return x;
    }

    /// <summary>Remote hosts in 203.0.113.0/24 then 192.0.2.0/24 (documentation ranges beyond the gateway), 28,232 ephemeral ports each.</summary>
    private static (uint Remote, ushort Port) Peer(int i)
    {
        int k = i >> 1;
        int j = k / 28232;
        uint host = 1 + (uint)(j % 254);
        uint net = (j / 254 % 2 == 0) ? 0xCB00_7100u : 0xC000_0200u;
        return (net | host, (ushort)(32768 + (k % 28232)));
    }

    private void Packet(PcapWriter w, int i, bool client, TcpFlags flags, uint seq, uint ack, int payload)
    {
        bool egress = (i & 1) == 0;
        var (remote, port) = Peer(i);
        // Egress: the container's port is the ephemeral one, the remote's 443; MASQUERADE keeps it
        // (no clash). Published: the remote's ephemeral port to eth0:8080, DNATed to 172.17.0.2:80.
        ushort insidePort = egress ? port : (ushort)80, outsidePort = egress ? port : (ushort)8080;
        ushort remotePort = egress ? (ushort)443 : port;
        bool fromContainer = egress == client;
        bool syn = (flags & TcpFlags.Syn) != 0;
        int header = syn ? SynHeader : TcpHeader;
        var t = _frame.AsSpan(Sll2Length + 20);
        t[..header].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(t[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(t[8..], ack);
        t[12] = (byte)((header / 4) << 4);
        t[13] = (byte)flags;
        // Window 502 << 7 = 64,256 bytes (Linux's default with window scale 7); the SYN's is unscaled.
        BinaryPrimitives.WriteUInt16BigEndian(t[14..], syn ? (ushort)64240 : (ushort)502);
        long ns = LastNs;
        if (syn)
        {
            ReadOnlySpan<byte> options = [2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7];
            options.CopyTo(t[20..]);
            BinaryPrimitives.WriteUInt32BigEndian(t[28..], (uint)(ns / 1_000_000));
        }
        else
        {
            ReadOnlySpan<byte> timestamps = [1, 1, 8, 10];
            timestamps.CopyTo(t[20..]);
            BinaryPrimitives.WriteUInt32BigEndian(t[24..], (uint)(ns / 1_000_000));
        }
        int ipLength = 20 + header + payload;
        ushort id = (ushort)_realPacket;
        if (fromContainer)
        {
            Sighting(w, ns, DockerHostTraffic.VethIfIndex, PacketHost, ContainerMac, ipLength, header, id, 64, ContainerIp, insidePort, remote, remotePort);
            Sighting(w, ns + 1000, DockerHostTraffic.Docker0IfIndex, PacketHost, ContainerMac, ipLength, header, id, 64, ContainerIp, insidePort, remote, remotePort);
            Sighting(w, ns + 2000, DockerHostTraffic.Eth0IfIndex, PacketOutgoing, Eth0Mac, ipLength, header, id, 63, Eth0Ip, outsidePort, remote, remotePort);
        }
        else
        {
            Sighting(w, ns, DockerHostTraffic.Eth0IfIndex, PacketHost, GatewayMac, ipLength, header, id, 57, remote, remotePort, Eth0Ip, outsidePort);
            Sighting(w, ns + 1000, DockerHostTraffic.Docker0IfIndex, PacketOutgoing, Docker0Mac, ipLength, header, id, 56, remote, remotePort, ContainerIp, insidePort);
            Sighting(w, ns + 2000, DockerHostTraffic.VethIfIndex, PacketOutgoing, Docker0Mac, ipLength, header, id, 56, remote, remotePort, ContainerIp, insidePort);
        }
        _realPacket++;
    }

    private void Sighting(PcapWriter w, long ns, int ifIndex, byte packetType, ulong mac, int ipLength, int tcpHeader, ushort ipId, byte ttl, uint src, ushort srcPort, uint dst, ushort dstPort)
    {
        var f = _frame.AsSpan();
        var h = DockerHostTraffic.WriteSll2Ipv4(f, ifIndex, packetType, mac, L4Protocol.Tcp, ipLength, ipId, ttl, src, dst);
        BinaryPrimitives.WriteUInt16BigEndian(h[20..], srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(h[22..], dstPort);
        w.Write(ns, f[..(Sll2Length + 20 + tcpHeader)], Sll2Length + ipLength);
        Sightings++;
    }
}
