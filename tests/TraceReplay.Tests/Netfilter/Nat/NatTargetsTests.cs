using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;

namespace TraceReplay.Tests.Netfilter.Nat;

/// <summary>
/// MASQUERADE, REDIRECT and NETMAP: the range each hands to nf_nat_setup_info. Expectations follow
/// nf_nat_masquerade.c, nf_nat_redirect.c and xt_NETMAP.c as cited on each test; MASQUERADE picking
/// the output device's address (192.0.2.1 on r1) was also witnessed (see <see cref="NatCoreTests"/>).
/// </summary>
public sealed class NatTargetsTests
{
    private static IpAddr Ip(string s) => IpAddr.Parse(s);

    private static NetworkConfig Host() => new(DeviceParser.ParseText("""
        1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
            inet 127.0.0.1/8 scope host lo
            inet6 ::1/128 scope host
        2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group default qlen 1000
            inet 203.0.113.5/24 brd 203.0.113.255 scope global eth0
            inet 198.51.100.5/24 brd 198.51.100.255 scope global eth0
            inet6 2001:db8::5/64 scope global
            inet6 fe80::5/64 scope link
        3: docker0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default
            inet 172.17.0.1/16 brd 172.17.255.255 scope global docker0
        4: eth9: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group default qlen 1000
        """, "ip-addr.txt"), [], []);

    private static readonly NfNatRange2 NoRange = default;

    [Fact]
    public void Masquerade_takes_the_output_devices_address_for_the_next_hop()
    {
        // nf_nat_masquerade_ipv4: inet_select_addr(out, nexthop, RT_SCOPE_UNIVERSE), ports and flags kept.
        var net = Host();
        var tcp = new NfConntrackTuple(Ip("172.17.0.2"), Ip("192.0.2.9"), 40000, 443, NfNatTuple.Tcp, false);
        var ports = new NfNatRange2(NfNatRangeFlags.ProtoSpecified | NfNatRangeFlags.ProtoRandomFully, default, default, 30000, 30999, 0);
        Assert.Equal(NatVerdict.Accept, NfNatTargets.Masquerade(ports, tcp, net, "eth0", Ip("198.51.100.1"), out var r));
        Assert.Equal((Ip("198.51.100.5"), Ip("198.51.100.5")), (r.MinAddr, r.MaxAddr));
        Assert.Equal(NfNatRangeFlags.MapIps | NfNatRangeFlags.ProtoSpecified | NfNatRangeFlags.ProtoRandomFully, r.Flags);
        Assert.Equal((30000, 30999), (r.MinProto, r.MaxProto));
        NfNatTargets.Masquerade(NoRange, tcp, net, "eth0", Ip("192.0.2.1"), out r);
        Assert.Equal(Ip("203.0.113.5"), r.MinAddr);

        // Source 0.0.0.0: no binding from the rule (the hook null-binds).
        Assert.Equal(NatVerdict.Accept, NfNatTargets.Masquerade(NoRange, tcp with { Src = Ip("0.0.0.0") }, net, "eth0", Ip("192.0.2.1"), out r));
        Assert.False(r.MapsIps);

        // No address anywhere: dropped ("ate my IP address").
        var bare = new NetworkConfig([], [], []);
        Assert.Equal(NatVerdict.DropNoAddress, NfNatTargets.Masquerade(NoRange, tcp, bare, "eth9", Ip("192.0.2.1"), out _));

        // IPv6: the device's primary global address.
        var v6 = new NfConntrackTuple(Ip("fd00::2"), Ip("2001:db8:1::1"), 1, 2, NfNatTuple.Udp, true);
        Assert.Equal(NatVerdict.Accept, NfNatTargets.Masquerade(NoRange, v6, net, "eth0", Ip("2001:db8:1::1"), out r));
        Assert.Equal(Ip("2001:db8::5"), r.MinAddr);
    }

    [Fact]
    public void Masquerade_end_to_end_sets_up_and_rewrites()
    {
        var core = new NfNatCore();
        var ct = new FakeConntrack();
        var original = new NfConntrackTuple(Ip("172.17.0.2"), Ip("192.0.2.9"), 40000, 443, NfNatTuple.Tcp, false);
        Assert.Equal(NatVerdict.Accept, NfNatTargets.Masquerade(NoRange, original, Host(), "eth0", Ip("203.0.113.1"), out var range));
        var reply = NfNatTuple.Invert(original);
        var status = CtStatus.None;
        var taken = ct.AsTaken();
        Assert.Equal(NatVerdict.Accept, core.SetupInfo(ref taken, original, ref reply, ref status, range, NfNatManipType.Src));
        Assert.Equal(new NfConntrackTuple(Ip("192.0.2.9"), Ip("203.0.113.5"), 443, 40000, NfNatTuple.Tcp, false), reply);

        var frame = Support.Frames.TcpV4("172.17.0.2", 40000, "192.0.2.9", 443);
        PacketDecoder.Decode(frame, TraceReplay.Capture.LinkType.Ethernet, frame.Length, out var d);
        Assert.Equal(NatVerdict.Accept, NfNatProto.Packet(frame, d, original, reply, status, NfNatManipType.Src, CtDirection.Original));
        Assert.Equal(Ip("203.0.113.5"), IpAddr.ReadV4(frame.AsSpan(14 + 12)));
    }

