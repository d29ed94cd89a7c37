using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Host.Network;

namespace TraceReplay.Tests.Host.Network;

/// <summary>
/// The bundled docker-host snapshot: real `ip -j` output from the namespaces datasets/docker-host/record.sh
/// builds. Every expectation below follows from a line of that script (quoted beside it).
/// </summary>
public sealed class DockerHostSnapshotTests
{
    private static readonly NetworkConfig Config = NetworkConfig.Load(NetworkTestData.DockerSnapshot);

    [Fact]
    public void Devices_match_what_record_sh_creates()
    {
        // lo, docker0 (bridge, made first), veth1 and veth2 (the containers' bridge ports), eth0 (veth uplink) — in ifindex order.
        Assert.Equal(["lo", "docker0", "veth1", "veth2", "eth0"], Config.Devices.Select(d => d.Name));
        var docker0 = Config.Device("docker0")!;
        Assert.Equal("bridge", docker0.Kind);
        Assert.True(docker0.IsUp);
        Assert.Equal(1500, docker0.Mtu);
        // `ip link set veth1 master docker0`
        var veth1 = Config.Device("veth1")!;
        Assert.Equal("docker0", veth1.Master);
        Assert.Equal("veth", veth1.Kind);
        Assert.Equal("bridge", veth1.SlaveKind);
        Assert.Same(docker0, Config.BridgeOf("veth1"));
        Assert.Equal(["veth1", "veth2"], Config.BridgePorts("docker0").Select(d => d.Name));
        // `ip link set docker0 address 02:42:ac:11:00:01`: an address of its own, as Docker gives it.
        Assert.Equal("02:42:ac:11:00:01", docker0.Mac.ToString());
        Assert.Null(Config.BridgeOf("eth0"));
        Assert.Equal(0u, Config.Device("eth0")!.Group); // "group":"default"
        Assert.True(Config.Device("lo")!.IsLoopback);
        Assert.Equal(Config.Device(5), Config.Device("eth0"));
    }

    [Fact]
    public void Model_agrees_with_the_capture_stage_interface_table()
    {
        // InterfaceTable (Capture) reads the same link.json independently; both must see the same interfaces.
        var table = InterfaceTable.Load(Path.Combine(NetworkTestData.DockerSnapshot, "link.json"));
        foreach (var d in Config.Devices)
        {
            var i = table.ByIndex(d.IfIndex)!;
            Assert.Equal(i.Name, d.Name);
            Assert.Equal(i.Mac, d.Mac);
            Assert.Equal(i.Master, d.Master);
            Assert.Equal(i.Kind, d.Kind);
        }
    }

    [Fact]
    public void Addresses_and_primary_addresses()
    {
        // `ip addr add 172.17.0.1/16 dev docker0`, `ip addr add 198.51.100.1/24 dev eth0`
        var a = Config.PrimaryAddress("docker0", v6: false)!;
        Assert.Equal(IpAddr.Parse("172.17.0.1"), a.Local);
        Assert.Equal(16, a.PrefixLength);
        Assert.Equal(RtScope.Universe, a.Scope);
        Assert.Equal("docker0", a.Label);
        Assert.Equal(IpAddr.Parse("198.51.100.1"), Config.PrimaryAddress("eth0", false)!.Local);
        // No global IPv6 address anywhere: only link-local fe80:: ones, which are not primary.
        Assert.Null(Config.PrimaryAddress("eth0", v6: true));
        Assert.Contains(Config.Device("eth0")!.Addresses, x => x.IsV6 && x.Scope == RtScope.Link);
        // lo's 127.0.0.1 is host scope, so no primary global address.
        Assert.Null(Config.PrimaryAddress("lo", false));
        // MASQUERADE of the container's traffic out of eth0 toward the gateway 198.51.100.2 picks 198.51.100.1.
        Assert.Equal(IpAddr.Parse("198.51.100.1"), Config.SelectSourceAddressV4("eth0", IpAddr.Parse("198.51.100.2")));
        // veth1 has no IPv4 address: inet_select_addr falls back to the first device with a primary non-link one.
        Assert.Equal(IpAddr.Parse("172.17.0.1"), Config.SelectSourceAddressV4("veth1", IpAddr.Parse("203.0.113.9")));
    }

