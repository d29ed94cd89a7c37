using TraceReplay.KernelTests.Framework;
using TraceReplay.KernelTests.Scenarios;

namespace TraceReplay.KernelTests;

/// <summary>The Docker host (published port, MASQUERADE, hairpin NAT, DOCKER-USER, isolation) recorded live and replayed against the kernel's counters and conntrack table.</summary>
public sealed class DockerHostTests(ITestOutputHelper output)
{
    [Fact]
    public void Docker_host_replay_equals_the_kernel()
    {
        KernelEnvironment.Require();
        using var place = new ScenarioOutput("docker-host-live");
        using (var lab = new KernelLab("dk"))
            DockerHostScenario.Record(lab, place.Directory);
        var report = Expectations.DockerHostLive.Replay(place.Directory);
        output.WriteLine(report.Format());
        Expectations.DockerHostLive.Check(report);
    }
}
