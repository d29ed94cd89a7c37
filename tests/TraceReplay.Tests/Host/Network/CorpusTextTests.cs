using TraceReplay.Capture.Decode;
using TraceReplay.Host.Network;

namespace TraceReplay.Tests.Host.Network;

/// <summary>
/// Every pasted `ip addr` / `ip route` / `ip rule` text in the shared corpus (net-network) parses. The
/// only things skipped are anonymiser placeholders (XX:XX:… MACs, fe80::XXXX:… and "[PUBLIC IP HERE]"
/// addresses), each reported as a warning naming file:line:column.
/// </summary>
public sealed class CorpusTextTests
{
    [Theory]
    [MemberData(nameof(Files))]
    public void Every_corpus_ip_text_file_parses(string relative)
    {
        NetworkTestData.RequireNetNetwork();
        var (count, warnings) = NetworkTestData.ParseCorpusFile(relative);
        Assert.True(count > 0, $"{relative}: nothing parsed");
        Assert.All(warnings, w => Assert.Contains("anonymised", w.Message, StringComparison.Ordinal));
    }

    public static TheoryData<string> Files() => NetworkTestData.TextFileNames();

    [Fact]
    public void Corpus_holds_the_expected_files()
    {
        NetworkTestData.RequireNetNetwork();
        var files = NetworkTestData.TextFiles().ToList();
        Assert.Equal(16, files.Count);
        Assert.Equal(10, files.Count(f => f.Kind == NetworkTestData.Kind.Addr));
        Assert.Equal(4, files.Count(f => f.Kind == NetworkTestData.Kind.Route));
        Assert.Equal(2, files.Count(f => f.Kind == NetworkTestData.Kind.Rule));
    }

    private static string Read(string relative) => File.ReadAllText(Path.Combine(NetworkTestData.RequireNetNetwork(), relative));

    [Fact]
    public void Chair_addresses_secondaries_and_vlan_lower_devices()
    {
        const string rel = "configs_chair_for_Network_Architectures_and_Services/ip-addr-2016-06-27_16-29-01";
        var warnings = new List<TraceReplay.Host.Parsing.ParseWarning>();
        var devices = DeviceParser.ParseText(Read(rel), rel, warnings);
        var config = new NetworkConfig(devices, [], []);
        // 4: eth1.96@eth1 … inet 131.159.14.3/25 brd … scope global eth1.96 / inet 131.159.14.126/25 scope global secondary eth1.96
        var d = config.Device("eth1.96")!;
        Assert.Equal(4, d.IfIndex);
        Assert.Equal("eth1", d.Link);
        Assert.Equal(1500, d.Mtu);
        Assert.Null(d.Mac); // anonymised
        var v4 = d.Addresses.Where(a => !a.IsV6).ToList();
        Assert.Equal(2, v4.Count);
        Assert.True(v4[1].IsSecondary);
        Assert.Equal(IpAddr.Parse("131.159.14.127"), v4[0].Broadcast);
        Assert.Equal(IpAddr.Parse("131.159.14.3"), config.PrimaryAddress("eth1.96", false)!.Local);
        // Two global IPv6 addresses, neither secondary: the first is primary.
        Assert.Equal(IpAddr.Parse("2001:4ca0:2001:10::1"), config.PrimaryAddress("eth1.96", true)!.Local);
        // A next hop in no subnet of the device: the first primary; in the subnet: that address.
        Assert.Equal(IpAddr.Parse("131.159.14.3"), config.SelectSourceAddressV4("eth1.96", IpAddr.Parse("8.8.8.8")));
        Assert.Contains(warnings, w => w.Message.Contains("anonymised MAC", StringComparison.Ordinal));
    }