    [Fact]
    public void Routes_of_main_and_local_tables()
    {
        // `ip route add default via 198.51.100.2` (in trd-host, so dev eth0 is resolved by the kernel)
        var main = Config.Fib.Table("main");
        var def = main.Lookup(IpAddr.Parse("203.0.113.9"))!;
        Assert.True(def.Dst.IsAny);
        Assert.Equal(IpAddr.Parse("198.51.100.2"), def.Gateway);
        Assert.Equal("eth0", def.Dev);
        // The kernel's connected routes for each address: scope link, proto kernel, src = the address.
        var connected = main.Lookup(IpAddr.Parse("172.17.0.2"))!;
        Assert.Equal("172.17.0.0/16", connected.Dst.ToString());
        Assert.Equal("docker0", connected.Dev);
        Assert.Equal(RtScope.Link, connected.Scope);
        Assert.Equal("kernel", connected.Protocol);
        Assert.Equal(IpAddr.Parse("172.17.0.1"), connected.PrefSrc);
        // fib_add_ifaddr: a local route for each address and broadcast routes, all in table local.
        var local = Config.Fib.Table("255"); // the same table by number
        Assert.Equal(RouteType.Local, local.Lookup(IpAddr.Parse("172.17.0.1"))!.Type);
        Assert.Equal(RouteType.Local, local.Lookup(IpAddr.Parse("127.9.9.9"))!.Type); // local 127.0.0.0/8
        Assert.Equal(RouteType.Broadcast, local.Lookup(IpAddr.Parse("198.51.100.255"))!.Type);
        Assert.Null(local.Lookup(IpAddr.Parse("198.51.100.7")));
        Assert.True(Config.IsLocalAddress(IpAddr.Parse("198.51.100.1")));
        Assert.False(Config.IsLocalAddress(IpAddr.Parse("198.51.100.2")));
        // IPv6: fe80::/64 per device (metric 256) and multicast ff00::/8 in local; route.json and route6.json
        // both list them, so they are kept once.
        // Four devices with IPv6 link-local addresses: docker0, veth1, veth2, eth0.
        Assert.Equal(4, Config.Routes.Count(r => r.IsV6 && r.Table == "main"));
        Assert.Equal(4, Config.Routes.Count(r => r.IsV6 && r.Type == RouteType.Multicast));
        Assert.Equal(256u, main.Lookup(IpAddr.Parse("fe80::1"))!.Metric);
        Assert.Null(main.Lookup(IpAddr.Parse("2001:db8::1"))); // no IPv6 default: ::/0 never matches IPv4-mapped either
        Assert.Equal(10, Config.Routes.Count(r => !r.IsV6));
    }

    [Fact]
    public void Default_rules_and_sysctls()
    {
        Assert.Equal([0u, 32766u, 32767u], Config.Rules.Select(r => r.Priority));
        Assert.Equal(["local", "main", "default"], Config.Rules.Select(r => r.Table));
        Assert.All(Config.Rules, r => Assert.Null(r.Src));
        // `sysctl -qw net.ipv4.ip_forward=1`, `net.bridge.bridge-nf-call-iptables=1`; the rest are the 6.x kernel's defaults in a fresh namespace.
        var s = Config.Sysctls;
        Assert.True(s.IpForward);
        Assert.False(s.Ipv6Forwarding);
        Assert.Equal(0, s.RpFilter("eth0"));
        Assert.True(s.BrNetfilterLoaded);
        Assert.True(s.BridgeNfCallIptables);
        Assert.Equal(262144, s.ConntrackMax);
        Assert.True(s.ConntrackTcpLoose);
        Assert.Equal((32768, 60999), s.IpLocalPortRange);
        // The timeouts the snapshot holds are the defaults the model falls back to.
        foreach (var (name, seconds) in Sysctls.DefaultTimeouts)
            Assert.Equal(seconds, s.ConntrackTimeouts[name]);
        Assert.Equal(File.ReadLines(Path.Combine(NetworkTestData.DockerSnapshot, "sysctl.conf")).Count(l => l.Length > 0), s.All.Count); // one per line
    }
}
