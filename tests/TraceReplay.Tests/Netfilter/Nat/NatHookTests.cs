using PacketDotNet;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Tests.Netfilter.Conntrack;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Netfilter.Nat;

/// <summary>
/// Conntrack and NAT together, as nf_nat_inet_fn runs them: the first packet of a connection binds
/// once per manip type and stores the binding in the unconfirmed entry; later packets of both
/// directions are rewritten from the entry. The scenario is the docker-host dataset's: a container
/// 172.17.0.2 behind MASQUERADE to 198.51.100.1 (datasets/docker-host/record.sh).
/// </summary>
public sealed class NatHookTests
{
    private const long S = CtPackets.S;
    private static readonly IpAddr Public = IpAddr.Parse("198.51.100.1");

    /// <summary>The nat table of the test host: POSTROUTING -s 172.17.0.0/16 → SNAT to 198.51.100.1 (what MASQUERADE resolves to), nothing else.</summary>
    private struct MasqueradeRule : INfNatRuleLookup
    {
        public int Asked;

        public bool Lookup(NfInetHook hook, in DecodedPacket packet, out NfNatRange2 range, out int ruleId)
        {
            Asked++;
            range = default;
            ruleId = -1;
            if (hook != NfInetHook.PostRouting || !packet.Src.ToString().StartsWith("172.17.", StringComparison.Ordinal))
                return false;
            range = new NfNatRange2(NfNatRangeFlags.MapIps, Public, Public, 0, 0, 0);
            ruleId = 7;
            return true;
        }
    }

    private static (byte[] Frame, DecodedPacket Packet) Tcp(string src, ushort sport, string dst, ushort dport, bool syn, bool ack, uint seq = 1000, uint ackNumber = 0)
    {
        byte[] frame = Frames.TcpV4(src, sport, dst, dport, syn, ack, seq: seq, ackNumber: ackNumber);
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        return (frame, d);
    }

    /// <summary>PacketDotNet's independent parse of the rewritten frame: addresses, ports and valid checksums.</summary>
    private static (string Src, ushort Sport, string Dst, ushort Dport) Parsed(byte[] frame)
    {
        var ip = Packet.ParsePacket(LinkLayers.Ethernet, frame).Extract<IPv4Packet>();
        var tcp = ip.Extract<TcpPacket>();
        Assert.True(ip.ValidIPChecksum, "IPv4 header checksum");
        Assert.True(tcp.ValidTcpChecksum, "TCP checksum");
        return (ip.SourceAddress.ToString(), tcp.SourcePort, ip.DestinationAddress.ToString(), tcp.DestinationPort);
    }

    /// <summary>One packet through PREROUTING (conntrack, DNAT hook) and POSTROUTING (SNAT hook, confirm) of a forwarding host.</summary>
    private static CtInfo Forward(NfConntrackTable ct, NfNatHook nat, byte[] frame, ref DecodedPacket d, long now, ref MasqueradeRule rules, out NatVerdict verdict)
    {
        var info = ct.ConntrackIn(in d, frame, now);
        verdict = nat.Process(frame, ref d, info, NfInetHook.PreRouting, now, ref rules);
        if (verdict == NatVerdict.Accept)
            verdict = nat.Process(frame, ref d, info, NfInetHook.PostRouting, now, ref rules);
        if (verdict == NatVerdict.Accept && info.HasEntry && !ct[info.Entry].IsConfirmed)
            Assert.True(ct.Confirm(info.Entry, now));
        else if (verdict != NatVerdict.Accept && info.HasEntry && !ct[info.Entry].IsConfirmed)
            ct.Abort(info.Entry);
        return info;
    }

