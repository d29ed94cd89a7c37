using System.Buffers.Binary;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Writers;

namespace TraceReplay.Benchmarks;

/// <summary>
/// A `tcpdump -i any` capture (LINUX_SLL2) of busy traffic through the docker-host topology of
/// datasets/docker-host: eth0 198.51.100.1 towards the gateway 198.51.100.2, the docker0 bridge
/// 172.17.0.1/16 with the container 172.17.0.2 behind the port veth1. Many flows are open at once and
/// take turns, each one a real conversation the kernel's conntrack accepts (handshake, in-window
/// sequence numbers with window scaling, data both ways, FIN close), so the replay does what it does on
/// a real host and not the INVALID short cut. As on a real host each forwarded packet is sighted three
/// times (bridge port, bridge device, uplink, after NAT on the far side): the mix is
/// <list type="bullet">
/// <item>container egress over TCP, MASQUERADEd on eth0 (HTTPS-like: requests, responses of 1 to 40 full segments);</item>
/// <item>inbound TCP to the published port 8080, DNATed to 172.17.0.2:80;</item>
/// <item>container DNS over UDP to the gateway, MASQUERADEd;</item>
/// <item>pings from the container out, and from outside to the host (the host's replies enter at OUTPUT);</item>
/// <item>drops: SYNs from outside to the closed port 22 (INPUT policy DROP, with retransmissions), and
/// container SMTP rejected by DOCKER-USER with a TCP reset the host sends back.</item>
/// </list>
/// Interface indexes and MACs are docker-host's link.json (checked by the caller against the snapshot).
/// </summary>
internal sealed class DockerHostTraffic
{
    public const int VethIfIndex = 3, Docker0IfIndex = 2, Eth0IfIndex = 5;
    private const ulong Docker0Mac = 0x0242_AC11_0001UL, Eth0Mac = 0x8E0F_D112_8808UL;
    private const ulong GatewayMac = 0x9291_55FB_2C3DUL, ContainerMac = 0xC689_2AC4_BE27UL;
    private const uint Eth0Ip = 0xC633_6401u;      // 198.51.100.1
    private const uint GatewayIp = 0xC633_6402u;   // 198.51.100.2
    private const uint ContainerIp = 0xAC11_0002u; // 172.17.0.2
    private const byte PacketHost = 0, PacketOutgoing = 4;
    private const int Sll2Length = 20, Mss = 1448, TcpHeader = 32, SynHeader = 40;

    /// <summary>2026-11-25T18:00:00Z, near the dataset's own recording.</summary>
    public const long StartNs = 1_795_456_800_000_000_000L;

    private enum Kind : byte { Egress, Published, Dns, PingOut, PingIn, ClosedPort, Smtp }

    /// <summary>Who sends a real packet and so which capture points see it, in order.</summary>
    private enum Way : byte
    {
        /// <summary>Container → outside: veth1 in, docker0 in, eth0 out (source translated).</summary>
        ContainerOut,

        /// <summary>Outside → container: eth0 in, docker0 out, veth1 out (destination translated).</summary>
        ToContainer,

        /// <summary>Outside → the host itself: eth0 in only.</summary>
        ToHost,

        /// <summary>The host → outside (its own replies): eth0 out only.</summary>
        HostOut,

        /// <summary>Container → dropped in FORWARD: veth1 in, docker0 in.</summary>
        ContainerDropped,

        /// <summary>The host's reset to the container: veth1 out only, as in the dataset (br_netfilter's REJECT sends it straight out of the port).</summary>
        HostToContainer,
    }

    private struct Flow
    {
        public Kind Kind;
        public uint Remote;          // the outside end
        public ushort RemotePort;
        public ushort LocalPort;     // the container's port (egress) or the client's port (published)
        public uint ClientSeq, ServerSeq;
        public ushort ClientId, ServerId;
        public int Step;             // position in the script of its kind
        public int Rounds;           // request/response rounds left (TCP), queries or pings left
        public int Segments;         // segments of the current response left to send
        public int Unacked;          // response segments since the client's last ACK
        public int ResponseBytes;    // bytes of the current response left
    }

