using TraceReplay.KernelTests.Framework;
using TraceReplay.KernelTests.Scenarios;

namespace TraceReplay.KernelTests;

/// <summary>The home router recorded live on this kernel and replayed: counters and conntrack against the kernel's.</summary>
public sealed class HomeRouterTests(ITestOutputHelper output)
{
    [Fact]
    public void Home_router_replay_equals_the_kernel()
    {
        KernelEnvironment.Require();
        using var place = new ScenarioOutput("home-router");
        using (var lab = new KernelLab("hr"))
            HomeRouterScenario.Record(lab, place.Directory);
        var report = Expectations.HomeRouter.Replay(place.Directory);
        output.WriteLine(report.Format());
        Expectations.HomeRouter.Check(report);
    }

    /// <summary>The same router where MASQUERADE has to search a port (two LAN hosts from one source port to one server).</summary>
    [Fact]
    public void Home_router_with_a_NAT_port_clash()
    {
        KernelEnvironment.Require();
        using var place = new ScenarioOutput("home-router-port-clash");
        using (var lab = new KernelLab("hrpc"))
            HomeRouterScenario.Record(lab, place.Directory, portClash: true);
        var report = Expectations.HomeRouterPortClash.Replay(place.Directory);
        output.WriteLine(report.Format());
        Expectations.HomeRouterPortClash.Check(report);
    }
}
