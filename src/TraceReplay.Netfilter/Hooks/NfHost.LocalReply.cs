using System.Buffers.Binary;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Reject;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Routing;

namespace TraceReplay.Netfilter.Hooks;

/// <summary>
/// The answers the host's own stack gives to a packet delivered to it (issue 6): icmp_echo →
/// icmp_reply (icmpv6_echo_reply) for an echo request, tcp_v4_send_reset (tcp_v6_send_reset) for a
/// segment to a TCP port nobody listens on, and __udp4_lib_rcv's icmp_send(ICMP_PORT_UNREACH)
/// (icmpv6_send(ICMPV6_PORT_UNREACH)) for a datagram to a closed UDP port. Like REJECT's replies
/// they are made packets, built byte for byte and sent through ip_local_out — OUTPUT and
/// POSTROUTING, counted — but, unlike REJECT's, after the packet was delivered and its entry
/// confirmed, on a fresh skb: conntrack at OUTPUT finds the connection itself (the echo reply and
/// the RST in the reply direction, the ICMP error RELATED through its quoted header).
/// <para>
/// Which ports are open comes from the snapshot's sockets.txt (<see cref="Sockets"/>); without it no
/// RST or port unreachable is predicted. A packet in a connection's reply direction belongs to a
/// socket the host opened itself (a client's ephemeral port, never listed by `ss -l`), so it is
/// never answered as a closed port; neither is an untracked one to a port of ip_local_port_range.
/// </para>
/// </summary>
public sealed partial class NfHost
{
    private NfGeneratedPacket? _localReply;

    /// <summary>The host's listening sockets (sockets.txt); null when unknown: closed ports are then not answered.</summary>
    public NfLocalSockets? Sockets { get; set; }

    /// <summary>After a packet was delivered locally: the host's own answer to it, if it makes one, in <see cref="NfHookResult.Generated"/>.</summary>
    private void LocalReply(ReadOnlySpan<byte> frame, in DecodedPacket d, ref NfHookResult r, long timeNs)
    {
        if (r.Fate != NfFate.DeliveredLocally || r.Generated is not null || !d.HasIp || !d.HasTransport || d.FragmentOffset != 0
            || (d.Flags & PacketFlags.Fragment) != 0 && (d.Flags & PacketFlags.AtomicFragment) == 0 || r.InDev == "lo")
            return;
        bool v6 = d.IsIpv6;
        var s = Network.Sysctls;
        bool routeBcast = r.Route.Type is RouteType.Broadcast or RouteType.Multicast || (v6 && (d.Dst.Hi >> 56) == 0xFF);
        int l3 = d.L3Offset;
        var datagram = l3 < frame.Length ? frame[l3..Math.Min(frame.Length, l3 + d.IpTotalLength)] : [];
        var gen = _localReply ??= new NfGeneratedPacket();
        gen.FromTruncatedFrame = d.IsTruncated;
        gen.TimeNs = timeNs;
        gen.ViaBridgePort = false;

        if (!v6 && d.Protocol == L4Protocol.Icmp && d.IcmpType == 8 && d.IcmpCode == 0)
        {
            // icmp_echo: icmp_echo_ignore_all. An echo to a broadcast/multicast route (answered only with
            // icmp_echo_ignore_broadcasts=0, from inet_select_addr's source) is not predicted.
            if (s.Int("net.ipv4.icmp_echo_ignore_all", 0) != 0 || routeBcast)
                return;
            int n = BuildEchoReply(d, datagram, (byte)s.Int("net.ipv4.ip_default_ttl", 64), gen, v6: false);
            if (n > 0)
                SendLocalReply(gen, NfGeneratedBy.EchoReply, timeNs, ref r);
            return;
        }
        if (v6 && d.Protocol == L4Protocol.Icmpv6 && d.IcmpType == 128 && d.IcmpCode == 0)
        {
            // icmpv6_echo_reply: echo_ignore_all. A multicast echo (answered from a unicast source unless
            // echo_ignore_multicast) is not predicted.
            if (s.Int("net.ipv6.icmp.echo_ignore_all", 0) != 0 || routeBcast)
                return;
            int n = BuildEchoReply(d, datagram, 0, gen, v6: true);
            if (n > 0)
                SendLocalReply(gen, NfGeneratedBy.EchoReply, timeNs, ref r);
            return;
        }
        if (d.Protocol is not (L4Protocol.Tcp or L4Protocol.Udp) || Sockets is not { } sockets || routeBcast || sockets.IsOpen(d.Protocol, d.Dst, d.DstPort))
            return;
        // A packet of a connection the host opened (reply direction) has a socket ss -l does not list.
        if (r.CtState != CtState.Untracked && r.CtDirection == CtDirection.Reply)
            return;
        if (r.CtState == CtState.Untracked)
        {
            var (lo, hi) = s.IpLocalPortRange;
            if (d.DstPort >= lo && d.DstPort <= hi)
                return;
        }
        if (d.Protocol == L4Protocol.Tcp)
        {
            // tcp_v4_send_reset / tcp_v6_send_reset: never to a RST; seq/ack as nf_send_reset's (RFC 793 "reset generation").
            if ((d.TcpFlags & TcpFlags.Rst) != 0)
                return;
            if (v6)
                NfRejectIpv6.BuildReset(d, HopLimit6(null), gen.Buffer(NfRejectIpv6.ResetLength));
            else
                NfRejectIpv4.BuildReset(d, (byte)s.Int("net.ipv4.ip_default_ttl", 64), gen.Buffer(NfRejectIpv4.ResetLength));
            SendLocalReply(gen, NfGeneratedBy.TcpReset, timeNs, ref r);
            return;
        }

        // __udp4_lib_rcv / __udp6_lib_rcv: no socket → port unreachable, rate limited like any ICMP error.
        byte type = v6 ? NfRejectIpv6.Icmp6DestUnreach : NfRejectIpv4.IcmpDestUnreach;
        byte code = v6 ? (byte)4 : (byte)3;
        if (v6 ? !NfRejectIpv6.CanUnreach(d) : !NfRejectIpv4.CanUnreach(d, 0, routeBcast))
            return;
        var back = Router.RouteOutput(new RouteKey { Src = d.Dst, Dst = d.Src, IsV6 = v6, Protocol = v6 ? L4Protocol.Icmpv6 : L4Protocol.Icmp });
        if (back.IsDrop)
            return;
        var ignored = r;
        if (!IcmpAllowed(v6, type, code, fromLoopback: false, d.Src, back, timeNs, ref ignored))
        {
            r.DependsOnClockOrRandom = true;
            return;
        }
        if (v6)
        {
            int n = 48 + Math.Min(datagram.Length, NfRejectIpv6.MaxQuoted);
            NfRejectIpv6.BuildUnreach(d, datagram, type, code, d.Dst, HopLimit6(back.OutDev), gen.Buffer(n));
        }
        else
        {
            int mtu = back.OutDev is { } od && Network.Device(od) is { Mtu: > 0 } dev ? dev.Mtu : 1500;
            int n = 28 + Math.Min(datagram.Length, Math.Min(mtu, NfRejectIpv4.MaxErrorLength) - 28);
            NfRejectIpv4.BuildUnreach(d, datagram, type, code, d.Dst.V4, (byte)s.Int("net.ipv4.ip_default_ttl", 64), 0, mtu, gen.Buffer(n));
        }
        SendLocalReply(gen, NfGeneratedBy.PortUnreachable, timeNs, ref r);
    }

