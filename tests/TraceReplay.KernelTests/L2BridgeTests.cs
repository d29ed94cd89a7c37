using TraceReplay.KernelTests.Framework;
using TraceReplay.KernelTests.Scenarios;

namespace TraceReplay.KernelTests;

/// <summary>The pure L2 bridge firewall recorded live and replayed: iptables and ebtables counters and conntrack against the kernel's.</summary>
public sealed class L2BridgeTests(ITestOutputHelper output)
{
    [Fact]
    public void L2_bridge_firewall_replay_equals_the_kernel()
    {
        KernelEnvironment.Require();
        using var place = new ScenarioOutput("l2-bridge");
        using (var lab = new KernelLab("l2"))
            L2BridgeScenario.Record(lab, place.Directory);
        var report = Expectations.L2Bridge.Replay(place.Directory);
        output.WriteLine(report.Format());
        Expectations.L2Bridge.Check(report);
    }
}