    private readonly Random _rng;
    private readonly int _snapLength;
    private readonly Flow[] _flows;
    private readonly byte[] _frame = new byte[Sll2Length + 1600];
    private uint _nextRemote;
    private int _nextPort;
    private ushort _nextIcmpId;

    /// <summary>Sightings written (records in the file) and real packets they show.</summary>
    public long Sightings { get; private set; }

    public long RealPackets { get; private set; }

    public long Flows { get; private set; }

    private DockerHostTraffic(int seed, int concurrentFlows, int snapLength)
    {
        _rng = new Random(seed);
        _snapLength = snapLength;
        _flows = new Flow[concurrentFlows];
        for (int i = 0; i < _flows.Length; i++)
            _flows[i] = NewFlow();
    }

    /// <summary>Writes <paramref name="sightings"/> records (the last real packet may be cut short of its later sightings) to <paramref name="path"/>.</summary>
    /// <param name="rate">Real packets per second of capture time; at the default 50,000 a 10 M-sighting capture spans ~70 s, less than TIME_WAIT's 120 s, so the conntrack table grows all along.</param>
    public static DockerHostTraffic Write(string path, long sightings, int concurrentFlows, int snapLength, int seed, int rate = 50_000)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rate, 250_000); // a packet's sightings are 1 µs apart: keep packets ≥ 4 µs apart
        var t = new DockerHostTraffic(seed, concurrentFlows, snapLength);
        using var w = PcapWriter.Create(path, LinkType.LinuxSll2, snapLength);
        long ns = StartNs;
        int mean = 1_000_000_000 / rate;
        while (t.Sightings < sightings)
        {
            // Packets 0.2 to 1.8 times the mean apart, a packet's sightings 1 µs apart.
            ns += t._rng.Next(mean / 5, (mean * 9) / 5);
            ref var f = ref t._flows[t._rng.Next(t._flows.Length)];
            t.Next(ref f, w, ns, sightings);
            t.RealPackets++;
        }
        return t;
    }

    private Flow NewFlow()
    {
        Flows++;
        int roll = _rng.Next(100);
        var f = new Flow
        {
            Kind = roll switch
            {
                < 35 => Kind.Egress,
                < 60 => Kind.Published,
                < 80 => Kind.Dns,
                < 85 => Kind.PingOut,
                < 90 => Kind.PingIn,
                < 97 => Kind.ClosedPort,
                _ => Kind.Smtp,
            },
            ClientSeq = (uint)_rng.NextInt64(0, 1L << 32),
            ServerSeq = (uint)_rng.NextInt64(0, 1L << 32),
            ClientId = (ushort)_rng.Next(65536),
            ServerId = (ushort)_rng.Next(65536),
        };
        // Ports and remote addresses taken in turn, as connect() spreads ephemeral ports: no two flows
        // share a tuple (28,232 ports × 254 addresses before one repeats), so each is its own connection.
        f.LocalPort = (ushort)(32768 + (_nextPort++ % 28232));
        if (_nextPort % 28232 == 0)
            _nextRemote++;
        // 203.0.113.0/24 and 192.0.2.0/24 (documentation ranges) beyond the gateway.
        uint host = 1 + (_nextRemote % 254);
        f.Remote = (_nextRemote / 254 % 2 == 0 ? 0xCB00_7100u : 0xC000_0200u) | host;
        switch (f.Kind)
        {
            case Kind.Egress:
                f.RemotePort = 443;
                f.Rounds = 1 + Geometric(0.4);
                break;
            case Kind.Published:
                f.RemotePort = 8080;
                f.Rounds = 1 + Geometric(0.5);
                break;
            case Kind.Dns:
                f.Remote = GatewayIp;
                f.RemotePort = 53;
                f.Rounds = 2; // A and AAAA on one socket
                break;
            case Kind.PingOut:
            case Kind.PingIn:
                f.LocalPort = _nextIcmpId++;
                f.Rounds = 4;
                break;
            case Kind.ClosedPort:
                f.RemotePort = 22;
                f.Rounds = 3; // the SYN and two retransmissions
                break;
            case Kind.Smtp:
                f.RemotePort = 25;
                break;
        }
        return f;
    }

    private int Geometric(double p)
    {
        int n = 0;
        while (n < 20 && _rng.NextDouble() > p)
            n++;
        return n;
    }

    /// <summary>The flow's next real packet, with all its sightings; a finished flow is replaced by a new one.</summary>
    private void Next(ref Flow f, PcapWriter w, long ns, long limit)
    {
        bool done = f.Kind switch
        {
            Kind.Egress or Kind.Published => Tcp(ref f, w, ns, limit),
            Kind.Dns => Dns(ref f, w, ns, limit),
            Kind.PingOut or Kind.PingIn => Ping(ref f, w, ns, limit),
            Kind.ClosedPort => ClosedPort(ref f, w, ns, limit),
            _ => Smtp(ref f, w, ns, limit),
        };
        if (done)
            f = NewFlow();
    }

    /// <summary>One TCP conversation step; the client is the container (egress) or the remote (published).</summary>
    private bool Tcp(ref Flow f, PcapWriter w, long ns, long limit)
    {
        bool egress = f.Kind == Kind.Egress;
        Way fromClient = egress ? Way.ContainerOut : Way.ToContainer, fromServer = egress ? Way.ToContainer : Way.ContainerOut;
        switch (f.Step)
        {
            case 0:
                TcpPacket(ref f, w, ns, limit, fromClient, client: true, TcpFlags.Syn, 0);
                f.ClientSeq++;
                f.Step = 1;
                return false;
            case 1:
                TcpPacket(ref f, w, ns, limit, fromServer, client: false, TcpFlags.Syn | TcpFlags.Ack, 0);
                f.ServerSeq++;
                f.Step = 2;
                return false;
            case 2:
                TcpPacket(ref f, w, ns, limit, fromClient, client: true, TcpFlags.Ack, 0);
                f.Step = 3;
                return false;
            case 3:
                if (f.Rounds == 0)
                {
                    TcpPacket(ref f, w, ns, limit, fromClient, client: true, TcpFlags.Fin | TcpFlags.Ack, 0);
                    f.ClientSeq++;
                    f.Step = 5;
                    return false;
                }
                // A request, then a response of mostly one or two segments, sometimes a bulk transfer.
                int request = _rng.Next(80, 700);
                TcpPacket(ref f, w, ns, limit, fromClient, client: true, TcpFlags.Psh | TcpFlags.Ack, request);
                f.ClientSeq += (uint)request;
                f.ResponseBytes = _rng.Next(10) < 8 ? _rng.Next(200, 3 * Mss) : _rng.Next(10 * Mss, 40 * Mss);
                f.Rounds--;
                f.Unacked = 0;
                f.Step = 4;
                return false;
            case 4:
                if (f.Unacked == 2 || (f.ResponseBytes == 0 && f.Unacked > 0))
                {
                    // Delayed ACK: every second full segment, and at the end of the response.
                    TcpPacket(ref f, w, ns, limit, fromClient, client: true, TcpFlags.Ack, 0);
                    f.Unacked = 0;
                    if (f.ResponseBytes == 0)
                        f.Step = 3;
                    return false;
                }
                int segment = Math.Min(Mss, f.ResponseBytes);
                f.ResponseBytes -= segment;
                TcpPacket(ref f, w, ns, limit, fromServer, client: false, f.ResponseBytes == 0 ? TcpFlags.Psh | TcpFlags.Ack : TcpFlags.Ack, segment);
                f.ServerSeq += (uint)segment;
                f.Unacked++;
                return false;
            case 5:
                TcpPacket(ref f, w, ns, limit, fromServer, client: false, TcpFlags.Fin | TcpFlags.Ack, 0);
                f.ServerSeq++;
                f.Step = 6;
                return false;
            default:
                TcpPacket(ref f, w, ns, limit, fromClient, client: true, TcpFlags.Ack, 0);
                return true;
        }
    }

    private bool Dns(ref Flow f, PcapWriter w, long ns, long limit)
    {
        if ((f.Step & 1) == 0)
            UdpPacket(ref f, w, ns, limit, Way.ContainerOut, client: true, _rng.Next(28, 60));
        else
            UdpPacket(ref f, w, ns, limit, Way.ToContainer, client: false, _rng.Next(60, 480));
        return ++f.Step == 2 * f.Rounds;
    }

    private bool Ping(ref Flow f, PcapWriter w, long ns, long limit)
    {
        bool request = (f.Step & 1) == 0;
        var way = f.Kind == Kind.PingOut
            ? (request ? Way.ContainerOut : Way.ToContainer)
            : (request ? Way.ToHost : Way.HostOut);
        IcmpEcho(ref f, w, ns, limit, way, request, (ushort)(1 + (f.Step / 2)));
        return ++f.Step == 2 * f.Rounds;
    }

    private bool ClosedPort(ref Flow f, PcapWriter w, long ns, long limit)
    {
        // Each retransmission is the same segment with a new IP id (Linux's per-socket counter).
        TcpPacket(ref f, w, ns, limit, Way.ToHost, client: true, TcpFlags.Syn, 0);
        return ++f.Step == f.Rounds;
    }

    private bool Smtp(ref Flow f, PcapWriter w, long ns, long limit)
    {
        if (f.Step++ == 0)
        {
            TcpPacket(ref f, w, ns, limit, Way.ContainerDropped, client: true, TcpFlags.Syn, 0);
            f.ClientSeq++;
            return false;
        }
        // ipt_REJECT's tcp-reset (nf_send_reset): RST|ACK acknowledging the SYN, sequence 0.
        f.ServerSeq = 0;
        TcpPacket(ref f, w, ns, limit, Way.HostToContainer, client: false, TcpFlags.Rst | TcpFlags.Ack, 0);
        return true;
    }

    private void TcpPacket(ref Flow f, PcapWriter w, long ns, long limit, Way way, bool client, TcpFlags flags, int payload)
    {
        var ip = _frame.AsSpan(Sll2Length);
        bool syn = (flags & TcpFlags.Syn) != 0;
        int header = syn ? SynHeader : TcpHeader;
        var t = ip[20..];
        t[..header].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(t[4..], client ? f.ClientSeq : f.ServerSeq);
        if ((flags & TcpFlags.Ack) != 0)
            BinaryPrimitives.WriteUInt32BigEndian(t[8..], client ? f.ServerSeq : f.ClientSeq);
        t[12] = (byte)((header / 4) << 4);
        t[13] = (byte)flags;
        // Window 502 << 7 = 64,256 bytes (Linux's default with window scale 7); the SYN's is unscaled.
        BinaryPrimitives.WriteUInt16BigEndian(t[14..], syn ? (ushort)64240 : (ushort)502);
        if (syn)
        {
            ReadOnlySpan<byte> options = [2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7];
            options.CopyTo(t[20..]);
            BinaryPrimitives.WriteUInt32BigEndian(t[28..], (uint)(ns / 1_000_000));
        }
        else if ((flags & TcpFlags.Rst) == 0)
        {
            ReadOnlySpan<byte> timestamps = [1, 1, 8, 10];
            timestamps.CopyTo(t[20..]);
            BinaryPrimitives.WriteUInt32BigEndian(t[24..], (uint)(ns / 1_000_000));
        }
        else
        {
            header = 20;
            t[12] = 5 << 4;
            BinaryPrimitives.WriteUInt16BigEndian(t[14..], 0);
        }
        if (payload > 0)
            BinaryPrimitives.WriteInt64BigEndian(t[header..], ns); // distinct first bytes, as real payloads are
        int l4 = header + payload;
        ushort id = client ? f.ClientId++ : f.ServerId++;
        Emit(ref f, w, ns, limit, way, L4Protocol.Tcp, 20 + l4, id);
    }

    private void UdpPacket(ref Flow f, PcapWriter w, long ns, long limit, Way way, bool client, int payload)
    {
        var u = _frame.AsSpan(Sll2Length + 20);
        BinaryPrimitives.WriteUInt16BigEndian(u[4..], (ushort)(8 + payload));
        BinaryPrimitives.WriteUInt16BigEndian(u[6..], 0);
        BinaryPrimitives.WriteInt64BigEndian(u[8..], ns);
        ushort id = client ? f.ClientId++ : f.ServerId++;
        Emit(ref f, w, ns, limit, way, L4Protocol.Udp, 28 + payload, id);
    }

    private void IcmpEcho(ref Flow f, PcapWriter w, long ns, long limit, Way way, bool request, ushort sequence)
    {
        const int PingPayload = 56;
        var icmp = _frame.AsSpan(Sll2Length + 20);
        icmp[0] = request ? (byte)8 : (byte)0;
        icmp[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], f.LocalPort);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], sequence);
        BinaryPrimitives.WriteInt64BigEndian(icmp[8..], ns);
        ushort id = request ? f.ClientId++ : f.ServerId++;
        Emit(ref f, w, ns, limit, way, L4Protocol.Icmp, 28 + PingPayload, id);
    }

    /// <summary>Writes the packet at each capture point that sees it, addresses as they are there (before or after NAT).</summary>
    private void Emit(ref Flow f, PcapWriter w, long ns, long limit, Way way, byte protocol, int ipLength, ushort ipId)
    {
        // The inside address of the flow's container end, and its outside (NATed) face.
        bool published = f.Kind == Kind.Published;
        ushort insidePort = published ? (ushort)80 : f.LocalPort;
        ushort outsidePort = published ? f.RemotePort : f.LocalPort;
        ushort remotePort = published ? f.LocalPort : f.RemotePort;
        switch (way)
        {
            case Way.ContainerOut:
                Sighting(w, ns, limit, VethIfIndex, PacketHost, ContainerMac, protocol, ipLength, ipId, 64, ContainerIp, insidePort, f.Remote, remotePort);
                Sighting(w, ns + 1000, limit, Docker0IfIndex, PacketHost, ContainerMac, protocol, ipLength, ipId, 64, ContainerIp, insidePort, f.Remote, remotePort);
                Sighting(w, ns + 2000, limit, Eth0IfIndex, PacketOutgoing, Eth0Mac, protocol, ipLength, ipId, 63, Eth0Ip, outsidePort, f.Remote, remotePort);
                break;
            case Way.ContainerDropped:
                Sighting(w, ns, limit, VethIfIndex, PacketHost, ContainerMac, protocol, ipLength, ipId, 64, ContainerIp, insidePort, f.Remote, remotePort);
                Sighting(w, ns + 1000, limit, Docker0IfIndex, PacketHost, ContainerMac, protocol, ipLength, ipId, 64, ContainerIp, insidePort, f.Remote, remotePort);
                break;
            case Way.ToContainer:
                Sighting(w, ns, limit, Eth0IfIndex, PacketHost, GatewayMac, protocol, ipLength, ipId, 57, f.Remote, remotePort, Eth0Ip, outsidePort);
                Sighting(w, ns + 1000, limit, Docker0IfIndex, PacketOutgoing, Docker0Mac, protocol, ipLength, ipId, 56, f.Remote, remotePort, ContainerIp, insidePort);
                Sighting(w, ns + 2000, limit, VethIfIndex, PacketOutgoing, Docker0Mac, protocol, ipLength, ipId, 56, f.Remote, remotePort, ContainerIp, insidePort);
                break;
            case Way.HostToContainer:
                Sighting(w, ns, limit, VethIfIndex, PacketOutgoing, Docker0Mac, protocol, ipLength, ipId, 64, f.Remote, remotePort, ContainerIp, insidePort);
                break;
            case Way.ToHost:
                Sighting(w, ns, limit, Eth0IfIndex, PacketHost, GatewayMac, protocol, ipLength, ipId, 57, f.Remote, f.LocalPort, Eth0Ip, f.RemotePort);
                break;
            default: // Way.HostOut
                Sighting(w, ns, limit, Eth0IfIndex, PacketOutgoing, Eth0Mac, protocol, ipLength, ipId, 64, Eth0Ip, 0, f.Remote, 0);
                break;
        }
    }

    private void Sighting(PcapWriter w, long ns, long limit, int ifIndex, byte packetType, ulong mac, byte protocol, int ipLength, ushort ipId, byte ttl, uint src, ushort srcPort, uint dst, ushort dstPort)
    {
        if (Sightings >= limit)
            return;
        var f = _frame.AsSpan();
        var h = WriteSll2Ipv4(f, ifIndex, packetType, mac, protocol, ipLength, ipId, ttl, src, dst);
        if (protocol != L4Protocol.Icmp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(h[20..], srcPort);
            BinaryPrimitives.WriteUInt16BigEndian(h[22..], dstPort);
        }
        int length = Sll2Length + ipLength;
        w.Write(ns, f[..Math.Min(length, _snapLength)], length);
        Sightings++;
    }

    /// <summary>
    /// The DLT_LINUX_SLL2 header and an IPv4 header (DF, checksum filled) at the start of
    /// <paramref name="f"/>, as `tcpdump -i any` records a packet; returns the IP header onwards for
    /// the caller's transport header. Shared with <see cref="ScaleTraffic"/>.
    /// </summary>
    internal static Span<byte> WriteSll2Ipv4(Span<byte> f, int ifIndex, byte packetType, ulong mac, byte protocol, int ipLength, ushort ipId, byte ttl, uint src, uint dst)
    {
        // DLT_LINUX_SLL2: protocol, reserved, ifindex, ARPHRD_ETHER, packet type, address length, address.
        BinaryPrimitives.WriteUInt16BigEndian(f, EtherTypes.Ipv4);
        BinaryPrimitives.WriteUInt16BigEndian(f[2..], 0);
        BinaryPrimitives.WriteInt32BigEndian(f[4..], ifIndex);
        BinaryPrimitives.WriteUInt16BigEndian(f[8..], 1);
        f[10] = packetType;
        f[11] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(f[12..], (uint)(mac >> 16));
        BinaryPrimitives.WriteUInt16BigEndian(f[16..], (ushort)mac);
        BinaryPrimitives.WriteUInt16BigEndian(f[18..], 0);
        var h = f[Sll2Length..];
        h[0] = 0x45;
        h[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(h[2..], (ushort)ipLength);
        BinaryPrimitives.WriteUInt16BigEndian(h[4..], ipId);
        // DF, as Linux sets on TCP with path MTU discovery and on ping; DNS too (IP_PMTUDISC_WANT on UDP sockets).
        BinaryPrimitives.WriteUInt16BigEndian(h[6..], 0x4000);
        h[8] = ttl;
        h[9] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(h[10..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(h[12..], src);
        BinaryPrimitives.WriteUInt32BigEndian(h[16..], dst);
        uint sum = 0;
        for (int i = 0; i < 20; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(h[i..]);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum += sum >> 16;
        BinaryPrimitives.WriteUInt16BigEndian(h[10..], (ushort)~sum);
        return h;
    }
}
