using TraceReplay.Replay.Fidelity;
using TraceReplay.Store;

namespace TraceReplay.Replay.Pipeline;

/// <summary>
/// packets.observed and the fidelity table. A packet's entry row learns its outcome only when its
/// window closes, so rows wait here, in order, from the first row still awaiting an outcome until it
/// is decided: rows keep their order in the database and memory holds one window's rows.
/// </summary>
public sealed partial class RunDatabaseSink
{
    private readonly Queue<(PacketRow Row, bool Awaits)> _held = new();
    private readonly Dictionary<long, FidelityOutcome> _decided = [];

    private void Hold(in PacketRow row, in ReplayedSighting s)
    {
        var r = row;
        r.Observed = FidelityOutcomes.Name(s.Observed);
        if (_held.Count == 0 && !s.AwaitsOutcome)
        {
            _writer.AddPacket(r);
            return;
        }
        _held.Enqueue((r, s.AwaitsOutcome));
    }

    public void Decide(long sightingNumber, FidelityOutcome outcome)
    {
        _decided[sightingNumber] = outcome;
        Release();
    }

    private void Release()
    {
        while (_held.Count > 0)
        {
            var (row, awaits) = _held.Peek();
            if (awaits)
            {
                if (!_decided.Remove(row.Id, out var o))
                    return;
                row.Observed = FidelityOutcomes.Name(o);
            }
            _held.Dequeue();
            _writer.AddPacket(row);
        }
    }

    /// <summary>The rows still held (a run stopped early leaves some undecided: NULL), then the fidelity table.</summary>
    private void CompleteFidelity(ReplaySummary summary)
    {
        Release();
        while (_held.TryDequeue(out var h))
            _writer.AddPacket(h.Row);
        _decided.Clear();
        foreach (var (metric, packets, examples, detail) in summary.Fidelity.Rows())
            _writer.AddFidelity(metric, packets, examples, detail);
    }
}
