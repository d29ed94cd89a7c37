using TraceReplay.Tests.Support;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Routing;

namespace TraceReplay.Tests.Netfilter.Routing;

/// <summary>
/// Routing decisions on small hand-written hosts. Each expectation is reasoned from the kernel function the
/// decision mirrors (named beside it); <see cref="KernelWitnessTests"/> checks the same shapes against the
/// real kernel.
/// </summary>
public sealed class RouterTests
{
    private static IpAddr Ip(string s) => IpAddr.Parse(s);

    /// <summary>
    /// A router: lan0 10.1.0.1/24, wan0 192.0.2.1/24, wan1 198.51.100.1/24 (+ IPv6 on lan0/wan0), with the local
    /// table the kernel builds from those addresses (fib_add_ifaddr) and the connected routes.
    /// </summary>
    private const string Addrs = """
        1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
            link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
            inet 127.0.0.1/8 scope host lo
               valid_lft forever preferred_lft forever
            inet6 ::1/128 scope host noprefixroute
               valid_lft forever preferred_lft forever
        2: lan0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000
            link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff
            inet 10.1.0.1/24 brd 10.1.0.255 scope global lan0
               valid_lft forever preferred_lft forever
            inet6 2001:db8:a::1/64 scope global nodad
               valid_lft forever preferred_lft forever
            inet6 fe80::1/64 scope link
               valid_lft forever preferred_lft forever
        3: wan0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group 7 qlen 1000
            link/ether 02:00:00:00:00:02 brd ff:ff:ff:ff:ff:ff
            inet 192.0.2.1/24 brd 192.0.2.255 scope global wan0
               valid_lft forever preferred_lft forever
            inet6 2001:db8:1::1/64 scope global nodad
               valid_lft forever preferred_lft forever
            inet6 fe80::2/64 scope link
               valid_lft forever preferred_lft forever
        4: wan1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000
            link/ether 02:00:00:00:00:03 brd ff:ff:ff:ff:ff:ff
            inet 198.51.100.1/24 brd 198.51.100.255 scope global wan1
               valid_lft forever preferred_lft forever
        """;

    private const string KernelRoutes = """
        10.1.0.0/24 dev lan0 proto kernel scope link src 10.1.0.1
        192.0.2.0/24 dev wan0 proto kernel scope link src 192.0.2.1
        198.51.100.0/24 dev wan1 proto kernel scope link src 198.51.100.1
        local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1
        local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1
        broadcast 127.255.255.255 dev lo table local proto kernel scope link src 127.0.0.1
        local 10.1.0.1 dev lan0 table local proto kernel scope host src 10.1.0.1
        broadcast 10.1.0.255 dev lan0 table local proto kernel scope link src 10.1.0.1
        local 192.0.2.1 dev wan0 table local proto kernel scope host src 192.0.2.1
        broadcast 192.0.2.255 dev wan0 table local proto kernel scope link src 192.0.2.1
        local 198.51.100.1 dev wan1 table local proto kernel scope host src 198.51.100.1
        broadcast 198.51.100.255 dev wan1 table local proto kernel scope link src 198.51.100.1
        2001:db8:a::/64 dev lan0 proto kernel metric 256 pref medium
        2001:db8:1::/64 dev wan0 proto kernel metric 256 pref medium
        fe80::/64 dev lan0 proto kernel metric 256 pref medium
        fe80::/64 dev wan0 proto kernel metric 256 pref medium
        local ::1 dev lo table local proto kernel metric 0 pref medium
        local 2001:db8:a::1 dev lan0 table local proto kernel metric 0 pref medium
        local 2001:db8:1::1 dev wan0 table local proto kernel metric 0 pref medium
        local fe80::1 dev lan0 table local proto kernel metric 0 pref medium
        local fe80::2 dev wan0 table local proto kernel metric 0 pref medium
        multicast ff00::/8 dev lan0 table local proto kernel metric 256 pref medium
        multicast ff00::/8 dev wan0 table local proto kernel metric 256 pref medium
        """;

    private static IpRouter Router(string routes = "", string rules = "", string sysctl = "net.ipv4.ip_forward = 1\nnet.ipv6.conf.all.forwarding = 1\n")
    {
        var devices = DeviceParser.ParseText(Addrs, "addr.txt");
        var all = RouteParser.ParseText(KernelRoutes + "\n" + routes, "route.txt");
        // A rule list without the kernel's default rules gets them, as every `ip rule` dump has them.
        if (rules.Length > 0 && !rules.Contains("lookup local", StringComparison.Ordinal))
            rules = "0:\tfrom all lookup local\n" + rules + "\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n";
        var ruleList = rules.Length == 0 ? [] : RuleParser.ParseText(rules, "rule.txt");
        return new IpRouter(new NetworkConfig(devices, all, ruleList, Sysctls.Parse(sysctl, "sysctl.conf")));
    }

