using System.Globalization;
using TraceReplay.Capture.Points;
using TraceReplay.Host;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Replay.Pipeline;

namespace TraceReplay.KernelTests;

/// <summary>
/// Not a check: a look at what the replay did with every sighting of a recording, for finding why a
/// scenario differs from the kernel. Runs when TRACEREPLAY_TRACE_DIR names a recording (a
/// datasets/&lt;scenario&gt; folder, or a scratch one kept with TRACEREPLAY_KEEP=1), otherwise skips.
/// </summary>
public sealed class ScenarioTraceTests(ITestOutputHelper output)
{
    private sealed class Printer(ITestOutputHelper o) : IReplaySink
    {
        public void Add(in ReplayedSighting s, in TraceReplay.Capture.Decode.DecodedPacket p) =>
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{s.SightingNumber} packet {s.Sighting.PacketId} {s.Handling} {s.Point} {s.Direction} proto {p.Protocol} {p.SrcPort}->{p.DstPort} fate {s.Result.Fate} ct {s.Result.CtState} drop {s.Result.DropDescription()} {s.Result.InDev}->{s.Result.OutDev}"));
    }

    [Fact]
    public void Trace_a_recording()
    {
        string dir = Environment.GetEnvironmentVariable("TRACEREPLAY_TRACE_DIR") ?? string.Empty;
        if (dir.Length == 0)
            Assert.Skip("set TRACEREPLAY_TRACE_DIR to a recording's folder to print its replay sighting by sighting");
        var snapshot = HostSnapshot.Load(Path.Combine(dir, "snapshot"));
        var host = NfHost.Create(snapshot);
        new ReplayJob(snapshot, host).Run([CaptureSource.Parse(Path.Combine(dir, "captures", "any.pcap"))], new Printer(output));
    }
}
