using System.Net;
using PacketDotNet;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Tests.Netfilter.Tables;
using TraceReplay.Tests.Support;
using static TraceReplay.Tests.Netfilter.Tables.TableHarness;
using CtStatus = TraceReplay.Netfilter.Conntrack.CtStatus;
using NfCtState = TraceReplay.Netfilter.Conntrack.CtState;

namespace TraceReplay.Tests.Netfilter.Xt;

/// <summary>
/// Each implemented match module on hand-built packets (PacketDotNet frames, decoded by our
/// decoder). Every rule is `-A FORWARD SPEC -j DROP` in a table whose policy is ACCEPT, so the
/// verdict says whether the match held. Expected values follow the kernel function named on each
/// test (net/netfilter/xt_*.c); the reasoning is written next to the less obvious ones.
/// </summary>
public sealed class XtMatchTests
{
    /// <summary>True, False or Unknown for one rule spec.</summary>
    internal static Tristate Eval(string spec, TestPacket pkt, ParamSetup? setup = null, XtNet? net = null, IptFamily family = IptFamily.IPv4,
        NfInetHook hook = NfInetHook.Forward, long timeNs = 0)
    {
        var t = Filter($"-A {ChainOf(hook)} {spec} -j DROP", net, family);
        return Verdict(t, pkt, setup, hook, timeNs);
    }

    internal static Tristate Verdict(XtTableInfo t, TestPacket pkt, ParamSetup? setup = null, NfInetHook hook = NfInetHook.Forward, long timeNs = 0)
    {
        var v = Run(t, pkt, hook, setup: setup, timeNs: timeNs);
        if (v.Verdict == XtVerdict.Drop)
            return Tristate.True;
        return v.DependsOnUnknown ? Tristate.Unknown : Tristate.False;
    }

    private static string ChainOf(NfInetHook hook) => hook switch
    {
        NfInetHook.LocalIn => "INPUT",
        NfInetHook.LocalOut => "OUTPUT",
        _ => "FORWARD",
    };

    private static TestPacket WithTos(TestPacket p, byte tos)
    {
        var f = (byte[])p.Frame.Clone();
        f[14 + 1] = tos;
        return new TestPacket(f);
    }

    /// <summary>A SYN with an MSS option (kind 2, length 4): the TCP header grows to 24 bytes.</summary>
    internal static TestPacket SynWithMss()
    {
        var f = Frames.TcpV4("10.0.0.1", 40000, "192.0.2.7", 80);
        var g = new byte[f.Length + 4];
        f.AsSpan(0, 54).CopyTo(g);
        g[54] = 2;
        g[55] = 4;
        g[56] = 0x05;
        g[57] = 0xB4;
        g[16] = 0;
        g[17] = 44; // tot_len 20 + 24
        g[14 + 20 + 12] = 6 << 4; // data offset 6 words
        return new TestPacket(g);
    }

    private static TestPacket IcmpEcho(string src = "10.0.0.1", string dst = "192.0.2.7")
    {
        var icmp = new IcmpV4Packet(new PacketDotNet.Utils.ByteArraySegment(new byte[8])) { TypeCode = IcmpV4TypeCode.EchoRequest };
        var ip = new IPv4Packet(IPAddress.Parse(src), IPAddress.Parse(dst)) { PayloadPacket = icmp, TimeToLive = 64 };
        ip.UpdateCalculatedValues();
        return new TestPacket(new EthernetPacket(Frames.MacA, Frames.MacB, EthernetType.IPv4) { PayloadPacket = ip }.Bytes);
    }

    private static TestPacket Icmp6Echo()
    {
        var bytes = new byte[8];
        bytes[0] = 128; // echo request
        var icmp = new IcmpV6Packet(new PacketDotNet.Utils.ByteArraySegment(bytes));
        var ip = new IPv6Packet(IPAddress.Parse("2001:db8::1"), IPAddress.Parse("2001:db8::2")) { PayloadPacket = icmp, HopLimit = 63 };
        ip.UpdateCalculatedValues();
        return new TestPacket(new EthernetPacket(Frames.MacA, Frames.MacB, EthernetType.IPv6) { PayloadPacket = ip }.Bytes);
    }

