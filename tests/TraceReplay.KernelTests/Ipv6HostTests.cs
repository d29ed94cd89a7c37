using TraceReplay.KernelTests.Framework;
using TraceReplay.KernelTests.Scenarios;

namespace TraceReplay.KernelTests;

/// <summary>The IPv6 host recorded live on this kernel and replayed: ip6tables counters and conntrack against the kernel's.</summary>
public sealed class Ipv6HostTests(ITestOutputHelper output)
{
    [Fact]
    public void Ipv6_host_replay_equals_the_kernel()
    {
        KernelEnvironment.Require();
        using var place = new ScenarioOutput("ipv6-host");
        using (var lab = new KernelLab("v6"))
            Ipv6HostScenario.Record(lab, place.Directory);
        var report = Expectations.Ipv6Host.Replay(place.Directory);
        output.WriteLine(report.Format());
        Expectations.Ipv6Host.Check(report);
    }
}
