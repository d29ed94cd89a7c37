using System.Buffers.Binary;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Reject;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Netfilter.Reject;

/// <summary>
/// REJECT's reply on hand-built packets (docker-host network: eth0 198.51.100.1/24, docker0 172.17.0.1/16)
/// and the ip_rcv_core header checks. Expected values are reasoned from nf_reject_ipv4.c, icmp.c and
/// ip_input.c in the comments beside them; the byte-level agreement with the kernel is NfRejectKernelTests'.
/// </summary>
public sealed class NfRejectTests
{
    private const long S = 1_000_000_000L;

    private const string Rules = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset
        -A INPUT -p udp -m udp --dport 53 -j REJECT
        -A INPUT -p icmp -j REJECT --reject-with icmp-host-prohibited
        -A OUTPUT -p udp -m udp --dport 9 -j REJECT --reject-with icmp-admin-prohibited
        COMMIT
        """;

    private static NfHost Host()
    {
        var network = NetworkConfig.Load(Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot"));
        return new NfHost(network, IptablesParser.Parse(Rules, "test.rules", IptFamily.IPv4), null, null, new NfHostOptions { LoadConntrack = false });
    }

    private static NfHookResult In(NfHost host, byte[] frame, long t = S, int? wire = null)
    {
        PacketDecoder.Decode(frame, LinkType.Ethernet, wire ?? frame.Length, out var d);
        return host.Receive(frame, ref d, new NfIngress("eth0", t));
    }

    private static byte[] Syn(int payload = 0, bool ack = false) =>
        Frames.TcpV4("198.51.100.2", 40000, "198.51.100.1", 25, syn: !ack, ack: ack, payload: payload, seq: 1000, ackNumber: 5000);

    // ---------------------------------------------------------------- nf_send_reset

    [Fact]
    public void A_syn_gets_rst_ack_with_ack_seq_plus_one_from_the_address_it_was_sent_to()
    {
        var r = In(Host(), Syn());
        Assert.Equal((NfFate.Dropped, NfRejectOutcome.Sent), (r.Fate, r.RejectOutcome));
        var g = r.Generated!;
        var p = g.Packet;
        // nf_reject_iphdr_put: saddr/daddr swapped, tos 0, id 0, DF, TTL ip_default_ttl (64); 20+20 bytes.
        Assert.Equal((IpAddr.Parse("198.51.100.1"), IpAddr.Parse("198.51.100.2"), (byte)0, 0u, (byte)64, 40), (p.Src, p.Dst, p.Tos, p.IpId, p.Ttl, p.IpTotalLength));
        Assert.True((p.Flags & PacketFlags.DontFragment) != 0);
        // nf_reject_ip_tcphdr_put without ACK in the original: seq 0, ack = 1000 + SYN, flags RST|ACK, window 0.
        Assert.Equal(((ushort)25, (ushort)40000, 0u, 1001u, TcpFlags.Rst | TcpFlags.Ack, (ushort)0), (p.SrcPort, p.DstPort, p.TcpSeq, p.TcpAck, p.TcpFlags, p.TcpWindow));
        // Through ip_local_out: the output route to eth0, OUTPUT filter and POSTROUTING; attached to the SYN's entry as RELATED.
        Assert.Equal(("eth0", NfFate.Sent, CtState.Related), (g.OutDev, g.Result.Fate, g.Result.CtState));
        Assert.True(g.Result.Visited(NfInetHook.LocalOut, NfTableId.Filter));
        Assert.False(g.ViaBridgePort);
        // The header checksums verify.
        Assert.Equal(0xFFFF, Sum(g.Frame[..20], 0));
        Assert.Equal(0xFFFF, Sum(g.Frame[20..], Pseudo(g.Frame)));
    }

    [Fact]
    public void A_segment_with_ack_and_data_gets_a_bare_rst_with_its_ack_as_seq()
    {
        // With ACK: tcph->seq = oth->ack_seq, no ACK flag, ack_seq 0 (the payload does not matter).
        var p = In(Host(), Syn(payload: 10, ack: true)).Generated!.Packet;
        Assert.Equal((5000u, 0u, TcpFlags.Rst), (p.TcpSeq, p.TcpAck, p.TcpFlags));
    }

    [Fact]
    public void A_syn_with_data_is_acknowledged_past_its_data()
    {
        // ack = seq + SYN + FIN + (tot_len - ihl - doff*4) = 1000 + 1 + 0 + 7.
        Assert.Equal(1008u, In(Host(), Syn(payload: 7)).Generated!.Packet.TcpAck);
    }

    [Fact]
    public void A_rst_and_a_non_first_fragment_get_no_reply()
    {
        // nf_reject_ip_tcphdr_get: "No RST for RST", and only fragment 0 has a TCP header.
        var rst = Syn();
        PacketDecoder.Decode(rst, LinkType.Ethernet, rst.Length, out var d);
        rst[d.L4Offset + 13] = 0x04;
        FixTcp(rst, d);
        var r = In(Host(), rst);
        Assert.Equal((NfRejectOutcome.NotEligible, (NfGeneratedPacket?)null), (r.RejectOutcome, r.Generated));
        Assert.False(NfRejectIpv4.CanReset(d with { FragmentOffset = 8 }));
    }

    // ---------------------------------------------------------------- icmp_send

    [Fact]
    public void A_datagram_to_the_host_gets_port_unreachable_quoting_it_whole()
    {
        var udp = Frames.UdpV4("198.51.100.2", 5000, "198.51.100.1", 53, payload: 12);
        var r = In(Host(), udp);
        var g = r.Generated!;
        var p = g.Packet;
        // RTCF_LOCAL: the source is the datagram's destination; tos (0 & IPTOS_TOS_MASK) | 0xc0; no DF
        // (the ICMP socket is IP_PMTUDISC_DONT); type 3 code 3; 20 + 8 + the 40-byte datagram.
        Assert.Equal((IpAddr.Parse("198.51.100.1"), IpAddr.Parse("198.51.100.2"), (byte)0xC0, (byte)3, (byte)3, 68),
            (p.Src, p.Dst, p.Tos, p.IcmpType, p.IcmpCode, p.IpTotalLength));
        Assert.True((p.Flags & PacketFlags.DontFragment) == 0);
        Assert.Equal(udp.AsSpan(14, 40).ToArray(), g.Frame[28..].ToArray());
        Assert.Equal(0xFFFF, Sum(g.Frame[20..], 0));
        Assert.Equal(CtState.Related, g.Result.CtState);
    }

    [Fact]
    public void An_icmp_error_quotes_at_most_548_bytes()
    {
        // RFC 1812 via __icmp_send: room = min(mtu, 576) - 20 - 8.
        var r = In(Host(), Frames.UdpV4("198.51.100.2", 5000, "198.51.100.1", 53, payload: 1000));
        Assert.Equal(576, r.Generated!.Packet.IpTotalLength);
    }

    [Fact]
    public void No_icmp_error_answers_an_icmp_error()
    {
        // The INPUT rule rejects all ICMP; an echo request is answered, a port unreachable is not.
        var host = Host();
        var echo = Icmp(8, 0);
        Assert.Equal(NfRejectOutcome.Sent, In(host, echo).RejectOutcome);
        Assert.Equal(NfRejectOutcome.NotEligible, In(host, Icmp(3, 3), 2 * S).RejectOutcome);
    }

    [Fact]
    public void The_peer_bucket_allows_a_burst_of_six_then_one_a_second()
    {
        // inet_peer_xrlim_allow with icmp_ratelimit 1000 ms: a new peer has a full bucket of 6 tokens;
        // then one more each second. icmp_msgs_burst (50) is not reached.
        var host = Host();
        var outcomes = Enumerable.Range(0, 8).Select(i => In(host, Frames.UdpV4("198.51.100.2", (ushort)(5000 + i), "198.51.100.1", 53), S + i * 1000L).RejectOutcome).ToList();
        Assert.Equal([.. Enumerable.Repeat(NfRejectOutcome.Sent, 6), NfRejectOutcome.RateLimited, NfRejectOutcome.RateLimited], outcomes);
        var later = In(host, Frames.UdpV4("198.51.100.2", 6000, "198.51.100.1", 53), 2 * S + 10_000_000);
        Assert.Equal(NfRejectOutcome.Sent, later.RejectOutcome);
    }

    [Fact]
    public void A_reject_at_output_answers_the_host_itself_through_loopback()
    {
        // A locally generated datagram rejected at OUTPUT: not RTCF_LOCAL, so the source is chosen by the
        // route back to 198.51.100.1 — a local route, whose source is that address; it leaves by lo.
        var host = Host();
        var udp = Frames.UdpV4("198.51.100.1", 5000, "198.51.100.2", 9);
        PacketDecoder.Decode(udp, LinkType.Ethernet, udp.Length, out var d);
        var r = host.Output(udp, ref d, new NfEgress(S));
        Assert.Equal((NfFate.Dropped, NfRejectOutcome.Sent), (r.Fate, r.RejectOutcome));
        var g = r.Generated!;
        Assert.Equal((IpAddr.Parse("198.51.100.1"), IpAddr.Parse("198.51.100.1"), (byte)13), (g.Packet.Src, g.Packet.Dst, g.Packet.IcmpCode));
        Assert.Equal("lo", g.OutDev);
    }

    [Fact]
    public void Rejecting_and_replying_allocates_nothing()
    {
        // The reply is built in the host's one reused buffer and sent through the same hook code.
        var host = Host();
        byte[] syn = Syn(), udp = Frames.UdpV4("198.51.100.2", 5000, "198.51.100.1", 53);
        byte[] frame = new byte[Math.Max(syn.Length, udp.Length)];
        long t = S;
        var ingress = new NfIngress("eth0", t);
        void Round()
        {
            for (int i = 0; i < 100; i++)
            {
                foreach (var template in (ReadOnlySpan<byte[]>)[syn, udp])
                {
                    template.CopyTo(frame, 0);
                    var f = frame.AsSpan(0, template.Length);
                    PacketDecoder.Decode(f, LinkType.Ethernet, f.Length, out var d);
                    var r = host.Receive(f, ref d, ingress with { TimeNs = t += 1_000_000 });
                    if (!r.HasReject || r.RejectOutcome == NfRejectOutcome.None)
                        throw new InvalidOperationException(r.DropDescription());
                }
            }
        }
        Round();
        Assert.Equal(0, Allocations.Quietest(Round));
    }

    // ---------------------------------------------------------------- ip_rcv_core

    [Fact]
    public void A_bad_header_checksum_is_dropped_before_any_hook()
    {
        var f = Syn();
        f[14 + 10] ^= 0x55;
        var r = In(Host(), f);
        Assert.Equal((NfFate.Dropped, NfDropCause.IpHeader, NfIpDropReason.IpCsum, NfPath.None), (r.Fate, r.DropCause, r.IpDrop, r.Path));
        Assert.Equal("ip:IpCsum", r.DropDescription());
    }

    [Fact]
    public void A_header_shorter_than_20_bytes_or_of_another_version_is_an_inhdr_error()
    {
        // ihl = 4 (16 bytes): "iph->ihl < 5 || iph->version != 4" → inhdr_error.
        var f = Syn();
        f[14] = 0x44;
        Assert.Equal((NfDropCause.IpHeader, NfIpDropReason.IpInhdr), (In(Host(), f).DropCause, In(Host(), f).IpDrop));
        var v = Syn();
        v[14] = 0x55;
        Assert.Equal(NfIpDropReason.IpInhdr, In(Host(), v).IpDrop);
    }

    [Fact]
    public void A_frame_shorter_than_tot_len_is_too_small_unless_the_capture_cut_it()
    {
        // tot_len says 60 (a SYN with 20 bytes of data), the frame carries 40 bytes of datagram:
        // skb->len < len → PKT_TOO_SMALL.
        var whole = Syn(payload: 20);
        var cut = whole[..(14 + 40)];
        Assert.Equal(NfIpDropReason.PktTooSmall, In(Host(), cut).IpDrop);
        // The same bytes with the wire length saying 74: the snap length cut them; the packet was whole on
        // the wire, so no drop — the verdict is computed from what was captured (the REJECT rule needs
        // only the TCP header, which is whole).
        var r = In(Host(), cut, wire: whole.Length);
        Assert.True(r.FromTruncatedFrame);
        Assert.Equal(NfDropCause.Table, r.DropCause);
    }

    [Fact]
    public void An_ipv6_payload_length_past_the_frame_is_too_small()
    {
        var f = Frames.TcpV6("2001:db8::2", 40000, "2001:db8::1", 25);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14 + 4), 200);
        var r = In(Host(), f);
        Assert.Equal((NfDropCause.IpHeader, NfIpDropReason.PktTooSmall), (r.DropCause, r.IpDrop));
    }

    // ---------------------------------------------------------------- helpers

    private static byte[] Icmp(byte type, byte code)
    {
        // An ICMP message of 8 bytes (type 3 with a quoted header for errors) from 198.51.100.2, built by hand.
        bool error = type == 3;
        int icmpLen = error ? 8 + 28 : 8;
        var f = new byte[14 + 20 + icmpLen];
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        var ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + icmpLen));
        ip[8] = 64;
        ip[9] = 1;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0xC6336402);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0xC6336401);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~Sum(ip[..20], 0));
        var icmp = ip[20..];
        icmp[0] = type;
        icmp[1] = code;
        if (error)
        {
            var inner = icmp[8..];
            inner[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(inner[2..], 28);
            inner[8] = 64;
            inner[9] = 17;
            BinaryPrimitives.WriteUInt32BigEndian(inner[12..], 0xC6336401);
            BinaryPrimitives.WriteUInt32BigEndian(inner[16..], 0xC6336402);
        }
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], (ushort)~Sum(icmp, 0));
        return f;
    }

    private static void FixTcp(byte[] f, in DecodedPacket d)
    {
        var seg = f.AsSpan(d.L4Offset, d.IpTotalLength - d.IpHeaderLength);
        seg[16] = seg[17] = 0;
        var ip = f.AsSpan(d.L3Offset);
        uint pseudo = (uint)(BinaryPrimitives.ReadUInt16BigEndian(ip[12..]) + BinaryPrimitives.ReadUInt16BigEndian(ip[14..]) + BinaryPrimitives.ReadUInt16BigEndian(ip[16..])
            + BinaryPrimitives.ReadUInt16BigEndian(ip[18..]) + 6 + seg.Length);
        BinaryPrimitives.WriteUInt16BigEndian(seg[16..], (ushort)~Sum(seg, pseudo));
    }

    private static uint Pseudo(ReadOnlySpan<byte> ip)
    {
        uint s = 0;
        for (int i = 12; i < 20; i += 2)
            s += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        return s + ip[9] + (uint)(ip.Length - 20);
    }

    private static int Sum(ReadOnlySpan<byte> data, uint sum)
    {
        ulong acc = sum;
        for (int i = 0; i + 1 < data.Length; i += 2)
            acc += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if ((data.Length & 1) != 0)
            acc += (uint)data[^1] << 8;
        while (acc >> 16 != 0)
            acc = (acc & 0xFFFF) + (acc >> 16);
        return (int)acc;
    }
}
