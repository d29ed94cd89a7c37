using TraceReplay.KernelTests.Framework;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Replay;

/// <summary>
/// The kernel differential scenarios (tests/TraceReplay.KernelTests) as recorded on a real kernel and
/// saved under datasets/&lt;scenario&gt;/ (TRACEREPLAY_RECORD=1): replayed without root, and held to the
/// same comparison as the live suite — every rule's and policy's counters equal the kernel's
/// `iptables-save -c`/`ip6tables-save -c` at the end of the capture, and the simulated conntrack table
/// equal to the kernel's `conntrack -L -o extended`, apart from the known differences each scenario
/// names with its reason (Expectations). The expected values are the saved kernel files.
/// </summary>
public sealed class KernelScenarioTests(ITestOutputHelper output)
{
    public static TheoryData<string> Scenarios() => ["home-router", "home-router-port-clash", "kubernetes-node", "ipv6-host", "raw-zone", "l2-bridge", "docker-host-live", "table-full"];

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Saved_scenario_replays_to_the_kernels_results(string scenario)
    {
        var expectation = Expectations.For(scenario);
        var report = expectation.Replay(Path.Combine(Corpus.Root, "datasets", scenario));
        output.WriteLine(report.Format());
        expectation.Check(report);
        Assert.True(report.Compared > 0);
        Assert.Equal(0, report.Summary.UnknownDirection);
    }
}
