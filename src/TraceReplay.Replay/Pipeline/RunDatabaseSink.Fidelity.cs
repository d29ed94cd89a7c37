using TraceReplay.Replay.Fidelity;
using TraceReplay.Store;

namespace TraceReplay.Replay.Pipeline;

/// <summary>
/// packets.observed and the fidelity table. A packet's entry row learns its outcome only when its
/// window closes, so rows wait (<see cref="HeldRows"/>), in order, from the first row still awaiting
/// an outcome until it is decided: rows keep their order in the database and memory holds one
/// window's rows.
/// </summary>
public sealed partial class RunDatabaseSink
{
    private HeldRows? _heldRows;

    private HeldRows Held => _heldRows ??= new HeldRows(_writer);

    // packets.observed's text handle per outcome, plus one (0: not yet asked).
    private readonly int[] _observed = new int[(int)FidelityOutcome.NotSimulated + 1];

    private int ObservedHandle(FidelityOutcome o)
    {
        if ((uint)o >= (uint)_observed.Length)
            return _writer.TextHandle(FidelityOutcomes.Name(o));
        ref int h = ref _observed[(int)o];
        if (h == 0)
            h = _writer.TextHandle(FidelityOutcomes.Name(o)) + 1;
        return h - 1;
    }

    private void Hold(ref PacketRecord row, in ReplayedSighting s)
    {
        row.Observed = ObservedHandle(s.Observed);
        Held.Add(row, s.AwaitsOutcome);
    }

    public void Decide(long sightingNumber, FidelityOutcome outcome) => Held.Decide(sightingNumber, ObservedHandle(outcome));

    /// <summary>The rows still held (a run stopped early leaves some undecided: their observed as added, NULL), then the fidelity table.</summary>
    private void CompleteFidelity(ReplaySummary summary)
    {
        Held.Flush();
        foreach (var (metric, packets, examples, detail) in summary.Fidelity.Rows())
            _writer.AddFidelity(metric, packets, examples, detail);
    }

    /// <summary>
    /// The rows waiting for an outcome, and those after them, as values in a ring (no references, so
    /// no write barriers). An outcome is written into its row where it waits, found by sighting
    /// number through an <see cref="IdRing{T}"/> of held positions (the numbers awaiting at once span
    /// one window, as the fidelity tracker's packet ids do), rather than kept in a table of outcomes;
    /// rows go to the writer in the order added as soon as none before them awaits.
    /// </summary>
    internal sealed class HeldRows(RunWriter writer)
    {
        // Absolute positions [_head, _tail); slot = position & (length - 1).
        private PacketRecord[] _rows = new PacketRecord[1024];
        private bool[] _awaits = new bool[1024];
        private long _head, _tail;

        // Captured sightings are numbered 1, 2, … and the host's own packets -1, -2, … (ReplayJob.AddGenerated):
        // an index of the awaiting ones' held positions for each, by the number's magnitude.
        private readonly IdRing<long> _captured = new(), _generated = new();

        /// <summary>Rows held now (tests).</summary>
        public long Count => _tail - _head;

        /// <summary>A row (its <see cref="PacketRecord.Id"/> the sighting number); with <paramref name="awaits"/>, it waits for <see cref="Decide"/>.</summary>
        public void Add(in PacketRecord row, bool awaits)
        {
            if (_head == _tail && !awaits)
            {
                writer.AddPacket(row);
                return;
            }
            if (_tail - _head == _rows.Length)
                Grow();
            long pos = _tail++;
            int slot = (int)(pos & (_rows.Length - 1));
            _rows[slot] = row;
            _awaits[slot] = awaits;
            if (awaits)
                IndexOf(row.Id).Add(Math.Abs(row.Id)) = pos;
        }

        private IdRing<long> IndexOf(long sightingNumber) => sightingNumber >= 0 ? _captured : _generated;

        /// <summary>Sets the observed text (a handle) of the awaiting row numbered <paramref name="sightingNumber"/>; a number with no awaiting row is ignored.</summary>
        public void Decide(long sightingNumber, int observed)
        {
            var index = IndexOf(sightingNumber);
            long key = Math.Abs(sightingNumber);
            ref long held = ref index.Find(key);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref held))
                return;
            long pos = held;
            index.Remove(key);
            int slot = (int)(pos & (_rows.Length - 1));
            _rows[slot].Observed = observed;
            _awaits[slot] = false;
            Release();
        }

        /// <summary>Every row still held, decided or not, in order (the end of the run).</summary>
        public void Flush()
        {
            int mask = _rows.Length - 1;
            for (; _head < _tail; _head++)
            {
                ref readonly var row = ref _rows[_head & mask];
                if (_awaits[_head & mask])
                {
                    IndexOf(row.Id).Remove(Math.Abs(row.Id));
                    _awaits[_head & mask] = false;
                }
                writer.AddPacket(row);
            }
        }

        private void Release()
        {
            int mask = _rows.Length - 1;
            while (_head < _tail && !_awaits[_head & mask])
            {
                writer.AddPacket(_rows[_head & mask]);
                _head++;
            }
        }

        private void Grow()
        {
            var rows = new PacketRecord[_rows.Length * 2];
            var awaits = new bool[rows.Length];
            for (long p = _head; p < _tail; p++)
            {
                rows[p & (rows.Length - 1)] = _rows[p & (_rows.Length - 1)];
                awaits[p & (rows.Length - 1)] = _awaits[p & (_rows.Length - 1)];
            }
            (_rows, _awaits) = (rows, awaits);
        }
    }
}