    [Theory]
    [InlineData("-p tcp -m tcp --dport 80", Tristate.True)]
    [InlineData("-p tcp -m tcp --dport 81:90", Tristate.False)]
    [InlineData("-p tcp -m tcp --dport 1:80", Tristate.True)]
    [InlineData("-p tcp -m tcp ! --dport 80", Tristate.False)]
    [InlineData("-p tcp -m tcp --sport 40000", Tristate.True)]
    [InlineData("-p tcp -m tcp ! --sport 1:1024", Tristate.True)]
    [InlineData("-p tcp -m tcp --tcp-flags SYN,ACK SYN", Tristate.True)]
    [InlineData("-p tcp -m tcp --syn", Tristate.True)]
    [InlineData("-p tcp -m tcp ! --syn", Tristate.False)]
    [InlineData("-p tcp -m tcp --tcp-flags ALL NONE", Tristate.False)]
    [InlineData("-p tcp -m tcp --tcp-option 2", Tristate.False)] // no options in this SYN
    public void Tcp_mt(string spec, Tristate expected) => Assert.Equal(expected, Eval(spec, Tcp(sport: 40000, dport: 80)));

    [Fact]
    public void Tcp_mt_flags_of_a_syn_ack_and_an_option()
    {
        Assert.Equal(Tristate.False, Eval("-p tcp -m tcp --syn", Tcp(syn: true, ack: true)));
        Assert.Equal(Tristate.True, Eval("-p tcp -m tcp --tcp-flags SYN,ACK SYN,ACK", Tcp(syn: true, ack: true)));
        Assert.Equal(Tristate.True, Eval("-p tcp -m tcp --tcp-option 2", SynWithMss()));
        Assert.Equal(Tristate.False, Eval("-p tcp -m tcp ! --tcp-option 2", SynWithMss()));
        Assert.Equal(Tristate.False, Eval("-p tcp -m tcp --tcp-option 8", SynWithMss()));
    }

    [Fact]
    public void A_truncated_capture_makes_port_matches_unknown()
    {
        // The snap length cut the TCP header: the kernel had it, we cannot know the port.
        var full = Frames.TcpV4("10.0.0.1", 40000, "192.0.2.7", 80);
        var cut = full[..40];
        TraceReplay.Capture.Decode.PacketDecoder.Decode(cut, TraceReplay.Capture.LinkType.Ethernet, full.Length, out var d);
        var pkt = new TestPacket(cut) { Decoded = d };
        Assert.True(d.IsTruncated);
        Assert.Equal(Tristate.Unknown, Eval("-p tcp -m tcp --dport 80", pkt));
    }

    [Theory]
    [InlineData("-p udp -m udp --dport 53", Tristate.True)]
    [InlineData("-p udp -m udp ! --dport 53", Tristate.False)]
    [InlineData("-p udp -m udp --sport 5353 --dport 54", Tristate.False)]
    [InlineData("-p udp -m udp --sport 5000:6000", Tristate.True)]
    public void Udp_mt(string spec, Tristate expected) => Assert.Equal(expected, Eval(spec, Udp(sport: 5353, dport: 53)));

    [Theory]
    [InlineData("-p icmp -m icmp --icmp-type 8", Tristate.True)]
    [InlineData("-p icmp -m icmp --icmp-type echo-request", Tristate.True)]
    [InlineData("-p icmp -m icmp --icmp-type 8/0", Tristate.True)]
    [InlineData("-p icmp -m icmp --icmp-type 8/1", Tristate.False)]
    [InlineData("-p icmp -m icmp --icmp-type 0", Tristate.False)]
    [InlineData("-p icmp -m icmp ! --icmp-type 0", Tristate.True)]
    [InlineData("-p icmp -m icmp --icmp-type any", Tristate.True)]
    public void Icmp_match(string spec, Tristate expected) => Assert.Equal(expected, Eval(spec, IcmpEcho()));

    [Theory]
    [InlineData("-p ipv6-icmp -m icmp6 --icmpv6-type 128", Tristate.True)]
    [InlineData("-p ipv6-icmp -m icmp6 --icmpv6-type echo-reply", Tristate.False)]
    [InlineData("-p ipv6-icmp -m icmp6 ! --icmpv6-type 129", Tristate.True)]
    public void Icmp6_match(string spec, Tristate expected) => Assert.Equal(expected, Eval(spec, Icmp6Echo(), family: IptFamily.IPv6));

    [Theory]
    [InlineData("-p tcp -m multiport --dports 22,80:90", Tristate.True)]
    [InlineData("-p tcp -m multiport --dports 22,443", Tristate.False)]
    [InlineData("-p tcp -m multiport ! --dports 22,443", Tristate.True)]
    [InlineData("-p tcp -m multiport --sports 40000", Tristate.True)]
    [InlineData("-p tcp -m multiport --sports 80", Tristate.False)]
    [InlineData("-p tcp -m multiport --ports 80", Tristate.True)]
    [InlineData("-p tcp -m multiport --ports 40000", Tristate.True)]
    [InlineData("-p tcp -m multiport ! --ports 40000,80", Tristate.False)]
    public void Multiport_mt(string spec, Tristate expected) => Assert.Equal(expected, Eval(spec, Tcp(sport: 40000, dport: 80)));

