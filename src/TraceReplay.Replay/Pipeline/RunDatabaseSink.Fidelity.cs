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
    /// number through an <see cref="AwaitIndex"/>, rather than kept in a table of outcomes added to
    /// and removed from per packet; rows go to the writer in the order added as soon as none before
    /// them awaits.
    /// </summary>
    internal sealed class HeldRows(RunWriter writer)
    {
        // Absolute positions [_head, _tail); slot = position & (length - 1).
        private PacketRecord[] _rows = new PacketRecord[1024];
        private bool[] _awaits = new bool[1024];
        private long _head, _tail;

        // Captured sightings are numbered 1, 2, … and the host's own packets -1, -2, … (ReplayJob.AddGenerated),
        // each in the order they are added: an index for each, ordered by the number's magnitude.
        private readonly AwaitIndex _captured = new(), _generated = new();

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
                (row.Id >= 0 ? _captured : _generated).Add(Math.Abs(row.Id), pos);
        }

        /// <summary>Sets the observed text (a handle) of the awaiting row numbered <paramref name="sightingNumber"/>; a number with no awaiting row is ignored.</summary>
        public void Decide(long sightingNumber, int observed)
        {
            var index = sightingNumber >= 0 ? _captured : _generated;
            long pos = index.Find(Math.Abs(sightingNumber));
            if (pos < _head)
                return;
            int slot = (int)(pos & (_rows.Length - 1));
            if (!_awaits[slot])
                return;
            _rows[slot].Observed = observed;
            _awaits[slot] = false;
            Release();
            // The oldest entries are usually decided first: keep the index's front an awaiting row, so the next lookup is one compare.
            Trim(index);
        }

        /// <summary>Every row still held, decided or not, in order (the end of the run).</summary>
        public void Flush()
        {
            int mask = _rows.Length - 1;
            for (; _head < _tail; _head++)
                writer.AddPacket(_rows[_head & mask]);
            Trim(_captured);
            Trim(_generated);
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

        private void Trim(AwaitIndex index)
        {
            int mask = _rows.Length - 1;
            while (index.TryPeek(out long pos) && (pos < _head || !_awaits[pos & mask]))
                index.Pop();
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

    /// <summary>
    /// (key, held position) of rows awaiting an outcome, keys increasing in the order added: a ring
    /// searched from its oldest entry and else by halving.
    /// </summary>
    private sealed class AwaitIndex
    {
        private long[] _keys = new long[256];
        private long[] _pos = new long[256];
        private int _head, _count;

        public void Add(long key, long pos)
        {
            if (_count == _keys.Length)
                Grow();
            int i = (_head + _count) & (_keys.Length - 1);
            _keys[i] = key;
            _pos[i] = pos;
            _count++;
        }

        /// <summary>The held position of <paramref name="key"/>; -1 when it has no entry.</summary>
        public long Find(long key)
        {
            if (_count > 0 && _keys[_head] == key)
                return _pos[_head];
            int mask = _keys.Length - 1;
            int lo = 0, hi = _count - 1;
            while (lo <= hi)
            {
                int mid = (lo + hi) >>> 1;
                int i = (_head + mid) & mask;
                long k = _keys[i];
                if (k == key)
                    return _pos[i];
                if (k < key)
                    lo = mid + 1;
                else
                    hi = mid - 1;
            }
            return -1;
        }

        public bool TryPeek(out long pos)
        {
            pos = _count > 0 ? _pos[_head] : -1;
            return _count > 0;
        }

        public void Pop()
        {
            _head = (_head + 1) & (_keys.Length - 1);
            _count--;
        }

        private void Grow()
        {
            var keys = new long[_keys.Length * 2];
            var pos = new long[keys.Length];
            for (int i = 0; i < _count; i++)
            {
                keys[i] = _keys[(_head + i) & (_keys.Length - 1)];
                pos[i] = _pos[(_head + i) & (_keys.Length - 1)];
            }
            (_keys, _pos, _head) = (keys, pos, 0);
        }
    }
}
