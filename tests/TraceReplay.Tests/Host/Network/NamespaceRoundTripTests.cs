using System.Diagnostics;
using System.Globalization;
using TraceReplay.Host.Network;

namespace TraceReplay.Tests.Host.Network;

/// <summary>
/// The real iproute2 against the parsers: a network namespace gets addresses, routes and rules of every
/// kind; `ip -j …` and the text form of the same command must parse to the same model, and the model
/// must hold what was configured. Needs root; the namespace is deleted afterwards and sends nothing anywhere.
/// </summary>
public sealed class NamespaceRoundTripTests : IDisposable
{
    private readonly string _ns = "trnetcfg" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
    private bool _created;

    private static string Run(string file, string args, bool check = true)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (check && p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {args}: exit {p.ExitCode}: {stderr}");
        return stdout;
    }

    private string Ip(string args, bool check = true) => Run("ip", $"-n {_ns} {args}", check);

    private void Setup()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
            Assert.Skip("needs root on Linux to create a network namespace");
        try
        {
            Run("ip", "-V");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Skip("iproute2 (ip) is not installed");
        }
        Run("ip", $"netns add {_ns}");
        _created = true;
        string[] commands =
        [
            "link set lo up",
            "link add d0 type veth peer name d0p", "link set d0 up", "link set d0p up",
            "link add br0 type bridge", "link add v0 type veth peer name v1", "link set v0 master br0", "link set br0 up",
            "addr add 10.0.0.1/24 dev d0", "addr add 10.0.0.2/24 dev d0", "addr add 10.9.0.1 peer 10.9.0.2/32 dev d0",
            "addr add 10.5.0.1/24 brd + dev d0p label d0p:web noprefixroute", "addr add 2001:db8::1/64 dev d0 nodad",
            "addr add 172.16.0.1/16 dev br0",
            "route add 192.0.2.0/24 via 10.0.0.254 metric 10", "route add 192.0.2.0/24 via 10.0.0.253 metric 20",
            "route add blackhole 198.51.100.0/24", "route add unreachable 198.51.101.0/24", "route add prohibit 198.51.102.0/24",
            "route add throw 198.51.103.0/24 table 100", "route add 203.0.113.0/24 nexthop via 10.0.0.253 weight 2 nexthop via 10.0.0.252",
            "route add default via 10.0.0.254 table 100 proto static", "route add 2001:db8:1::/48 via 2001:db8::ff",
            "route add local 192.0.2.77 dev lo table 100", "route add broadcast 10.0.0.127 dev d0 table 100",
            "route add 192.0.2.128/25 dev d0 src 10.0.0.2 scope link", "route add unreachable 2001:db8:dead::/48",
            "rule add fwmark 0x10/0xff lookup 100 pref 100", "rule add from 10.0.0.0/8 to 192.0.2.0/24 iif d0 table 100 pref 101",
            "rule add not from 10.0.0.0/8 goto 32766 pref 102", "rule add tos 0x10 blackhole pref 103",
            "rule add uidrange 1000-2000 lookup main suppress_prefixlength 0 pref 104", "rule add oif d0 prohibit pref 105",
            "rule add unreachable pref 106", "rule add l3mdev pref 107", "rule add fwmark 7 lookup 200 pref 108",
        ];
        foreach (var c in commands)
            Ip(c);
        // VLAN and dummy devices need kernel modules this machine may lack; use them when they load.
        if (Ip("link add link d0 name d0.100 type vlan id 100", check: false).Length >= 0 && Ip("link show d0.100", check: false).Length > 0)
            Ip("link set d0.100 up");
    }

    public void Dispose()
    {
        if (_created)
            Run("ip", $"netns del {_ns}", check: false);
    }

    [Fact]
    public void Json_and_text_forms_parse_to_the_same_model()
    {
        Setup();
        // Addresses: `ip -j addr` vs `ip addr`.
        var jsonAddr = DeviceParser.ParseJson(Ip("-j addr"), "addr.json");
        var textAddr = DeviceParser.ParseText(Ip("addr"), "ip-addr.txt");
        Assert.Equal(jsonAddr.Count, textAddr.Count);
        for (int i = 0; i < jsonAddr.Count; i++)
        {
            var (j, t) = (jsonAddr[i], textAddr[i]);
            Assert.Equal((j.IfIndex, j.Name, j.Mac, j.Mtu, j.Master, j.Link, j.OperState, j.Group), (t.IfIndex, t.Name, t.Mac, t.Mtu, t.Master, t.Link, t.OperState, t.Group));
            Assert.Equal(j.Flags, t.Flags);
            Assert.Equal(j.Addresses, t.Addresses);
        }
        // Links with details: kinds and VLAN ids agree.
        var jsonLink = DeviceParser.ParseJson(Ip("-j -d link"), "link.json");
        var textLink = DeviceParser.ParseText(Ip("-d link"), "ip-link.txt");
        Assert.Equal(jsonLink.Select(d => (d.Name, d.Kind, d.VlanId, d.SlaveKind)), textLink.Select(d => (d.Name, d.Kind, d.VlanId, d.SlaveKind)));
        // Routes of both families in all tables.
        var jsonRoutes = RouteParser.ParseJson(Ip("-j route show table all"), "route.json");
        var textRoutes = RouteParser.ParseText(Ip("route show table all"), "ip-route.txt");
        Assert.Equal(jsonRoutes.Select(Describe), textRoutes.Select(Describe));
        var json6 = RouteParser.ParseJson(Ip("-j -6 route show table all"), "route6.json", defaultV6: true);
        var text6 = RouteParser.ParseText(Ip("-6 route show table all"), "ip6-route.txt", defaultV6: true);
        Assert.Equal(json6.Select(Describe), text6.Select(Describe));
        // Rules.
        var jsonRules = RuleParser.ParseJson(Ip("-j rule"), "rule.json");
        var textRules = RuleParser.ParseText(Ip("rule"), "ip-rule.txt");
        Assert.Equal(jsonRules, textRules);

        Check(new NetworkConfig(NetworkConfig.MergeDevices(jsonLink, jsonAddr), NetworkConfig.DistinctRoutes([.. jsonRoutes, .. json6]), jsonRules));
    }

    private static string Describe(Route r) =>
        $"{r.Table} {r.Type} {r.Dst} m{r.Metric} {r.Scope} p={r.Protocol} src={r.PrefSrc} tos={r.Tos} err={r.Error} pref={r.Pref} "
        + string.Join(";", r.NextHops.Select(n => $"{n.Gateway}@{n.Dev}w{n.Weight}{(n.OnLink ? "onlink" : "")}"));

    /// <summary>The model holds what the commands configured.</summary>
    private static void Check(NetworkConfig c)
    {
        var ip = TraceReplay.Capture.Decode.IpAddr.Parse;
        // Addresses: 10.0.0.2 was added second in the same subnet, so the kernel made it secondary.
        var d0 = c.Device("d0")!.Addresses.Where(a => !a.IsV6).ToList();
        Assert.Equal(["10.0.0.1", "10.9.0.1", "10.0.0.2"], d0.Select(a => a.Local.ToString()));
        Assert.True(d0[2].IsSecondary);
        Assert.Equal(ip("10.9.0.2"), d0[1].Peer);
        Assert.Equal(ip("10.0.0.1"), c.PrimaryAddress("d0", false)!.Local);
        Assert.Equal(ip("10.9.0.1"), c.SelectSourceAddressV4("d0", ip("10.9.0.2")));
        Assert.Equal(ip("10.0.0.1"), c.SelectSourceAddressV4("d0", ip("192.0.2.1")));
        var web = c.Device("d0p")!.Addresses.Single(a => !a.IsV6);
        Assert.Equal("d0p:web", web.Label);
        Assert.True((web.Flags & IfaFlags.NoPrefixRoute) != 0);
        Assert.Equal(ip("10.5.0.255"), web.Broadcast);
        Assert.True((c.Device("d0")!.Addresses.Single(a => a.Local == ip("2001:db8::1")).Flags & IfaFlags.NoDad) != 0);
        Assert.Equal("br0", c.BridgeOf("v0")!.Name);
        Assert.Equal("v1", c.Device("v0")!.Link);
        // Routes: metric tie-break, multipath, types, tables.
        var main = c.Fib.Table("main");
        Assert.Equal(ip("10.0.0.254"), main.Lookup(ip("192.0.2.5"))!.Gateway);
        Assert.Equal(RtScope.Link, main.Lookup(ip("192.0.2.200"))!.Scope);
        var mp = main.Lookup(ip("203.0.113.1"))!;
        Assert.Equal([2, 1], mp.NextHops.Select(n => n.Weight));
        Assert.Equal(RouteType.Blackhole, main.Lookup(ip("198.51.100.1"))!.Type);
        Assert.Equal(RouteType.Unreachable, main.Lookup(ip("198.51.101.1"))!.Type);
        Assert.Equal(RouteType.Prohibit, main.Lookup(ip("198.51.102.1"))!.Type);
        Assert.Equal(RouteType.Unreachable, main.Lookup(ip("2001:db8:dead::1"))!.Type);
        Assert.Equal(ip("2001:db8::ff"), main.Lookup(ip("2001:db8:1::1"))!.Gateway);
        var t100 = c.Fib.Table("100");
        Assert.Equal(RouteType.Throw, t100.Lookup(ip("198.51.103.1"))!.Type);
        Assert.Equal("static", t100.Lookup(ip("8.8.8.8"))!.Protocol);
        Assert.Equal(RouteType.Local, t100.Lookup(ip("192.0.2.77"))!.Type);
        Assert.Equal(RouteType.Broadcast, t100.Lookup(ip("10.0.0.127"))!.Type);
        Assert.True(c.IsLocalAddress(ip("10.0.0.2")));
        // Rules.
        var r = c.Rules.ToDictionary(x => x.Priority);
        Assert.Equal((0x10u, 0xffu, "100"), (r[100].FwMark!.Value, r[100].FwMask!.Value, r[100].Table!));
        Assert.Equal((7u, uint.MaxValue), (r[108].FwMark!.Value, r[108].FwMask!.Value));
        Assert.Equal(("10.0.0.0/8", "192.0.2.0/24", "d0"), (r[101].Src.ToString(), r[101].Dst.ToString(), r[101].Iif));
        Assert.True(r[102].Not);
        Assert.Equal((FibRuleAction.Goto, 32766u), (r[102].Action, r[102].GotoTarget!.Value));
        Assert.Equal(((byte)0x10, FibRuleAction.Blackhole), (r[103].Tos!.Value, r[103].Action));
        Assert.Equal((1000u, 2000u, 0), (r[104].UidStart!.Value, r[104].UidEnd!.Value, r[104].SuppressPrefixLength));
        Assert.Equal(("d0", FibRuleAction.Prohibit), (r[105].Oif, r[105].Action));
        Assert.Equal(FibRuleAction.Unreachable, r[106].Action);
        Assert.True(r[107].L3mdev);
        Assert.Equal(-1, r[0].SuppressPrefixLength);
    }
}
