using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Host;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Reject;
using TraceReplay.Replay.Correlate;
using TraceReplay.Replay.Fidelity;
using TraceReplay.Replay.Pipeline;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Replay.Fidelity;

/// <summary>
/// Issue 6's acceptance on the recordings made on a real kernel (datasets/docker-host by record.sh,
/// the others by the kernel suite): at least 99.9% of the packets seen leaving the host are explained
/// by the simulation — left by the predicted interface with the predicted addresses and ports.
/// home-router-port-clash is the exception it was recorded to be: its SNAT port clashed and the
/// kernel's search picked a port the simulation does not (nf_nat_l4proto_unique_tuple starts from a
/// random offset), so that connection's first packet differs in port. The replay then takes the
/// kernel's port from the capture, so the rest of the connection is explained.
/// </summary>
public sealed class FidelityScenarioTests(ITestOutputHelper output)
{
    public static TheoryData<string> Scenarios() => ["docker-host", "home-router", "kubernetes-node", "ipv6-host", "raw-zone"];

    private sealed class Sink : IReplaySink
    {
        public List<(KeptSighting S, DecodedPacket P, byte[]? Bytes)> Rows { get; } = [];
        public Dictionary<long, FidelityOutcome> Decided { get; } = [];

        public void Add(in ReplayedSighting sighting, in DecodedPacket packet) =>
            Rows.Add((new KeptSighting(sighting), packet, sighting.Generated?.Frame.ToArray()));

        public void Decide(long sightingNumber, FidelityOutcome outcome) => Decided.Add(sightingNumber, outcome);
    }

    internal static (ReplaySummary Summary, List<(KeptSighting S, DecodedPacket P, byte[]? Bytes)> Rows, Dictionary<long, FidelityOutcome> Decided) Replay(string scenario)
    {
        string dir = Path.Combine(Corpus.Root, "datasets", scenario);
        var snapshot = HostSnapshot.Load(Path.Combine(dir, "snapshot"));
        // docker-host's conntrack.txt is the table when the capture started; the kernel suite's is the one at its end.
        var host = NfHost.Create(snapshot, new NfHostOptions { LoadConntrack = scenario == "docker-host" });
        var sink = new Sink();
        var summary = new ReplayJob(snapshot, host).Run([CaptureSource.Parse(Path.Combine(dir, "captures", "any.pcap"))], sink);
        return (summary, sink.Rows, sink.Decided);
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void At_least_999_per_mille_of_observed_egress_is_explained(string scenario)
    {
        var (summary, rows, decided) = Replay(scenario);
        var f = summary.Fidelity;
        output.WriteLine($"{scenario}: " + f.Format());
        Assert.True(f.ObservedEgress > 0);
        Assert.True(f.ExplainedShare >= 0.999, f.Format());
        Assert.Equal(0, f.PredictedUnseen);

        // Every entry row that awaited an outcome got exactly one, and only those.
        var awaiting = rows.Where(r => r.S.AwaitsOutcome).Select(r => r.S.SightingNumber).ToHashSet();
        Assert.Equal(awaiting.Order(), decided.Keys.Order());
    }

    [Fact]
    public void Docker_host_every_packet_seen_leaving_is_explained()
    {
        // The re-recorded demo: 66 packets leave the host (forwarded, bridged, the host's own, its replies).
        var f = Replay("docker-host").Summary.Fidelity;
        Assert.Equal(f.ObservedEgress, f.Explained);
        Assert.Equal(0, f.Unexplained);
    }

    [Fact]
    public void Port_clash_differs_only_in_the_port_the_kernel_searched()
    {
        var (summary, _, _) = Replay("home-router-port-clash");
        var f = summary.Fidelity;
        output.WriteLine(f.Format());
        Assert.Equal(1, f.NatPortDiffers);
        Assert.Equal(0, f.NatOtherDiffers);
        Assert.Equal(0, f.Count(FidelityOutcome.OtherInterface));
        Assert.Equal(0, f.PredictedUnseen);

        // The clashing connection's first packet differs; once its port is taken from the capture, its
        // later packets and the server's replies to the kernel's port are explained (before: 7 of them
        // were dropped for want of a connection, seen_though_dropped).
        Assert.Equal(0, f.Count(FidelityOutcome.SeenThoughDropped));
        Assert.Equal(f.ObservedEgress - 1, f.Explained);
    }
}