    [Fact]
    public void Openlab_routes_longest_prefix_and_metric_tie_break()
    {
        const string rel = "configs_openlab/stettenstr/doku/ip-route-list.txt";
        var fib = new Fib(RouteParser.ParseText(Read(rel), rel));
        var main = fib.Table("main");
        // default via 10.11.79.129 dev tap20 (metric 0) beats metric 2 and 3 defaults.
        var def = main.Lookup(IpAddr.Parse("1.1.1.1"))!;
        Assert.Equal(IpAddr.Parse("10.11.79.129"), def.Gateway);
        Assert.Equal(3, main.Matches(IpAddr.Parse("1.1.1.1")).Count());
        // 5.9.2.138 via 192.168.178.1 dev eth5 (metric 0) / via 192.168.179.1 dev eth4 metric 1: the /32 host route, metric 0.
        var host = main.Lookup(IpAddr.Parse("5.9.2.138"))!;
        Assert.Equal(32, host.Dst.PrefixLength);
        Assert.Equal("eth5", host.Dev);
        // 10.11.64.70 via 10.11.64.70 dev tap0 metric 2 onlink is more specific than 10.11.64.68/30 dev tap0.
        var onlink = main.Lookup(IpAddr.Parse("10.11.64.70"))!;
        Assert.True(onlink.NextHops[0].OnLink);
        Assert.Equal(30, main.Lookup(IpAddr.Parse("10.11.64.69"))!.Dst.PrefixLength);
        Assert.Equal(RtScope.Link, main.Lookup(IpAddr.Parse("10.11.64.69"))!.Scope);
    }

    [Fact]
    public void Chair_rules_and_routes()
    {
        const string ruleFile = "configs_chair_for_Network_Architectures_and_Services/ip-rule-2016-06-27_16-29-01";
        var rules = RuleParser.ParseText(Read(ruleFile), ruleFile);
        Assert.Equal(9, rules.Count);
        var r = rules.Single(x => x.Priority == 32765);
        Assert.Equal("188.95.232.192/27", r.Src.ToString());
        Assert.Equal("500", r.Table);
        const string routeFile = "configs_chair_for_Network_Architectures_and_Services/ip-route-2016-06-27_16-29-01";
        var main = new Fib(RouteParser.ParseText(Read(routeFile), routeFile)).Table("main");
        // blackhole 131.159.14.0/23 lies under the connected /25…/28 subnets: they win by prefix length, and
        // the blackhole is the next candidate (what suppress_prefixlength or a dead link would fall back to).
        var matches = main.Matches(IpAddr.Parse("131.159.14.200")).ToList();
        Assert.Equal("eth1.1011", matches[0].Dev);
        Assert.Equal(27, matches[0].Dst.PrefixLength);
        Assert.Equal(RouteType.Blackhole, matches[1].Type);
        Assert.Null(matches[1].Dev);
        Assert.Equal(IpAddr.Parse("131.159.252.149"), matches.First(m => m.Dst.IsAny).Gateway); // default via … dev eth1.110 (metric 0 beats 512)
        const string route6 = "configs_chair_for_Network_Architectures_and_Services/ip6-route-2016-06-27_16-29-01";
        var main6 = new Fib(RouteParser.ParseText(Read(route6), route6, defaultV6: true)).Table("main");
        // unreachable 2001:4ca0:2001::/48 dev lo metric 1024 error -101
        var un = main6.Lookup(IpAddr.Parse("2001:4ca0:2001:ffff::1"))!;
        Assert.Equal(RouteType.Unreachable, un.Type);
        Assert.Equal(-101, un.Error);
        Assert.Equal(1024u, un.Metric);
        Assert.Equal("eth1.96", main6.Lookup(IpAddr.Parse("2001:4ca0:2001:10::99"))!.Dev);
    }

    [Fact]
    public void Peer_addresses_and_labels()
    {
        const string rel = "configs_openlab/stettenstr/doku/ip-4-addr-show.txt";
        var config = new NetworkConfig(DeviceParser.ParseText(Read(rel), rel), [], []);
        // inet 10.11.64.69 peer 10.11.64.70/30 brd 10.11.64.71 scope global tap0
        var tap0 = config.Device("tap0")!.Addresses.Single();
        Assert.Equal(IpAddr.Parse("10.11.64.69"), tap0.Local);
        Assert.Equal(IpAddr.Parse("10.11.64.70"), tap0.Peer);
        Assert.Equal(30, tap0.PrefixLength);
        Assert.Equal("tap0", tap0.Label);
        // inet 192.168.100.2/24 … scope global eth5:0 — a label alias, still a primary address of eth5.
        var eth5 = config.Device("eth5")!.Addresses;
        Assert.Equal("eth5:0", eth5[1].Label);
        Assert.False(eth5[1].IsSecondary);
        Assert.Equal(IpAddr.Parse("192.168.100.2"), config.SelectSourceAddressV4("eth5", IpAddr.Parse("192.168.100.9")));
        Assert.Equal(IpAddr.Parse("192.168.178.2"), config.SelectSourceAddressV4("eth5", IpAddr.Parse("9.9.9.9")));
    }
}
