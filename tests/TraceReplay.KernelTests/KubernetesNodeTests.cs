using TraceReplay.KernelTests.Framework;
using TraceReplay.KernelTests.Scenarios;

namespace TraceReplay.KernelTests;

/// <summary>The Kubernetes node recorded live on this kernel and replayed: counters and conntrack against the kernel's.</summary>
public sealed class KubernetesNodeTests(ITestOutputHelper output)
{
    [Fact]
    public void Kubernetes_node_replay_equals_the_kernel()
    {
        KernelEnvironment.Require();
        using var place = new ScenarioOutput("kubernetes-node");
        using (var lab = new KernelLab("k8s"))
            KubernetesNodeScenario.Record(lab, place.Directory);
        var expectation = Expectations.KubernetesNode;
        var report = expectation.Replay(place.Directory);
        output.WriteLine(report.Format());
        expectation.Check(report);
    }
}
