using System.Globalization;
using TraceReplay.KernelTests.Framework;
using TraceReplay.KernelTests.Scenarios;

namespace TraceReplay.KernelTests;

/// <summary>
/// The tests that change the machine-wide nf_conntrack_max: alone, never beside another kernel test
/// (a small max makes every namespace's new connections fail while it lasts).
/// </summary>
[CollectionDefinition(nameof(ConntrackMaxCollection), DisableParallelization = true)]
public sealed class ConntrackMaxCollection;

/// <summary>
/// The conntrack table full case, recorded live and replayed. nf_conntrack_standalone.c makes
/// net.netfilter.nf_conntrack_max read-only (0444) outside the initial namespace, and the limit is
/// global (nf_conntrack_max, compared with each namespace's own count in __nf_conntrack_alloc): the
/// test sets the initial namespace's value for the seconds of the recording and restores it in
/// finally, also when the recording fails.
/// </summary>
[Collection(nameof(ConntrackMaxCollection))]
public sealed class TableFullTests(ITestOutputHelper output)
{
    private const string MaxFile = "/proc/sys/net/netfilter/nf_conntrack_max";

    [Fact]
    public void Table_full_replay_equals_the_kernel()
    {
        KernelEnvironment.Require();
        if (!File.Exists(MaxFile))
            Assert.Skip("nf_conntrack is not loaded in the initial namespace (" + MaxFile + " is missing)");
        using var place = new ScenarioOutput("table-full");
        string saved = File.ReadAllText(MaxFile).Trim();
        try
        {
            using var lab = new KernelLab("full");
            TableFullScenario.Record(lab, place.Directory,
                () => File.WriteAllText(MaxFile, TableFullScenario.Max.ToString(CultureInfo.InvariantCulture)));
        }
        finally
        {
            File.WriteAllText(MaxFile, saved);
        }
        Assert.Equal(saved, File.ReadAllText(MaxFile).Trim());
        var report = Expectations.TableFull.Replay(place.Directory);
        output.WriteLine(report.Format());
        Expectations.TableFull.Check(report);
        Assert.Equal(TableFullScenario.Max, report.ConntrackKernel);
        // The kernel's table-full drops: SYNs raw PREROUTING saw (before conntrack) that filter INPUT's NEW rule never did.
        ulong syns = Rule(report, "raw", "PREROUTING").Packets, admitted = Rule(report, "filter", "INPUT").Packets;
        Assert.True(syns > admitted, report.Format());
        Assert.Equal((long)(syns - admitted), report.Host.Conntrack.TableFullDrops);
    }

    private static TraceReplay.Host.Iptables.XtCounters Rule(ScenarioReport report, string table, string chain) =>
        report.KernelV4.Tables.Single(t => t.Name == table).Chains.Single(c => c.Name == chain).Rules[0].Counters;
}