    private static RouteKey In(string src, string dst, string dev, uint mark = 0, byte ttl = 64, byte tos = 0, byte proto = 6) => new()
    {
        Src = Ip(src), Dst = Ip(dst), IsV6 = dst.Contains(':', StringComparison.Ordinal), Dev = dev, Mark = mark, Ttl = ttl, Tos = tos, Protocol = proto,
    };

    private static RouteKey Out(string src, string dst, uint mark = 0, string? oif = null, uint? uid = null) => new()
    {
        Src = Ip(src), Dst = Ip(dst), IsV6 = dst.Contains(':', StringComparison.Ordinal), Mark = mark, Dev = oif, Ttl = 64, Protocol = 6, Uid = uid,
    };

    private const string Default = "default via 192.0.2.254 dev wan0\n";

    [Fact]
    public void Local_broadcast_forward_and_no_route()
    {
        var r = Router(Default);
        // The local table (rule 0) holds every address of the host, whatever the input device (weak host model).
        var local = r.RouteInput(In("10.1.0.5", "192.0.2.1", "lan0"));
        Assert.Equal((RouteVerdict.Local, RouteType.Local, "lo"), (local.Verdict, local.Type, local.OutDev));
        Assert.Equal("local", local.Route!.Table);
        Assert.Equal((RouteVerdict.Local, RouteType.Broadcast), (r.RouteInput(In("10.1.0.5", "10.1.0.255", "lan0")) is var b ? (b.Verdict, b.Type) : default));
        Assert.Equal((RouteVerdict.Local, RouteType.Broadcast), (r.RouteInput(In("10.1.0.5", "255.255.255.255", "lan0")) is var lb ? (lb.Verdict, lb.Type) : default));
        var fwd = r.RouteInput(In("10.1.0.5", "203.0.113.9", "lan0"));
        Assert.Equal((RouteVerdict.Forward, "wan0", Ip("192.0.2.254"), Ip("192.0.2.1")), (fwd.Verdict, fwd.OutDev, fwd.Gateway, fwd.PrefSrc));
        // On-link forward: no gateway, the next hop is the destination.
        var onLink = r.RouteInput(In("192.0.2.9", "10.1.0.7", "wan0"));
        Assert.Equal(("lan0", (IpAddr?)null), (onLink.OutDev, onLink.Gateway));

        // No default route: fib_lookup → -ENETUNREACH → ip_error sends ICMP net unreachable (3/0).
        var none = Router().RouteInput(In("10.1.0.5", "203.0.113.9", "lan0"));
        Assert.Equal((RouteVerdict.Drop, RouteDropReason.NoRoute, true, (byte)3, (byte)0), (none.Verdict, none.DropReason, none.SendsIcmp, none.IcmpType, none.IcmpCode));
    }

    [Fact]
    public void Longest_prefix_then_metric()
    {
        var r = Router(Default + """
            10.2.0.0/16 via 10.1.0.254 dev lan0
            10.2.3.0/24 via 198.51.100.254 dev wan1 metric 20
            10.2.3.0/24 via 198.51.100.253 dev wan1 metric 10
            """);
        Assert.Equal(Ip("10.1.0.254"), r.RouteInput(In("192.0.2.9", "10.2.9.9", "wan0")).Gateway);
        Assert.Equal(Ip("198.51.100.253"), r.RouteInput(In("192.0.2.9", "10.2.3.4", "wan0")).Gateway);
        Assert.Equal(Ip("192.0.2.254"), r.RouteInput(In("10.1.0.9", "10.3.0.1", "lan0")).Gateway);
    }