    /// <summary>ip_local_out for the host's answer: a fresh packet through OUTPUT and POSTROUTING with conntrack looking it up.</summary>
    private void SendLocalReply(NfGeneratedPacket gen, NfGeneratedBy by, long timeNs, ref NfHookResult r)
    {
        gen.By = by;
        gen.Decode();
        var gr = Output(gen.Writable, ref gen.Packet, new NfEgress(timeNs));
        gen.Result = gr;
        gen.OutDev = gr.OutDev;
        r.Generated = gen;
    }

    /// <summary>
    /// icmp_reply (icmpv6_echo_reply): the request's ICMP message with type echo reply, the request's
    /// TOS (traffic class) kept, addresses swapped, no DF (the ICMP socket's IP_PMTUDISC_DONT), id 0
    /// (ip_select_ident's keyed hash cannot be known offline) and flow label 0 for the same reason.
    /// </summary>
    private int BuildEchoReply(in DecodedPacket d, ReadOnlySpan<byte> datagram, byte ttl, NfGeneratedPacket gen, bool v6)
    {
        int icmpAt = d.L4Offset - d.L3Offset;
        int icmpLen = d.IpTotalLength - icmpAt;
        if (icmpAt <= 0 || icmpLen < 8 || datagram.Length < icmpAt + icmpLen)
            return 0;
        int header = v6 ? 40 : 20;
        var b = gen.Buffer(header + icmpLen);
        if (v6)
        {
            BinaryPrimitives.WriteUInt32BigEndian(b, 0x6000_0000u | ((uint)d.Tos << 20));
            BinaryPrimitives.WriteUInt16BigEndian(b[4..], (ushort)icmpLen);
            b[6] = L4Protocol.Icmpv6;
            b[7] = HopLimit6(Router.RouteOutput(new RouteKey { Src = d.Dst, Dst = d.Src, IsV6 = true, Protocol = L4Protocol.Icmpv6 }).OutDev);
            WriteAddr(b[8..], d.Dst);
            WriteAddr(b[24..], d.Src);
        }
        else
        {
            b[0] = 0x45;
            b[1] = d.Tos;
            BinaryPrimitives.WriteUInt16BigEndian(b[2..], (ushort)(20 + icmpLen));
            BinaryPrimitives.WriteUInt32BigEndian(b[4..], 0);
            b[8] = ttl;
            b[9] = L4Protocol.Icmp;
            b[10] = b[11] = 0;
            BinaryPrimitives.WriteUInt32BigEndian(b[12..], d.Dst.V4);
            BinaryPrimitives.WriteUInt32BigEndian(b[16..], d.Src.V4);
            BinaryPrimitives.WriteUInt16BigEndian(b[10..], (ushort)~InetChecksum.Fold(InetChecksum.Sum(b[..20])));
        }
        var icmp = b[header..];
        datagram.Slice(icmpAt, icmpLen).CopyTo(icmp);
        icmp[0] = v6 ? (byte)129 : (byte)0;
        icmp[2] = icmp[3] = 0;
        uint pseudo = v6 ? InetChecksum.Fold(InetChecksum.Sum128(d.Dst)) + (uint)InetChecksum.Fold(InetChecksum.Sum128(d.Src)) + (uint)icmpLen + L4Protocol.Icmpv6 : 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], (ushort)~InetChecksum.Fold(InetChecksum.Sum(icmp, pseudo)));
        return header + icmpLen;

        static void WriteAddr(Span<byte> to, IpAddr a)
        {
            BinaryPrimitives.WriteUInt64BigEndian(to, a.Hi);
            BinaryPrimitives.WriteUInt64BigEndian(to[8..], a.Lo);
        }
    }
}
