using System.Buffers.Binary;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Reject;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Netfilter.Hooks;

/// <summary>
/// The host's own answers to packets delivered to it (NfHost.LocalReply), on the docker-host network
/// (eth0 198.51.100.1/24). INPUT accepts TCP 22 and lets UDP 53 through (NFQUEUE --queue-bypass with no
/// listener), so both reach the host's stack; what it answers depends on sockets.txt. Expected bytes
/// follow tcp_v4_send_reset (RFC 793: a segment without ACK is answered RST+ACK, seq 0, ack = its seq +
/// SYN) and __udp4_lib_rcv's icmp_send(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH).
/// </summary>
public sealed class NfHostLocalReplyTests
{
    private const long S = 1_000_000_000L;

    private const string Rules = """
        *filter
        :INPUT DROP [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
        -A INPUT -p udp -m udp --dport 53 -j NFQUEUE --queue-num 3 --queue-bypass
        COMMIT
        """;

    private static NfHost Host(string? sockets)
    {
        var network = NetworkConfig.Load(Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot"));
        var host = new NfHost(network, IptablesParser.Parse(Rules, "test.rules", IptFamily.IPv4), null, null, new NfHostOptions { LoadConntrack = false });
        host.Sockets = sockets is null ? null : NfLocalSockets.Parse(sockets, "sockets.txt");
        return host;
    }

    private static NfHookResult In(NfHost host, byte[] frame, long t)
    {
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        return host.Receive(frame, ref d, new NfIngress("eth0", t));
    }

    private static ulong OutputPolicy(NfHost host) => host.Counters(IptFamily.IPv4, "filter", "OUTPUT", -1).Packets;

    [Fact]
    public void A_syn_to_a_closed_port_is_answered_by_a_rst_through_output()
    {
        var host = Host(string.Empty);
        var r = In(host, Frames.TcpV4("198.51.100.2", 40000, "198.51.100.1", 22, syn: true, seq: 1000), 1 * S);
        Assert.Equal(NfFate.DeliveredLocally, r.Fate);
        var g = Assert.IsType<NfGeneratedPacket>(r.Generated);
        Assert.Equal(NfGeneratedBy.TcpReset, g.By);
        var b = g.Frame;
        Assert.Equal(40, b.Length);
        Assert.Equal("198.51.100.1", g.Packet.Src.ToString());
        Assert.Equal("198.51.100.2", g.Packet.Dst.ToString());
        Assert.Equal((22, 40000), (g.Packet.SrcPort, g.Packet.DstPort));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(b[24..])); // seq 0: the SYN had no ACK
        Assert.Equal(1001u, BinaryPrimitives.ReadUInt32BigEndian(b[28..])); // ack = seq + SYN
        Assert.Equal(0x14, b[33]); // RST|ACK

        // Sent out of eth0 through OUTPUT (counted), in the reply direction of the SYN's connection.
        Assert.Equal((NfFate.Sent, "eth0"), (g.Result.Fate, g.OutDev));
        Assert.Equal(1UL, OutputPolicy(host));
        Assert.Equal(CtDirection.Reply, g.Result.CtDirection);
    }

    [Fact]
    public void A_listening_socket_or_an_unknown_socket_table_gets_no_rst()
    {
        // Listening: the socket answers (its SYN-ACK is host output the capture shows, not a prediction).
        var open = Host("tcp LISTEN 0 4096 0.0.0.0:22 0.0.0.0:*\n");
        Assert.Null(In(open, Frames.TcpV4("198.51.100.2", 40000, "198.51.100.1", 22), 1 * S).Generated);
        // No sockets.txt: nobody knows the port is closed.
        var unknown = Host(null);
        Assert.Null(In(unknown, Frames.TcpV4("198.51.100.2", 40000, "198.51.100.1", 22), 1 * S).Generated);
        Assert.Equal(0UL, OutputPolicy(unknown));
    }

    [Fact]
    public void A_datagram_to_a_closed_udp_port_is_answered_by_port_unreachable()
    {
        var host = Host(string.Empty);
        var r = In(host, Frames.UdpV4("198.51.100.2", 5000, "198.51.100.1", 53, 8), 1 * S);
        Assert.Equal(NfFate.DeliveredLocally, r.Fate);
        var g = Assert.IsType<NfGeneratedPacket>(r.Generated);
        Assert.Equal(NfGeneratedBy.PortUnreachable, g.By);
        Assert.Equal((3, 3), (g.Packet.IcmpType, g.Packet.IcmpCode)); // ICMP_DEST_UNREACH, ICMP_PORT_UNREACH
        Assert.Equal("198.51.100.1", g.Packet.Src.ToString()); // the datagram's destination (RTCF_LOCAL)
        Assert.Equal(20 + 8 + 20 + 8 + 8, g.Frame.Length); // IP, ICMP, and the whole 36-byte datagram quoted
        Assert.Equal((CtState.Related, NfFate.Sent), (g.Result.CtState, g.Result.Fate));
    }

    [Fact]
    public void A_reply_to_a_connection_the_host_opened_is_not_answered_as_a_closed_port()
    {
        // The host connects from 45000 (an ephemeral port ss -l never lists); the SYN-ACK is ESTABLISHED, reply direction.
        var host = Host(string.Empty);
        byte[] syn = Frames.TcpV4("198.51.100.1", 45000, "198.51.100.2", 80, syn: true, seq: 7);
        PacketDecoder.Decode(syn, LinkType.Ethernet, syn.Length, out var d);
        Assert.Equal(NfFate.Sent, host.Output(syn, ref d, new NfEgress(1 * S)).Fate);
        var r = In(host, Frames.TcpV4("198.51.100.2", 80, "198.51.100.1", 45000, syn: true, ack: true, seq: 500, ackNumber: 8), 1 * S + 1000);
        Assert.Equal((NfFate.DeliveredLocally, CtDirection.Reply), (r.Fate, r.CtDirection));
        Assert.Null(r.Generated);
    }
}
