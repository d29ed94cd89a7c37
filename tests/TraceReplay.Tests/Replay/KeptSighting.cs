using TraceReplay.Capture.Readers;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Reject;
using TraceReplay.Replay.Correlate;
using TraceReplay.Replay.Fidelity;
using TraceReplay.Replay.Pipeline;

namespace TraceReplay.Tests.Replay;

/// <summary>
/// A copy of a <see cref="ReplayedSighting"/> (a ref struct, valid only during the sink's call) for
/// tests that keep the rows: the same member names, the hook result copied by value.
/// </summary>
internal readonly struct KeptSighting(in ReplayedSighting s)
{
    public long SightingNumber { get; } = s.SightingNumber;
    public Sighting Sighting { get; } = s.Sighting;
    public SightingHandling Handling { get; } = s.Handling;
    public string Point { get; } = s.Point;
    public PacketDirection Direction { get; } = s.Direction;
    public long TimeNs { get; } = s.TimeNs;
    public NfHookResult Result { get; } = s.Result;

    /// <summary>The host's reused generated packet, as the row had it (its bytes change with the next one).</summary>
    public NfGeneratedPacket? Generated { get; } = s.Generated;
    public FidelityOutcome Observed { get; } = s.Observed;
    public bool AwaitsOutcome { get; } = s.AwaitsOutcome;
}
