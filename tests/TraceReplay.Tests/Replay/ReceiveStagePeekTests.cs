using System.Runtime.CompilerServices;
using TraceReplay.Capture;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;
using TraceReplay.Capture.Writers;
using TraceReplay.Replay.Pipeline;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Replay;

/// <summary>
/// ReceiveStage.PeekPacket, the loop's look-ahead for its conntrack prefetch: a packet further on is
/// the one the stream will yield that many sightings later (the capture is written with each frame's
/// number as its UDP source port, so the expected values are the file's own order), and none past the
/// end of the batch in memory.
/// </summary>
public sealed class ReceiveStagePeekTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-peek-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_peeked_packet_is_the_one_yielded_that_many_sightings_later()
    {
        // More frames than a batch holds (PacketBatch.Capacity), so peeks meet batch ends.
        const int frames = 300;
        string path = Path.Combine(_dir, "seq.pcap");
        using (var w = PcapWriter.Create(path, LinkType.Ethernet))
        {
            for (int i = 0; i < frames; i++)
                w.Write(1000L * (i + 1), Frames.UdpV4("10.0.0.1", (ushort)(1000 + i), "10.0.0.2", 53));
        }
        using var stream = new PacketStream([new CaptureSource(path, "eth0")]);
        using var stage = new ReceiveStage(stream);
        var peeked = new Dictionary<(int At, int Ahead), int>();
        int n = 0;
        while (stage.MoveNext())
        {
            Assert.Equal(1000 + n, stage.Packet.SrcPort);
            foreach (int ahead in (ReadOnlySpan<int>)[1, 2, 4])
            {
                ref readonly var p = ref stage.PeekPacket(ahead);
                if (!Unsafe.IsNullRef(in p))
                    peeked[(n, ahead)] = p.SrcPort;
            }
            n++;
        }
        Assert.Equal(frames, n);
        // Most sightings see ahead (within their batch); the last ones of the capture see nothing.
        Assert.True(peeked.Count > frames, $"only {peeked.Count} peeks were answered");
        foreach (var ((at, ahead), port) in peeked)
        {
            Assert.True(at + ahead < frames);
            Assert.Equal(1000 + at + ahead, port);
        }
        Assert.DoesNotContain((frames - 1, 1), peeked.Keys);
    }
}
