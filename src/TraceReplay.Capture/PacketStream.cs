using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Merge;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;

namespace TraceReplay.Capture;

/// <summary>
/// The receive and decode stages: every capture file merged by time, each frame decoded and given its
/// capture point. One instance per run; <see cref="MoveNext"/> allocates nothing.
/// </summary>
public sealed class PacketStream : IDisposable
{
    private readonly CaptureReader[] _readers;
    private readonly CaptureMerger _merger;
    private DecodedPacket _packet;

    /// <exception cref="CaptureFormatException">A file is not a capture.</exception>
    public PacketStream(IReadOnlyList<CaptureSource> sources, InterfaceTable? host = null, BadRecordPolicy policy = BadRecordPolicy.Stop)
    {
        ArgumentNullException.ThrowIfNull(sources);
        Sources = sources;
        _readers = new CaptureReader[sources.Count];
        try
        {
            for (int i = 0; i < sources.Count; i++)
                _readers[i] = CaptureFile.Open(sources[i].Path, policy);
        }
        catch
        {
            Dispose();
            throw;
        }
        _merger = new CaptureMerger(_readers);
        Points = new CapturePoints(sources, host ?? InterfaceTable.Empty);
    }

    public IReadOnlyList<CaptureSource> Sources { get; }
    public IReadOnlyList<CaptureReader> Readers => _readers;
    public CapturePoints Points { get; }

    /// <summary>1-based position of the current packet in the merged stream.</summary>
    public long PacketNumber { get; private set; }
    public int Source => _merger.CurrentSource;
    public ref readonly CaptureRecord Record => ref _merger.CurrentReader.Current;
    public ReadOnlySpan<byte> Frame => _merger.CurrentReader.Data;
    public ref readonly DecodedPacket Packet => ref _packet;
    public int Point { get; private set; }
    public PacketDirection Direction { get; private set; }

    public bool MoveNext()
    {
        if (!_merger.MoveNext())
            return false;
        PacketNumber++;
        var reader = _merger.CurrentReader;
        ref readonly var record = ref reader.Current;
        PacketDecoder.Decode(reader.Data, record.LinkType, record.WireLength, out _packet);
        Point = Points.Resolve(_merger.CurrentSource, reader, record, _packet, out var direction);
        Direction = direction;
        return true;
    }

    public void Dispose()
    {
        foreach (var r in _readers)
            r?.Dispose();
    }
}