    [Fact]
    public void Comment_mark_and_connmark()
    {
        Assert.Equal(Tristate.True, Eval("-m comment --comment \"any thing\"", Tcp()));

        // mark_mt: (0x31 & 0xf) == 0x1.
        Assert.Equal(Tristate.True, Eval("-m mark --mark 0x1/0xf", Tcp(), (ref XtActionParam p) => p.Mark = 0x31));
        Assert.Equal(Tristate.False, Eval("-m mark --mark 0x1", Tcp(), (ref XtActionParam p) => p.Mark = 0x31));
        Assert.Equal(Tristate.True, Eval("-m mark ! --mark 0x1", Tcp(), (ref XtActionParam p) => p.Mark = 0x31));

        // connmark_mt: no entry, no match — even inverted.
        Assert.Equal(Tristate.False, Eval("-m connmark ! --mark 0x7", Tcp()));
        ParamSetup ct = (ref XtActionParam p) => p.Ct = new NfCtInfo { State = NfCtState.Established, Mark = 0x107 };
        Assert.Equal(Tristate.True, Eval("-m connmark --mark 0x7/0xff", Tcp(), ct));
        Assert.Equal(Tristate.False, Eval("-m connmark --mark 0x7", Tcp(), ct));
    }

    private static ParamSetup Ct(NfCtState state, CtDirection dir = CtDirection.Original, CtStatus status = CtStatus.None, uint expires = 100) =>
        (ref XtActionParam p) => p.Ct = new NfCtInfo
        {
            State = state,
            Direction = dir,
            Status = status,
            ExpiresSeconds = expires,
            Original = new NfConntrackTuple(IpAddr.Parse("10.0.0.1"), IpAddr.Parse("192.0.2.7"), 40000, 80, 6, false),
            Reply = new NfConntrackTuple(IpAddr.Parse("172.17.0.2"), IpAddr.Parse("10.0.0.1"), 80, 40000, 6, false),
        };

    [Theory]
    [InlineData("-m state --state NEW", NfCtState.New, Tristate.True)]
    [InlineData("-m state --state RELATED,ESTABLISHED", NfCtState.New, Tristate.False)]
    [InlineData("-m state --state RELATED,ESTABLISHED", NfCtState.Related, Tristate.True)]
    [InlineData("-m state ! --state INVALID", NfCtState.Invalid, Tristate.False)]
    [InlineData("-m state --state UNTRACKED", NfCtState.Untracked, Tristate.True)]
    [InlineData("-m conntrack --ctstate NEW", NfCtState.New, Tristate.True)]
    [InlineData("-m conntrack --ctstate INVALID", NfCtState.Invalid, Tristate.True)]
    [InlineData("-m conntrack ! --ctstate INVALID", NfCtState.Established, Tristate.True)]
    public void State_and_ctstate(string spec, NfCtState state, Tristate expected) => Assert.Equal(expected, Eval(spec, Tcp(), Ct(state)));

    [Fact]
    public void Conntrack_mt_fields()
    {
        var est = Ct(NfCtState.Established, CtDirection.Reply, CtStatus.Assured | CtStatus.SeenReply | CtStatus.DstNat, expires: 300);
        Assert.Equal(Tristate.True, Eval("-m conntrack --ctstate DNAT", Tcp(), est));
        Assert.Equal(Tristate.False, Eval("-m conntrack --ctstate SNAT", Tcp(), est));
        Assert.Equal(Tristate.True, Eval("-m conntrack --ctdir REPLY", Tcp(), est));
        Assert.Equal(Tristate.False, Eval("-m conntrack --ctdir ORIGINAL", Tcp(), est));
        Assert.Equal(Tristate.True, Eval("-m conntrack --ctstatus ASSURED", Tcp(), est));
        Assert.Equal(Tristate.False, Eval("-m conntrack --ctstatus EXPECTED", Tcp(), est));
        Assert.Equal(Tristate.True, Eval("-m conntrack --ctorigsrc 10.0.0.0/24 --ctreplsrc 172.17.0.2", Tcp(), est));
        Assert.Equal(Tristate.False, Eval("-m conntrack ! --ctorigdst 192.0.2.7", Tcp(), est));
        Assert.Equal(Tristate.True, Eval("-m conntrack --ctproto tcp --ctorigdstport 80 --ctreplsrcport 80", Tcp(), est));
        Assert.Equal(Tristate.False, Eval("-m conntrack --ctproto udp", Tcp(), est));
        Assert.Equal(Tristate.True, Eval("-m conntrack --ctexpire 200:400", Tcp(), est));
        Assert.Equal(Tristate.False, Eval("-m conntrack --ctexpire 0:299", Tcp(), est));

        // No entry: without --ctstate the match fails whatever else it asks (conntrack_mt returns match_flags & STATE).
        Assert.Equal(Tristate.False, Eval("-m conntrack ! --ctorigsrc 1.2.3.4", Tcp(), Ct(NfCtState.Invalid)));
    }