    [Theory]
    // fib_props: unreachable → -EHOSTUNREACH (ICMP host unreachable 3/1), prohibit → -EACCES (3/13), blackhole → -EINVAL (silent).
    [InlineData("unreachable 10.67.0.0/16", RouteDropReason.RouteUnreachable, true, 1)]
    [InlineData("prohibit 10.67.0.0/16", RouteDropReason.RouteProhibit, true, 13)]
    [InlineData("blackhole 10.67.0.0/16", RouteDropReason.RouteBlackhole, false, 0)]
    public void Route_types_drop_with_their_icmp(string route, RouteDropReason reason, bool icmp, byte code)
    {
        var d = Router(Default + route + "\n").RouteInput(In("10.1.0.5", "10.67.1.1", "lan0"));
        Assert.Equal((RouteVerdict.Drop, reason, icmp), (d.Verdict, d.DropReason, d.SendsIcmp));
        if (icmp)
            Assert.Equal(((byte)3, code), (d.IcmpType, d.IcmpCode));
    }

    [Fact]
    public void Rule_walk_fwmark_not_goto_nop_and_actions()
    {
        var r = Router(Default + """
            default via 198.51.100.254 dev wan1 table 100
            throw 10.2.0.0/16 table 100
            10.2.0.0/16 via 10.1.0.254 dev lan0
            default via 10.1.0.253 dev lan0 table 200
            """, """
            100:	from all fwmark 0x1/0xff lookup 100
            110:	from all to 10.99.0.0/16 unreachable
            111:	from all to 10.98.0.0/16 prohibit
            112:	from all to 10.97.0.0/16 blackhole
            120:	not from 10.0.0.0/8 goto 140
            130:	from all fwmark 0x8 lookup 200
            140:	from all nop
            150:	from all fwmark 0x4 goto 135
            160:	from all iif wan1 lookup 200
            """);
        // fwmark/mask: 0x101 & 0xff == 0x1 selects table 100.
        Assert.Equal("wan1", r.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0", mark: 0x101)).OutDev);
        Assert.Equal("wan0", r.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0", mark: 0x2)).OutDev);
        // A throw route ends table 100's lookup with -EAGAIN: the walk goes on and main's 10.2/16 answers.
        var thrown = r.RouteInput(In("10.1.0.5", "10.2.3.4", "lan0", mark: 0x1));
        Assert.Equal(("main", "lan0"), (thrown.Route!.Table, thrown.OutDev));
        // Rule actions: unreachable → -ENETUNREACH (3/0), prohibit → -EACCES (3/13), blackhole → silent.
        var u = r.RouteInput(In("10.1.0.5", "10.99.0.1", "lan0"));
        Assert.Equal((RouteDropReason.RuleUnreachable, (byte)0, 110u), (u.DropReason, u.IcmpCode, u.Rule!.Priority));
        Assert.Equal((RouteDropReason.RuleProhibit, (byte)13), r.RouteInput(In("10.1.0.5", "10.98.0.1", "lan0")) is var p ? (p.DropReason, p.IcmpCode) : default);
        Assert.Equal((RouteDropReason.RuleBlackhole, false), r.RouteInput(In("10.1.0.5", "10.97.0.1", "lan0")) is var bh ? (bh.DropReason, bh.SendsIcmp) : default);
        // `not from 10/8` jumps sources outside 10/8 over rule 130 (goto 140, a nop): mark 8 from 10/8 takes table 200, from elsewhere main.
        Assert.Equal("200", r.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0", mark: 0x8)).Route!.Table);
        Assert.Equal("main", r.RouteInput(In("192.0.2.9", "8.8.8.8", "wan0", mark: 0x8)).Route!.Table);
        // A goto to a priority no rule holds is unresolved and skipped (fib_rules_lookup: ctarget NULL → continue).
        Assert.Equal("main", r.RouteInput(In("192.0.2.9", "8.8.8.8", "wan0", mark: 0x4)).Route!.Table);
        // iif selects by input device; output routes have iif lo, so rule 160 never matches them.
        Assert.Equal("200", r.RouteInput(In("198.51.100.9", "8.8.8.8", "wan1")).Route!.Table);
        Assert.Equal("main", r.RouteOutput(Out("198.51.100.1", "8.8.8.8")).Route!.Table);
    }

    [Fact]
    public void Goto_target_is_tested_like_any_rule()
    {
        // fib_rules_lookup "goto jumped": the target must itself match; if it does not, the walk continues after it.
        var r = Router(Default + "default via 198.51.100.254 dev wan1 table 100\n", """
            100:	from all goto 200
            150:	from all lookup 100
            200:	from all fwmark 0x5 lookup 100
            """);
        Assert.Equal("main", r.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0")).Route!.Table);
        Assert.Equal("100", r.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0", mark: 5)).Route!.Table);
        // A backward goto (the kernel refuses to add one; a hand-edited rule.json may hold it) is skipped, not looped on.
        var loop = new FibRule[]
        {
            new() { Priority = 0, Table = "local" }, new() { Priority = 10, Action = FibRuleAction.Goto, GotoTarget = 5 },
            new() { Priority = 20, Action = FibRuleAction.Goto, GotoTarget = 20 }, new() { Priority = 32766, Table = "main" },
        };
        var looped = new IpRouter(new NetworkConfig(DeviceParser.ParseText(Addrs, "a"), RouteParser.ParseText(KernelRoutes + "\n" + Default, "r"), loop,
            Sysctls.Parse("net.ipv4.ip_forward = 1\n", "s")));
        Assert.Equal("wan0", looped.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0")).OutDev);
    }

    [Fact]
    public void Suppress_prefixlength_and_ifgroup()
    {
        var r = Router(Default + "10.2.0.0/16 via 10.1.0.254 dev lan0\ndefault via 198.51.100.254 dev wan1 table 100\n", """
            99:	from all fwmark 0x1 lookup main suppress_ifgroup 7
            100:	from all fwmark 0x1 lookup 100
            105:	from all lookup main suppress_prefixlength 0
            110:	from all lookup 100
            """);
        // The main default (prefix 0) is refused by rule 105, so table 100's default answers; the /16 is kept.
        Assert.Equal("wan1", r.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0")).OutDev);
        Assert.Equal("lan0", r.RouteInput(In("192.0.2.5", "10.2.0.9", "wan0")).OutDev);
        // wan0 is in device group 7: rule 99 refuses main's wan0 route for marked packets and rule 100 answers.
        Assert.Equal("100", r.RouteInput(In("10.1.0.5", "192.0.2.77", "lan0", mark: 1)).Route!.Table);
    }

    [Fact]
    public void Tos_ipproto_uidrange_and_l3mdev_selectors()
    {
        var r = Router(Default + "default via 198.51.100.254 dev wan1 table 100\n", """
            100:	from all tos 0x10 lookup 100
            101:	from all ipproto udp to 10.96.0.0/16 lookup 100
            102:	from all uidrange 1000-1999 lookup 100
            103:	from all lookup [l3mdev-table]
            """);
        // fib4_rule_match compares the rule's TOS under IPTOS_RT_MASK (0x1c): 0x12 → 0x10 matches.
        Assert.Equal("100", r.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0", tos: 0x12)).Route!.Table);
        Assert.Equal("main", r.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0", tos: 0x08)).Route!.Table);
        Assert.Equal("100", r.RouteInput(In("10.1.0.5", "10.96.0.1", "lan0", proto: 17)).Route!.Table);
        Assert.Equal("main", r.RouteInput(In("10.1.0.5", "10.96.0.1", "lan0", proto: 6)).Route!.Table);
        // Input routes run as uid 0 (sock_net_uid(net, NULL)); a captured host packet's uid is unknown and says so.
        var known = r.RouteOutput(Out("192.0.2.1", "8.8.8.8", uid: 1500));
        Assert.Equal("100", known.Route!.Table);
        var unknown = r.RouteOutput(Out("192.0.2.1", "8.8.8.8"));
        Assert.Equal("main", unknown.Route!.Table);
        Assert.True((unknown.Notes & RouteNotes.UidUnknown) != 0);
        Assert.True((unknown.Notes & RouteNotes.L3mdevUnsupported) != 0);
        Assert.Equal(RouteNotes.L3mdevUnsupported, r.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0")).Notes);
    }

    [Fact]
    public void Rp_filter_strict_loose_and_off_with_asymmetric_routes()
    {
        // 203.0.113.0/24 is reached by wan1, but its packets arrive on wan0 (asymmetric routing).
        string routes = Default + "203.0.113.0/24 via 198.51.100.254 dev wan1\nunreachable 100.64.0.0/10\n";
        IpRouter With(int rp) => Router(routes, sysctl: $"net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.rp_filter = 0\nnet.ipv4.conf.wan0.rp_filter = {rp}\n");
        var strict = With(1).RouteInput(In("203.0.113.5", "10.1.0.9", "wan0"));
        Assert.Equal((RouteVerdict.Drop, RouteDropReason.RpFilter, false), (strict.Verdict, strict.DropReason, strict.SendsIcmp));
        // Strict applies to local delivery too (reverse lookup with iif lo).
        Assert.Equal(RouteDropReason.RpFilter, With(1).RouteInput(In("203.0.113.5", "192.0.2.1", "wan0")).DropReason);
        // Symmetric source: the reverse route (default via wan0) leaves by wan0.
        Assert.Equal(RouteVerdict.Forward, With(1).RouteInput(In("8.8.8.8", "10.1.0.9", "wan0")).Verdict);
        // Loose: any unicast reverse route will do; none (unreachable) fails with -EXDEV.
        Assert.Equal(RouteVerdict.Forward, With(2).RouteInput(In("203.0.113.5", "10.1.0.9", "wan0")).Verdict);
        Assert.Equal(RouteDropReason.RpFilter, With(2).RouteInput(In("100.64.0.5", "10.1.0.9", "wan0")).DropReason);
        // Off: both pass (__fib_validate_source's last_resort accepts when rpf is 0).
        Assert.Equal(RouteVerdict.Forward, With(0).RouteInput(In("203.0.113.5", "10.1.0.9", "wan0")).Verdict);
        Assert.Equal(RouteVerdict.Forward, With(0).RouteInput(In("100.64.0.5", "10.1.0.9", "wan0")).Verdict);
        // IN_DEV_MAXCONF: conf.all = 2 makes every device at least loose.
        var allLoose = Router(routes, sysctl: "net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.rp_filter = 2\n");
        Assert.Equal(RouteDropReason.RpFilter, allLoose.RouteInput(In("100.64.0.5", "10.1.0.9", "lan0")).DropReason);
    }

    [Fact]
    public void Martians()
    {
        var r = Router(Default);
        RouteDropReason Reason(string src, string dst, string dev = "lan0") => r.RouteInput(In(src, dst, dev)).DropReason;
        Assert.Equal(RouteDropReason.MartianSource, Reason("224.0.0.5", "10.1.0.1"));
        Assert.Equal(RouteDropReason.MartianSource, Reason("255.255.255.255", "10.1.0.1"));
        Assert.Equal(RouteDropReason.MartianSource, Reason("0.0.0.0", "10.1.0.1"));
        Assert.Equal(RouteDropReason.MartianDestination, Reason("10.1.0.5", "0.0.0.0"));
        Assert.Equal(RouteDropReason.MartianDestination, Reason("10.1.0.5", "127.0.0.1"));
        Assert.Equal(RouteDropReason.MartianSource, Reason("127.0.0.1", "10.1.0.1"));
        // fib_validate_source without rp_filter and custom rules: this host's own address as a source is a martian.
        Assert.Equal(RouteDropReason.MartianSource, Reason("192.0.2.1", "10.1.0.1"));
        // 0.0.0.0 → 255.255.255.255 (DHCP discover) is a broadcast, not a martian.
        Assert.Equal(RouteType.Broadcast, r.RouteInput(In("0.0.0.0", "255.255.255.255", "lan0")).Type);
        // route_localnet on the device lets 127/8 in.
        var localnet = Router(Default, sysctl: "net.ipv4.ip_forward = 1\nnet.ipv4.conf.lan0.route_localnet = 1\n");
        Assert.Equal(RouteVerdict.Local, localnet.RouteInput(In("10.1.0.5", "127.0.0.1", "lan0")).Verdict);
        Assert.Equal(RouteDropReason.MartianDestination, localnet.RouteInput(In("192.0.2.5", "127.0.0.1", "wan0")).DropReason);
    }

    [Fact]
    public void Forwarding_disabled_ttl_and_packet_type()
    {
        var off = Router(Default, sysctl: "net.ipv4.ip_forward = 0\n");
        var d = off.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0"));
        // ip_route_input_slow: !IN_DEV_FORWARD → -EHOSTUNREACH; ip_error sends nothing when the device does not forward.
        Assert.Equal((RouteVerdict.Drop, RouteDropReason.ForwardingDisabled, false), (d.Verdict, d.DropReason, d.SendsIcmp));
        Assert.Equal((RouteDropReason.NoRoute, false), Router(sysctl: "net.ipv4.ip_forward = 0\n").RouteInput(In("10.1.0.5", "8.8.8.8", "lan0")) is var n ? (n.DropReason, n.SendsIcmp) : default);
        Assert.Equal(RouteVerdict.Local, off.RouteInput(In("10.1.0.5", "192.0.2.1", "lan0")).Verdict);
        // Per-device forwarding: only lan0 forwards.
        var perDev = Router(Default, sysctl: "net.ipv4.ip_forward = 0\nnet.ipv4.conf.all.forwarding = 0\nnet.ipv4.conf.lan0.forwarding = 1\nnet.ipv4.conf.wan0.forwarding = 0\n");
        Assert.Equal(RouteVerdict.Forward, perDev.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0")).Verdict);
        Assert.Equal(RouteDropReason.ForwardingDisabled, perDev.RouteInput(In("192.0.2.5", "10.1.0.7", "wan0")).DropReason);
        // An ip_forward override (--sysctl) after the snapshot rewrites every device, as writing ip_forward does.
        var cfg = new NetworkConfig(DeviceParser.ParseText(Addrs, "a"), RouteParser.ParseText(KernelRoutes + "\n" + Default, "r"), [],
            Sysctls.Parse("net.ipv4.ip_forward = 0\nnet.ipv4.conf.all.forwarding = 0\nnet.ipv4.conf.wan0.forwarding = 0\n", "s"));
        cfg.Sysctls.Set("net.ipv4.ip_forward", "1");
        Assert.Equal(RouteVerdict.Forward, new IpRouter(cfg).RouteInput(In("192.0.2.5", "10.1.0.7", "wan0")).Verdict);

        // ip_forward checks TTL before the FORWARD hook: TTL 1 is dropped with ICMP time exceeded (11/0)…
        var r = Router(Default);
        var ttl = r.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0", ttl: 1));
        Assert.Equal((RouteDropReason.TtlExceeded, true, (byte)11, (byte)0), (ttl.DropReason, ttl.SendsIcmp, ttl.IcmpType, ttl.IcmpCode));
        Assert.Equal(RouteVerdict.Forward, r.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0", ttl: 2)).Verdict);
        // …but local delivery does not look at the TTL.
        Assert.Equal(RouteVerdict.Local, r.RouteInput(In("10.1.0.5", "10.1.0.1", "lan0", ttl: 1)).Verdict);
        // A frame that was link-layer broadcast is not forwarded (skb->pkt_type != PACKET_HOST).
        Assert.Equal(RouteDropReason.NotHost, r.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0") with { PacketType = PacketType.Broadcast }).DropReason);
    }

    [Fact]
    public void Redirect_when_forwarding_back_out_the_input_link()
    {
        // __mkroute_input: out device == in device, the source on a direct route of it, send_redirects → ICMP redirect.
        string routes = Default + "10.2.0.0/16 via 10.1.0.254 dev lan0\n";
        var r = Router(routes);
        var back = r.RouteInput(In("10.1.0.5", "10.2.0.9", "lan0"));
        Assert.Equal((RouteVerdict.Forward, "lan0", true), (back.Verdict, back.OutDev, back.SendsRedirect));
        Assert.False(r.RouteInput(In("192.0.2.9", "10.2.0.9", "wan0")).SendsRedirect);
        // A source reached through a gateway is not on the link: no redirect.
        Assert.False(Router(routes + "10.7.0.0/16 via 10.1.0.253 dev lan0\n").RouteInput(In("10.7.0.5", "10.2.0.9", "lan0")).SendsRedirect);
        Assert.False(Router(routes, sysctl: "net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.send_redirects = 0\nnet.ipv4.conf.lan0.send_redirects = 0\n")
            .RouteInput(In("10.1.0.5", "10.2.0.9", "lan0")).SendsRedirect);
    }

    [Fact]
    public void Multipath_is_deterministic_and_weighted()
    {
        var r = Router("default proto static\n\tnexthop via 192.0.2.254 dev wan0 weight 3\n\tnexthop via 198.51.100.254 dev wan1 weight 1\n");
        var first = r.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0"));
        Assert.True((first.Notes & RouteNotes.MultipathGuess) != 0);
        Assert.Equal(first.OutDev, r.RouteInput(In("10.1.0.5", "8.8.8.8", "lan0")).OutDev);
        int wan0 = 0;
        const int Flows = 4000;
        for (int i = 0; i < Flows; i++)
        {
            var res = r.RouteInput(new RouteKey { Src = IpAddr.FromV4(0x0A010000u + (uint)i), Dst = Ip("8.8.8.8"), Dev = "lan0", Ttl = 64 });
            if (res.OutDev == "wan0")
                wan0++;
        }
        // fib_rebalance gives wan0 3/4 of the hash space.
        Assert.InRange(wan0 / (double)Flows, 0.70, 0.80);
    }

    [Fact]
    public void Output_routes_source_selection_and_reroute()
    {
        var r = Router(Default + "100.64.0.0/10 via 198.51.100.254 dev wan1 src 198.51.100.1\ndefault via 198.51.100.254 dev wan1 table 100\n", """
            0:	from all lookup local
            100:	from all fwmark 0x1 lookup 100
            32766:	from all lookup main
            """);
        var o = r.RouteOutput(Out("0.0.0.0", "8.8.8.8"));
        Assert.Equal((RouteVerdict.Output, "wan0", Ip("192.0.2.254"), Ip("192.0.2.1")), (o.Verdict, o.OutDev, o.Gateway, o.PrefSrc));
        Assert.Equal(Ip("198.51.100.1"), r.RouteOutput(Out("0.0.0.0", "100.64.0.1")).PrefSrc);
        Assert.Equal((RouteVerdict.Local, "lo"), r.RouteOutput(Out("10.1.0.1", "192.0.2.1")) is var l ? (l.Verdict, l.OutDev) : default);
        // A mark set in mangle OUTPUT re-routes by rule 100 (ip_route_me_harder).
        Assert.Equal("wan1", r.RouteMeHarder(Out("192.0.2.1", "8.8.8.8", mark: 1)).OutDev);
        // A source that is not this host's: refused for a socket (-ENETUNREACH), allowed when re-routing (FLOWI_FLAG_ANYSRC).
        Assert.Equal(RouteDropReason.OutputSourceNotLocal, r.RouteOutput(Out("10.9.9.9", "8.8.8.8")).DropReason);
        Assert.Equal(RouteVerdict.Output, r.RouteMeHarder(Out("10.9.9.9", "8.8.8.8")).Verdict);
        // __mkroute_output: a 127/8 source may not leave by a non-loopback device.
        Assert.Equal(RouteDropReason.OutputInvalidSource, r.RouteMeHarder(Out("127.0.0.1", "8.8.8.8")).DropReason);
        // A bound device (SO_BINDTODEVICE) keeps the packet on it; with no route it is assumed on link.
        var bound = Router().RouteOutput(Out("198.51.100.1", "8.8.8.8", oif: "wan1"));
        Assert.Equal((RouteVerdict.Output, "wan1", (IpAddr?)null), (bound.Verdict, bound.OutDev, bound.Gateway));
        Assert.Equal(RouteDropReason.NoRoute, Router().RouteOutput(Out("198.51.100.1", "8.8.8.8")).DropReason);
        // MASQUERADE's source: inet_select_addr on the output device toward the next hop.
        Assert.Equal(Ip("192.0.2.1"), r.SelectSourceAddress("wan0", Ip("192.0.2.254")));
    }

    [Fact]
    public void Ipv6_local_forward_link_local_and_errors()
    {
        var r = Router("default via 2001:db8:1::fe dev wan0 metric 1024 pref medium\nunreachable 2001:db8:66::/48 dev lo metric 1024 pref medium\n"
            + "prohibit 2001:db8:67::/48 dev lo metric 1024 pref medium\nblackhole 2001:db8:68::/48 dev lo metric 1024 pref medium\n");
        Assert.Equal(RouteVerdict.Local, r.RouteInput(In("2001:db8:a::5", "2001:db8:1::1", "lan0")).Verdict);
        var f = r.RouteInput(In("2001:db8:a::5", "2a00::1", "lan0"));
        Assert.Equal((RouteVerdict.Forward, "wan0", Ip("2001:db8:1::fe")), (f.Verdict, f.OutDev, f.Gateway));
        // Link-local destinations are looked up on the input interface only (rt6_need_strict).
        Assert.Equal(RouteVerdict.Local, r.RouteInput(In("fe80::99", "fe80::1", "lan0")).Verdict);
        // ip6_forward refuses a link-local source leaving by another device: ICMPv6 beyond scope (1/2).
        var ll = r.RouteInput(In("fe80::99", "2a00::1", "lan0"));
        Assert.Equal((RouteDropReason.ForwardSourceScope, (byte)1, (byte)2), (ll.DropReason, ll.IcmpType, ll.IcmpCode));
        // Hop limit ≤ 1: ICMPv6 time exceeded (3/0).
        var hl = r.RouteInput(In("2001:db8:a::5", "2a00::1", "lan0", ttl: 1));
        Assert.Equal((RouteDropReason.TtlExceeded, (byte)3, (byte)0), (hl.DropReason, hl.IcmpType, hl.IcmpCode));
        // ip6_rt_init_dst_reject: unreachable → ICMPv6 no route (1/0), prohibit → administratively prohibited (1/1), blackhole → silent.
        Assert.Equal((RouteDropReason.RouteUnreachable, (byte)1, (byte)0), r.RouteInput(In("2001:db8:a::5", "2001:db8:66::1", "lan0")) is var u ? (u.DropReason, u.IcmpType, u.IcmpCode) : default);
        Assert.Equal((RouteDropReason.RouteProhibit, (byte)1, (byte)1), r.RouteInput(In("2001:db8:a::5", "2001:db8:67::1", "lan0")) is var p ? (p.DropReason, p.IcmpType, p.IcmpCode) : default);
        Assert.Equal((RouteDropReason.RouteBlackhole, false), r.RouteInput(In("2001:db8:a::5", "2001:db8:68::1", "lan0")) is var b ? (b.DropReason, b.SendsIcmp) : default);
        // All-nodes multicast is joined on every device; another group's membership is unknown offline.
        var allNodes = r.RouteInput(In("fe80::99", "ff02::1", "lan0", proto: 58));
        Assert.Equal((RouteVerdict.Local, RouteType.Multicast, RouteNotes.None), (allNodes.Verdict, allNodes.Type, allNodes.Notes));
        Assert.Equal(RouteNotes.MulticastMembershipUnknown, r.RouteInput(In("fe80::99", "ff02::fb", "lan0", proto: 17)).Notes);
        // forwarding=0: ip6_forward drops before the FORWARD hook, without ICMPv6.
        var off = Router("default via 2001:db8:1::fe dev wan0 metric 1024 pref medium\n", sysctl: "net.ipv6.conf.all.forwarding = 0\n");
        Assert.Equal((RouteDropReason.ForwardingDisabled, false), off.RouteInput(In("2001:db8:a::5", "2a00::1", "lan0")) is var o ? (o.DropReason, o.SendsIcmp) : default);
        // Output without a bound device: the documented guess, the link-local route of the device holding the source.
        Assert.Equal("wan0", r.RouteOutput(Out("fe80::2", "fe80::77")).OutDev);
        Assert.Equal("lan0", r.RouteOutput(Out("fe80::1", "fe80::77")).OutDev);
        Assert.Equal(RouteDropReason.MartianSource, r.Ip6RcvCoreCheck(Ip("ff02::1"), Ip("2001:db8:1::1"), "wan0"));
        Assert.Equal(RouteDropReason.MartianDestination, r.Ip6RcvCoreCheck(Ip("2001:db8::9"), Ip("::1"), "wan0"));
        Assert.Equal(RouteDropReason.None, r.Ip6RcvCoreCheck(Ip("2001:db8::9"), Ip("2001:db8:1::1"), "wan0"));
    }

    [Fact]
    public void Decisions_allocate_nothing()
    {
        var r = Router(Default + "default proto static\n\tnexthop via 192.0.2.254 dev wan0\n\tnexthop via 198.51.100.254 dev wan1\n",
            "0:\tfrom all lookup local\n100:\tfrom all fwmark 0x1 lookup 100\n32766:\tfrom all lookup main\n",
            sysctl: "net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.rp_filter = 1\n");
        var keys = new[]
        {
            In("10.1.0.5", "8.8.8.8", "lan0"), In("10.1.0.5", "10.1.0.1", "lan0"), In("192.0.2.9", "10.1.0.7", "wan0"),
            In("203.0.113.5", "10.1.0.7", "lan0"), In("10.1.0.5", "10.1.0.255", "lan0"), In("2001:db8:a::5", "2001:db8:1::1", "lan0"),
            // Interface-restricted IPv6 lookups: link-local and multicast destinations (NDP, mDNS).
            In("fe80::99", "fe80::1", "lan0"), In("fe80::99", "ff02::1", "wan0"), In("fe80::99", "fe80::5", "wan0"),
        };
        var outKey = Out("192.0.2.1", "8.8.8.8", mark: 1);
        int sink = 0;
        for (int i = 0; i < 100; i++)
        {
            foreach (var k in keys)
                sink += (int)r.RouteInput(k).Verdict;
            sink += (int)r.RouteOutput(outKey).Verdict;
        }
        Assert.Equal(0, Allocations.Quietest(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                foreach (var k in keys)
                    sink += (int)r.RouteInput(k).Verdict;
                sink += (int)r.RouteOutput(outKey).Verdict;
            }
        }));
        Assert.True(sink > 0);
    }
}