    [Fact]
    public void Redirect_goes_to_loopback_locally_and_to_the_input_devices_first_address()
    {
        var net = Host();
        // nf_nat_redirect_ipv4: LOCAL_OUT → 127.0.0.1; PRE_ROUTING → the head of the input device's
        // ifa_list, not the address of the sender's subnet. Witnessed on Linux 6.18: r0 with 10.0.5.1/24
        // added before 10.0.1.1/24, `-A PREROUTING -i r0 -p udp --dport 7000 -j REDIRECT --to-ports 7777`,
        // UDP from 10.0.1.2 → conntrack reply src=10.0.5.1 sport=7777.
        Assert.Equal(NatVerdict.Accept, NfNatTargets.Redirect(NoRange, false, NfInetHook.LocalOut, net, null, Ip("192.0.2.9"), out var r));
        Assert.Equal(Ip("127.0.0.1"), r.MinAddr);
        Assert.Equal(NatVerdict.Accept, NfNatTargets.Redirect(NoRange, true, NfInetHook.LocalOut, net, null, Ip("2001:db8::9"), out r));
        Assert.Equal(Ip("::1"), r.MinAddr);
        var ports = new NfNatRange2(NfNatRangeFlags.ProtoSpecified, default, default, 3128, 3128, 0);
        Assert.Equal(NatVerdict.Accept, NfNatTargets.Redirect(ports, false, NfInetHook.PreRouting, net, "eth0", Ip("198.51.100.80"), out r));
        Assert.Equal((Ip("203.0.113.5"), NfNatRangeFlags.MapIps | NfNatRangeFlags.ProtoSpecified, (ushort)3128), (r.MinAddr, r.Flags, r.MinProto));
        Assert.Equal(NatVerdict.Accept, NfNatTargets.Redirect(NoRange, false, NfInetHook.PreRouting, net, "docker0", Ip("172.17.0.1"), out r));
        Assert.Equal(Ip("172.17.0.1"), r.MinAddr);
        // nf_nat_redirect_ipv6: the first address of the destination's scope.
        Assert.Equal(NatVerdict.Accept, NfNatTargets.Redirect(NoRange, true, NfInetHook.PreRouting, net, "eth0", Ip("2001:db8::80"), out r));
        Assert.Equal(Ip("2001:db8::5"), r.MinAddr);
        Assert.Equal(NatVerdict.Accept, NfNatTargets.Redirect(NoRange, true, NfInetHook.PreRouting, net, "eth0", Ip("fe80::80"), out r));
        Assert.Equal(Ip("fe80::5"), r.MinAddr);
        // No address on the input device: NF_DROP.
        Assert.Equal(NatVerdict.DropNoAddress, NfNatTargets.Redirect(NoRange, false, NfInetHook.PreRouting, net, "eth9", Ip("192.0.2.9"), out _));
        Assert.Equal(NatVerdict.DropNoAddress, NfNatTargets.Redirect(NoRange, true, NfInetHook.PreRouting, net, "docker0", Ip("2001:db8::9"), out _));
    }

    [Fact]
    public void Netmap_maps_prefix_to_prefix_keeping_host_bits()
    {
        // xt_NETMAP.c: netmask = ~(min ^ max); new = (addr & ~netmask) | (min & netmask); the
        // destination at PREROUTING/OUTPUT, the source at POSTROUTING/INPUT.
        var to = new NfNatRange2(NfNatRangeFlags.MapIps, Ip("192.168.5.0"), Ip("192.168.5.255"), 0, 0, 0);
        var r = NfNatTargets.Netmap(to, NfInetHook.PreRouting, Ip("10.9.9.9"), Ip("10.0.1.77"));
        Assert.Equal((Ip("192.168.5.77"), Ip("192.168.5.77")), (r.MinAddr, r.MaxAddr));
        r = NfNatTargets.Netmap(to, NfInetHook.PostRouting, Ip("10.0.1.78"), Ip("10.9.9.9"));
        Assert.Equal(Ip("192.168.5.78"), r.MinAddr);
        var to6 = new NfNatRange2(NfNatRangeFlags.MapIps, Ip("2001:db8:aa::"), Ip("2001:db8:aa::ffff:ffff:ffff:ffff"), 0, 0, 0);
        r = NfNatTargets.Netmap(to6, NfInetHook.LocalOut, Ip("fd00::1"), Ip("fd00:0:0:7::1:2"));
        Assert.Equal(Ip("2001:db8:aa::1:2"), r.MinAddr);

        // The whole /24 goes through the core as a single-address range, so it is 1:1.
        var core = new NfNatCore();
        var ct = new FakeConntrack();
        var original = new NfConntrackTuple(Ip("172.16.0.4"), Ip("10.0.1.77"), 999, 80, NfNatTuple.Tcp, false);
        var reply = NfNatTuple.Invert(original);
        var status = CtStatus.None;
        var taken = ct.AsTaken();
        core.SetupInfo(ref taken, original, ref reply, ref status, NfNatTargets.Netmap(to, NfInetHook.PreRouting, original.Src, original.Dst), NfNatManipType.Dst);
        Assert.Equal(Ip("192.168.5.77"), reply.Src);
        Assert.Equal(80, reply.SrcPort);
    }
}
