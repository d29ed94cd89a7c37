using TraceReplay.Host;
using TraceReplay.Host.Parsing;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Host;

/// <summary>The snapshot folder as one model: the bundled docker-host dataset, recorded by datasets/docker-host/record.sh.</summary>
public sealed class HostSnapshotTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-host-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string DockerHost => Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot");

    [Fact]
    public void Docker_host_snapshot_loads_rules_network_and_passes_the_load_check()
    {
        var host = HostSnapshot.Load(DockerHost);
        // record.sh loads Docker's filter and nat tables with iptables-restore and sets no ip6tables, ebtables or ipset rules.
        Assert.Equal(["filter", "nat"], host.Iptables.Tables.Select(t => t.Name));
        Assert.Empty(host.Ip6tables.Tables);
        Assert.Null(host.Ebtables);
        Assert.Empty(host.Ipsets.Sets);
        // record.sh: docker0 is a bridge with 172.17.0.1/16 and veth1 as its port; eth0 has 198.51.100.1/24.
        Assert.Equal("docker0", host.Network.BridgeOf("veth1")?.Name);
        Assert.Equal("172.17.0.1", host.Network.PrimaryAddress("docker0", v6: false)?.Local.ToString());
        Assert.True(host.Network.Sysctls.IpForward); // sysctl -qw net.ipv4.ip_forward=1
        Assert.True(host.Network.Sysctls.BridgeNfCallIptables);
        // The kernel loaded these rules, so the load-time check must find nothing.
        Assert.Empty(host.Check());
        Assert.Contains(Path.Combine(DockerHost, "iptables.rules"), host.FilesRead);
    }

    [Fact]
    public void Every_file_is_optional()
    {
        var host = HostSnapshot.Load(_dir);
        Assert.Empty(host.Iptables.Tables);
        Assert.Empty(host.FilesRead);
        Assert.Empty(host.Check());
    }

    [Fact]
    public void Ipv6_policy_rules_come_from_rule6_json()
    {
        // `ip -j -6 rule` on a host with one extra rule: its entries carry no family, so the file says it.
        File.WriteAllText(Path.Combine(_dir, "rule6.json"), """[{"priority":0,"src":"all","table":"local"},{"priority":100,"fwmark":"0x1","table":"100"},{"priority":32766,"src":"all","table":"main"}]""");
        var host = HostSnapshot.Load(_dir);
        var v6 = host.Network.RulesFor(v6: true).ToList();
        Assert.Equal([0u, 100u, 32766u], v6.Select(r => (uint)r.Priority));
        Assert.Empty(host.Network.RulesFor(v6: false));
        Assert.Contains(Path.Combine(_dir, "rule6.json"), host.FilesRead);
    }

    [Fact]
    public void A_bad_file_names_itself_and_the_line()
    {
        File.WriteAllText(Path.Combine(_dir, "ebtables.rules"), "*filter\n:INPUT ACCEPT\n-A INPUT -s 00:11:22:33:44:zz -j DROP\n");
        var e = Assert.Throws<HostParseException>(() => HostSnapshot.Load(_dir));
        Assert.StartsWith(Path.Combine(_dir, "ebtables.rules") + ":3:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rules_override_replaces_the_snapshot_rule_file_of_its_family()
    {
        foreach (var f in Directory.GetFiles(DockerHost))
            File.Copy(f, Path.Combine(_dir, Path.GetFileName(f)));
        string changed = Path.Combine(_dir, "new.rules");
        File.WriteAllText(changed, "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n");
        var host = HostSnapshot.Load(_dir, rulesOverride: changed);
        Assert.Equal(changed, host.Iptables.Source);
        Assert.Equal(["filter"], host.Iptables.Tables.Select(t => t.Name));
    }
}