    private sealed class FakeFib : IXtAddrTypeResolver
    {
        public AddrType TypeOf(IpAddr address, bool isV6, string? device) => address.ToString() switch
        {
            "192.0.2.7" => device is null or "eth1" ? AddrType.Local : AddrType.Unicast,
            "255.255.255.255" => AddrType.Broadcast,
            _ => AddrType.Unicast,
        };
    }

    [Fact]
    public void Addrtype_asks_the_fib()
    {
        var net = new XtNet { AddrTypes = new FakeFib() };
        Assert.Equal(Tristate.True, Eval("-m addrtype --dst-type LOCAL", Tcp(dst: "192.0.2.7"), net: net));
        Assert.Equal(Tristate.False, Eval("-m addrtype --dst-type LOCAL", Tcp(dst: "192.0.2.8"), net: net));
        Assert.Equal(Tristate.True, Eval("-m addrtype --src-type UNICAST --dst-type LOCAL,BROADCAST", Tcp(dst: "192.0.2.7"), net: net));
        Assert.Equal(Tristate.False, Eval("-m addrtype ! --src-type UNICAST", Tcp(), net: net));

        // --limit-iface-in at PREROUTING: the lookup on eth0, where (in this fake) the address is not local.
        var pre = Compile("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL --limit-iface-in -j DNAT --to-destination 10.9.9.9\nCOMMIT\n", "nat", net);
        Assert.Equal(XtVerdict.Accept, Run(pre, Tcp(dst: "192.0.2.7"), NfInetHook.PreRouting, inDev: "eth0").Verdict);
        var (_, _, _, nat, _, _, _) = RunFull(pre, Tcp(dst: "192.0.2.7"), NfInetHook.PreRouting);
        Assert.Equal(XtNatKind.None, nat.Kind);

        // Without a network model the answer is unknown.
        Assert.Equal(Tristate.Unknown, Eval("-m addrtype --dst-type LOCAL", Tcp()));
    }

    [Theory]
    [InlineData("-m iprange --src-range 10.0.0.0-10.0.0.5", Tristate.True)]
    [InlineData("-m iprange --src-range 10.0.0.2-10.0.0.5", Tristate.False)]
    [InlineData("-m iprange ! --src-range 10.0.0.2-10.0.0.5", Tristate.True)]
    [InlineData("-m iprange --dst-range 192.0.2.0-192.0.2.7", Tristate.True)]
    [InlineData("-m iprange --src-range 10.0.0.1-10.0.0.1 ! --dst-range 192.0.2.0-192.0.2.255", Tristate.False)]
    public void Iprange_mt(string spec, Tristate expected) => Assert.Equal(expected, Eval(spec, Tcp(src: "10.0.0.1", dst: "192.0.2.7")));

    [Theory]
    [InlineData("-m length --length 40", Tristate.True)] // 20 + 20, no payload
    [InlineData("-m length --length 41:1500", Tristate.False)]
    [InlineData("-m length ! --length 41:1500", Tristate.True)]
    [InlineData("-m ttl --ttl-eq 64", Tristate.True)]
    [InlineData("-m ttl ! --ttl-eq 64", Tristate.False)]
    [InlineData("-m ttl --ttl-lt 64", Tristate.False)]
    [InlineData("-m ttl --ttl-gt 63", Tristate.True)]
    public void Length_and_ttl(string spec, Tristate expected) => Assert.Equal(expected, Eval(spec, Tcp()));