    [Fact]
    public void Masquerade_rewrites_both_directions_from_the_entry_and_asks_the_nat_table_once_per_manip()
    {
        var ct = CtPackets.Table();
        var nat = new NfNatHook(ct, new NfNatCore(seed: 1));
        var rules = new MasqueradeRule();

        var (syn, d) = Tcp("172.17.0.2", 40000, "203.0.113.9", 80, syn: true, ack: false);
        var info = Forward(ct, nat, syn, ref d, 1 * S, ref rules, out var verdict);
        Assert.Equal(NatVerdict.Accept, verdict);
        Assert.Equal(CtState.New, info.State);
        // The source port is free, so get_unique_tuple keeps it (nf_nat_core.c: "the original tuple is unique and in range").
        Assert.Equal(("198.51.100.1", (ushort)40000, "203.0.113.9", (ushort)80), Parsed(syn));
        Assert.Equal(Public, d.Src);
        Assert.Equal(2, rules.Asked); // PREROUTING (no rule: null binding) and POSTROUTING (the SNAT rule)

        ref var conn = ref ct[info.Entry];
        Assert.Equal(CtStatus.SrcNat, conn.Status & (CtStatus.SrcNat | CtStatus.DstNat));
        Assert.Equal(Public, conn.Reply.Dst); // replies are recognised by the translated reply tuple
        Assert.Equal((ushort)40000, conn.Reply.DstPort);

        // The reply arrives for the public address and is rewritten back (DST manip in the reply direction at PREROUTING).
        // A SYN/ACK acknowledging the SYN's sequence number 1000 (tcp_in_window wants ack = seq + 1).
        var (synAck, r) = Tcp("203.0.113.9", 80, "198.51.100.1", 40000, syn: true, ack: true, seq: 5000, ackNumber: 1001);
        var replyInfo = Forward(ct, nat, synAck, ref r, 2 * S, ref rules, out verdict);
        Assert.Equal(NatVerdict.Accept, verdict);
        Assert.Equal((CtState.Established, CtDirection.Reply), (replyInfo.State, replyInfo.Direction));
        Assert.Equal(("203.0.113.9", (ushort)80, "172.17.0.2", (ushort)40000), Parsed(synAck));
        Assert.Equal(2, rules.Asked); // established packets never reach the nat table

        var mapping = Assert.Single(nat.OpenMappings());
        Assert.Equal((7, Public, (ushort)40000, NfNatManipType.Src, NatMapping.Live), (mapping.RuleId, mapping.NatAddress, mapping.NatPort, mapping.Manip, mapping.RemovedNs));
    }

    [Fact]
    public void A_second_client_on_the_same_port_gets_another_port_and_keeps_the_port_class()
    {
        var ct = CtPackets.Table();
        var nat = new NfNatHook(ct, new NfNatCore(seed: 1));
        var rules = new MasqueradeRule();
        var (a, da) = Tcp("172.17.0.2", 40000, "203.0.113.9", 80, syn: true, ack: false);
        Forward(ct, nat, a, ref da, 1 * S, ref rules, out _);
        var (b, db) = Tcp("172.17.0.3", 40000, "203.0.113.9", 80, syn: true, ack: false);
        Forward(ct, nat, b, ref db, 1 * S, ref rules, out var verdict);

        Assert.Equal(NatVerdict.Accept, verdict);
        var (src, sport, _, _) = Parsed(b);
        Assert.Equal("198.51.100.1", src);
        // 198.51.100.1:40000 → 203.0.113.9:80 is taken by the first connection, so the search moves
        // the port; without a port range it stays in the >= 1024 class (nf_nat_l4proto_unique_tuple).
        Assert.NotEqual((ushort)40000, sport);
        Assert.True(sport >= 1024);
        var open = nat.OpenMappings().OrderBy(m => m.Sequence).ToList();
        Assert.Equal(2, open.Count);
        Assert.Equal(sport, open[1].NatPort);
    }

    [Fact]
    public void A_dropped_first_packet_leaves_no_binding_and_expiry_closes_the_mapping()
    {
        var ct = CtPackets.Table();
        var log = new NatMappingLog();
        var nat = new NfNatHook(ct, new NfNatCore(seed: 1)) { MappingSink = log };
        var rules = new MasqueradeRule();
        byte[] frame = Frames.UdpV4("172.17.0.2", 5353, "203.0.113.9", 53);
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        var info = Forward(ct, nat, frame, ref d, 10 * S, ref rules, out _);
        Assert.Equal(1, ct.Count);

        // UDP without a reply lives nf_conntrack_udp_timeout = 30 s; at 41 s it has expired: DESTROY at its deadline.
        ct.ExpireUntil(41 * S);
        nat.OnEvents(ct.Events);
        var closed = Assert.Single(log.Closed);
        Assert.Empty(nat.OpenMappings());
        Assert.Equal(40 * S, closed.RemovedNs);
        Assert.Equal(10 * S, closed.SetUpNs);
        Assert.Equal(0, nat.Core.BySourceCount);
        _ = info;
    }
}
