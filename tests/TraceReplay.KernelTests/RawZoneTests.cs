using TraceReplay.KernelTests.Framework;
using TraceReplay.KernelTests.Scenarios;

namespace TraceReplay.KernelTests;

/// <summary>The raw-table scenario (NOTRACK, CT --zone) recorded live and replayed (the table-full case: TableFullTests).</summary>
public sealed class RawZoneTests(ITestOutputHelper output)
{
    [Fact]
    public void Notrack_and_zones_replay_equals_the_kernel()
    {
        KernelEnvironment.Require();
        using var place = new ScenarioOutput("raw-zone");
        using (var lab = new KernelLab("raw"))
            RawZoneScenario.Record(lab, place.Directory);
        var report = Expectations.RawZone.Replay(place.Directory);
        output.WriteLine(report.Format());
        Expectations.RawZone.Check(report);
    }
}
