using TraceReplay.Replay.Fidelity;
using TraceReplay.Store;

namespace TraceReplay.Replay.Pipeline;

/// <summary>
/// packets.observed and the fidelity table. A packet's entry row learns its outcome only when its
/// window closes, so rows wait here, in order, from the first row still awaiting an outcome until it
/// is decided: rows keep their order in the database and memory holds one window's rows. The rows
/// wait as values in a ring (no references, so no write barriers), and an outcome is written into
/// its row where it waits, found by sighting number through <see cref="AwaitIndex"/>: no table of
/// outcomes to add to and remove from per packet.
/// </summary>
public sealed partial class RunDatabaseSink
{
    // The held rows: absolute positions [_heldHead, _heldTail), slot = position & (length - 1).
    private PacketRecord[] _held = new PacketRecord[1024];
    private bool[] _awaits = new bool[1024];
    private long _heldHead, _heldTail;

    // Captured sightings are numbered 1, 2, … and the host's own packets -1, -2, … (ReplayJob.AddGenerated),
    // each in the order they are added: two indexes, each ordered by the number's magnitude.
    private readonly AwaitIndex _awaitingCaptured = new(), _awaitingGenerated = new();

    // packets.observed's text handle per outcome (0: not yet asked).
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
        bool awaits = s.AwaitsOutcome;
        if (_heldHead == _heldTail && !awaits)
        {
            _writer.AddPacket(row);
            return;
        }
        if (_heldTail - _heldHead == _held.Length)
            GrowHeld();
        long pos = _heldTail++;
        int slot = (int)(pos & (_held.Length - 1));
        _held[slot] = row;
        _awaits[slot] = awaits;
        if (awaits)
            (row.Id >= 0 ? _awaitingCaptured : _awaitingGenerated).Add(Math.Abs(row.Id), pos);
    }

    private void GrowHeld()
    {
        var held = new PacketRecord[_held.Length * 2];
        var awaits = new bool[held.Length];
        for (long p = _heldHead; p < _heldTail; p++)
        {
            held[p & (held.Length - 1)] = _held[p & (_held.Length - 1)];
            awaits[p & (held.Length - 1)] = _awaits[p & (_held.Length - 1)];
        }
        (_held, _awaits) = (held, awaits);
    }

    public void Decide(long sightingNumber, FidelityOutcome outcome)
    {
        long pos = (sightingNumber >= 0 ? _awaitingCaptured : _awaitingGenerated).Find(Math.Abs(sightingNumber));
        if (pos < _heldHead)
            return;
        int slot = (int)(pos & (_held.Length - 1));
        if (!_awaits[slot])
            return;
        _held[slot].Observed = ObservedHandle(outcome);
        _awaits[slot] = false;
        Release();
    }

    private void Release()
    {
        int mask = _held.Length - 1;
        while (_heldHead < _heldTail && !_awaits[_heldHead & mask])
        {
            _writer.AddPacket(_held[_heldHead & mask]);
            _heldHead++;
        }
        _awaitingCaptured.TrimBelow(_heldHead);
        _awaitingGenerated.TrimBelow(_heldHead);
    }

    /// <summary>The rows still held (a run stopped early leaves some undecided: their observed as added, NULL), then the fidelity table.</summary>
    private void CompleteFidelity(ReplaySummary summary)
    {
        Release();
        int mask = _held.Length - 1;
        for (; _heldHead < _heldTail; _heldHead++)
            _writer.AddPacket(_held[_heldHead & mask]);
        _awaitingCaptured.TrimBelow(_heldHead);
        _awaitingGenerated.TrimBelow(_heldHead);
        foreach (var (metric, packets, examples, detail) in summary.Fidelity.Rows())
            _writer.AddFidelity(metric, packets, examples, detail);
    }

    /// <summary>
    /// (key, held position) of the rows awaiting an outcome, in the order held, keys increasing: a
    /// ring searched from its oldest entry (outcomes come nearly in order) and else by halving.
    /// Entries of rows already written are dropped from the front.
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

        /// <summary>The held position of <paramref name="key"/>; -1 when no row awaits under it.</summary>
        public long Find(long key)
        {
            int mask = _keys.Length - 1;
            if (_count > 0 && _keys[_head] == key)
                return _pos[_head];
            int lo = 0, hi = _count - 1;
            while (lo <= hi)
            {
                int mid = (lo + hi) >>> 1;
                long k = _keys[(_head + mid) & mask];
                if (k == key)
                    return _pos[(_head + mid) & mask];
                if (k < key)
                    lo = mid + 1;
                else
                    hi = mid - 1;
            }
            return -1;
        }

        public void TrimBelow(long heldHead)
        {
            int mask = _keys.Length - 1;
            while (_count > 0 && _pos[_head] < heldHead)
            {
                _head = (_head + 1) & mask;
                _count--;
            }
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
