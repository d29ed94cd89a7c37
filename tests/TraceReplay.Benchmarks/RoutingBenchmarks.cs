using BenchmarkDotNet.Attributes;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Routing;

namespace TraceReplay.Benchmarks;

/// <summary>
/// One routing decision (ip_route_input / ip_route_output), per packet, over a shuffled mix of keys: the bundled
/// docker-host snapshot (three default rules, rp_filter off) and a policy-routing host (a dozen rules before
/// main, rp_filter strict, so every forward also does the reverse lookup).
/// </summary>
[MemoryDiagnoser]
public class RoutingBenchmarks
{
    private const int KeyCount = 256;

    private IpRouter _docker = null!;
    private IpRouter _policy = null!;
    private RouteKey[] _dockerKeys = [];
    private RouteKey[] _policyKeys = [];
    private RouteKey[] _outputKeys = [];

    [GlobalSetup]
    public void Setup()
    {
        _docker = new IpRouter(NetworkConfig.Load(Path.Combine(RepoRoot(), "datasets", "docker-host", "snapshot")));
        _policy = PolicyHost();
        var rng = new Random(42);
        IpAddr V4(uint a) => IpAddr.FromV4(a);
        _dockerKeys = new RouteKey[KeyCount];
        _policyKeys = new RouteKey[KeyCount];
        _outputKeys = new RouteKey[KeyCount];
        for (int i = 0; i < KeyCount; i++)
        {
            uint remote = 0xCB007100u | (uint)rng.Next(1, 255); // 203.0.113.x
            _dockerKeys[i] = (i % 3) switch
            {
                0 => new RouteKey { Src = V4(0xAC110002), Dst = V4(remote), Dev = "docker0", Ttl = 64, Protocol = 6 },   // container → internet
                1 => new RouteKey { Src = V4(remote), Dst = V4(0xC6336401), Dev = "eth0", Ttl = 64, Protocol = 6 },      // → the host
                _ => new RouteKey { Src = V4(remote), Dst = V4(0xAC110002), Dev = "eth0", Ttl = 64, Protocol = 6 },      // → the container (after DNAT)
            };
            _policyKeys[i] = new RouteKey
            {
                Src = V4(0x0A010000u | (uint)rng.Next(2, 250)), Dst = V4((uint)rng.Next(0x01000000, 0x7F000000)), Dev = "lan0",
                Mark = (uint)rng.Next(0, 3), Ttl = 64, Protocol = 6,
            };
            _outputKeys[i] = new RouteKey { Src = V4(0xC6336401), Dst = V4(remote), Ttl = 64, Protocol = 6 };
        }
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "TraceReplay.sln")))
                return d.FullName;
        }
        throw new InvalidOperationException("TraceReplay.sln not found above " + AppContext.BaseDirectory);
    }

    private static IpRouter PolicyHost()
    {
        const string addrs = """
            1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536
                inet 127.0.0.1/8 scope host lo
            2: lan0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500
                inet 10.1.0.1/24 brd 10.1.0.255 scope global lan0
            3: wan0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500
                inet 192.0.2.1/24 brd 192.0.2.255 scope global wan0
            4: wan1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500
                inet 198.51.100.1/24 brd 198.51.100.255 scope global wan1
            """;
        const string routes = """
            default via 192.0.2.254 dev wan0
            10.1.0.0/24 dev lan0 proto kernel scope link src 10.1.0.1
            192.0.2.0/24 dev wan0 proto kernel scope link src 192.0.2.1
            198.51.100.0/24 dev wan1 proto kernel scope link src 198.51.100.1
            10.8.0.0/16 via 10.1.0.254 dev lan0
            default via 198.51.100.254 dev wan1 table 100
            throw 10.0.0.0/8 table 100
            local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1
            local 10.1.0.1 dev lan0 table local proto kernel scope host src 10.1.0.1
            broadcast 10.1.0.255 dev lan0 table local proto kernel scope link src 10.1.0.1
            local 192.0.2.1 dev wan0 table local proto kernel scope host src 192.0.2.1
            local 198.51.100.1 dev wan1 table local proto kernel scope host src 198.51.100.1
            """;
        const string rules = """
            0:	from all lookup local
            100:	from all fwmark 0x1 lookup 100
            101:	from all to 10.99.0.0/16 unreachable
            102:	from all to 10.98.0.0/16 prohibit
            103:	from 172.16.0.0/12 lookup 100
            104:	from all iif wan1 lookup 100
            105:	from all tos 0x10 lookup 100
            106:	not from 10.0.0.0/8 goto 110
            107:	from all fwmark 0x2 lookup 100
            110:	from all nop
            120:	from all uidrange 1000-2000 lookup 100
            130:	from all to 100.64.0.0/10 blackhole
            32766:	from all lookup main
            32767:	from all lookup default
            """;
        var config = new NetworkConfig(DeviceParser.ParseText(addrs, "addr.txt"), RouteParser.ParseText(routes, "route.txt"),
            RuleParser.ParseText(rules, "rule.txt"), Sysctls.Parse("net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.rp_filter = 1\n", "sysctl.conf"));
        return new IpRouter(config);
    }

    [Benchmark(OperationsPerInvoke = KeyCount)]
    public int InputDockerHost()
    {
        int sum = 0;
        foreach (ref readonly var k in _dockerKeys.AsSpan())
            sum += (int)_docker.RouteInput(k).Verdict;
        return sum;
    }

    [Benchmark(OperationsPerInvoke = KeyCount)]
    public int InputPolicyRulesRpFilter()
    {
        int sum = 0;
        foreach (ref readonly var k in _policyKeys.AsSpan())
            sum += (int)_policy.RouteInput(k).Verdict;
        return sum;
    }

    [Benchmark(OperationsPerInvoke = KeyCount)]
    public int OutputDockerHost()
    {
        int sum = 0;
        foreach (ref readonly var k in _outputKeys.AsSpan())
            sum += (int)_docker.RouteOutput(k).Verdict;
        return sum;
    }
}
