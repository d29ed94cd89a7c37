using TraceReplay.Host.Iptables;
using TraceReplay.Host.Parsing;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Tests.Host.Iptables;

namespace TraceReplay.Tests.Netfilter.Tables;

/// <summary>
/// The classifier against the plain walk (ipt_do_table as XtTableInfo implements it) on every real
/// dump of the shared corpus (home routers, Docker, kube-proxy, the university firewall; iptables and
/// ip6tables): packets aimed at every rule plus random ones, through each table twice, the same
/// verdict, entry, flags, first unknown and outputs after every packet and the same counters at the
/// end, under both unknown-match policies.
/// </summary>
public sealed class XtClassifierDifferentialTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(CorpusDumpTests.Dumps), MemberType = typeof(CorpusDumpTests))]
    public void Every_corpus_dump_classifies_as_it_walks(string relative)
    {
        string folder = CorpusDumpTests.Folder;
        if (!Directory.Exists(folder))
            Assert.Skip($"shared rule dumps not found at {folder} (clone ../shared beside the repository to run this test)");
        IptRuleset rs;
        try
        {
            rs = IptablesParser.Load(Path.Combine(folder, relative));
        }
        catch (HostParseException)
        {
            return; // the parser's tests cover the dumps it refuses
        }

        int seed = relative.Length;
        foreach (var table in rs.Tables)
        {
            foreach (var policy in new[] { UnknownMatchPolicy.NoMatch, UnknownMatchPolicy.Match })
            {
                XtTableInfo on, off;
                try
                {
                    (on, off) = ClassifierDiff.CompileBoth(table, rs.Family, policy);
                }
                catch (HostParseException e)
                {
                    Assert.Contains("loop", e.Message, StringComparison.Ordinal);
                    break;
                }
                var probes = ClassifierDiff.Probes(table, rs.Family, random: 2000, seed: seed++);
                ClassifierDiff.Compare(on, off, probes, $"{relative} {table.Name} ({policy})");
                if (policy == UnknownMatchPolicy.NoMatch)
                    output.WriteLine($"{table.Name}: {on.EntryCount} entries, {on.ClassifiedChains} chains classified, {probes.Count} packets");
            }
        }
    }

    /// <summary>The university firewall (5,556 IPv4 and 6,203 IPv6 rules in long chains) is where the index must be built and used.</summary>
    [Theory]
    [InlineData("net-network/configs_chair_for_Network_Architectures_and_Services/iptables-save-2016-06-27_16-29-01")]
    [InlineData("net-network/configs_chair_for_Network_Architectures_and_Services/ip6tables-save-2016-06-27_16-29-01")]
    public void The_big_firewall_is_classified(string relative)
    {
        string path = Path.Combine(CorpusDumpTests.Folder, relative);
        if (!File.Exists(path))
            Assert.Skip($"shared rule dump not found at {path} (clone ../shared beside the repository to run this test)");
        var rs = IptablesParser.Load(path);
        var (on, _) = ClassifierDiff.CompileBoth(rs.Table("filter")!, rs.Family);
        Assert.True(on.ClassifiedChains > 0, "no chain of the filter table was classified");
    }
}