    [Fact]
    public void Hl_length_on_ipv6()
    {
        var pkt = new TestPacket(Frames.TcpV6("2001:db8::1", 1234, "2001:db8::2", 80));
        Assert.Equal(Tristate.True, Eval("-m hl --hl-eq 63", pkt, family: IptFamily.IPv6));
        Assert.Equal(Tristate.True, Eval("-m hl --hl-lt 64", pkt, family: IptFamily.IPv6));
        Assert.Equal(Tristate.True, Eval("-m length --length 60", pkt, family: IptFamily.IPv6)); // payload_len 20 + 40
    }

    [Fact]
    public void Tos_and_dscp()
    {
        // TOS byte 0xB8: DSCP 46 (EF), ECN 0.
        var ef = WithTos(Tcp(), 0xB8);
        Assert.Equal(Tristate.True, Eval("-m dscp --dscp 0x2e", ef));
        Assert.Equal(Tristate.True, Eval("-m dscp --dscp-class EF", ef));
        Assert.Equal(Tristate.False, Eval("-m dscp --dscp 0x2e", Tcp()));
        Assert.Equal(Tristate.True, Eval("-m dscp ! --dscp 0x2e", Tcp()));
        Assert.Equal(Tristate.True, Eval("-m tos --tos 0xb8/0xfc", WithTos(Tcp(), 0xBB)));
        Assert.Equal(Tristate.False, Eval("-m tos --tos 0xb8/0xff", WithTos(Tcp(), 0xBB)));
        Assert.Equal(Tristate.True, Eval("-m tos --tos Minimize-Delay", WithTos(Tcp(), 0x10)));
    }

    [Fact]
    public void Pkttype_mac_and_physdev()
    {
        Assert.Equal(Tristate.True, Eval("-m pkttype --pkt-type unicast", Tcp(), (ref XtActionParam p) => p.PktType = 0));
        Assert.Equal(Tristate.True, Eval("-m pkttype --pkt-type broadcast", Tcp(), (ref XtActionParam p) => p.PktType = 1));
        Assert.Equal(Tristate.False, Eval("-m pkttype --pkt-type multicast", Tcp(), (ref XtActionParam p) => p.PktType = 1));

        // PACKET_LOOPBACK counts as multicast for a multicast destination, else as broadcast.
        Assert.Equal(Tristate.True, Eval("-m pkttype --pkt-type multicast", Tcp(dst: "224.0.0.251"), (ref XtActionParam p) => p.PktType = 5));
        Assert.Equal(Tristate.True, Eval("-m pkttype --pkt-type broadcast", Tcp(), (ref XtActionParam p) => p.PktType = 5));

        // Frames.MacA is the source of every test frame.
        ParamSetup eth = (ref XtActionParam p) => p.HasMacHeader = true;
        Assert.Equal(Tristate.True, Eval("-m mac --mac-source 02:00:00:00:00:0a", Tcp(), eth));
        Assert.Equal(Tristate.False, Eval("-m mac --mac-source 02:00:00:00:00:0b", Tcp(), eth));
        Assert.Equal(Tristate.True, Eval("-m mac ! --mac-source 02:00:00:00:00:0b", Tcp(), eth));
        Assert.Equal(Tristate.False, Eval("-m mac --mac-source 02:00:00:00:00:0a", Tcp()));

        ParamSetup bridged = (ref XtActionParam p) =>
        {
            p.Bridged = true;
            p.PhysInDev = "veth1";
            p.PhysOutDev = "veth2";
        };
        Assert.Equal(Tristate.True, Eval("-m physdev --physdev-in veth+", Tcp(), bridged));
        Assert.Equal(Tristate.True, Eval("-m physdev --physdev-is-bridged --physdev-out veth2", Tcp(), bridged));
        Assert.Equal(Tristate.False, Eval("-m physdev ! --physdev-in veth1", Tcp(), bridged));
        Assert.Equal(Tristate.False, Eval("-m physdev --physdev-out veth3", Tcp(), bridged));

        // Not bridged: only inverted options can hold (physdev_mt's !nf_bridge_info_exists branch).
        Assert.Equal(Tristate.False, Eval("-m physdev --physdev-is-bridged", Tcp()));
        Assert.Equal(Tristate.True, Eval("-m physdev ! --physdev-is-bridged", Tcp()));
        Assert.Equal(Tristate.True, Eval("-m physdev ! --physdev-in veth1", Tcp()));
    }

    [Fact]
    public void Offline_unknowable_matches_are_unknown()
    {
        Assert.Equal(Tristate.Unknown, Eval("-m owner --uid-owner 1000", Tcp(), hook: NfInetHook.LocalOut));
        Assert.Equal(Tristate.Unknown, Eval("-m socket", Tcp(), hook: NfInetHook.LocalIn));
    }
}
