using TraceReplay.Capture.Readers;

namespace TraceReplay.Capture.Merge;

/// <summary>
/// A k-way merge of readers into one stream ordered by time, ties broken by reader position then record
/// order (stable), so the same inputs always give the same sequence. Holds one record per reader:
/// memory does not depend on file sizes.
/// </summary>
public sealed class CaptureMerger
{
    private readonly CaptureReader[] _readers;
    private readonly int[] _heap;
    private int _count;
    private int _current = -1;
    private bool _started;

    public CaptureMerger(IReadOnlyList<CaptureReader> readers)
    {
        ArgumentNullException.ThrowIfNull(readers);
        _readers = [.. readers];
        _heap = new int[_readers.Length];
    }

    /// <summary>The reader (by position in the list given) holding the current record.</summary>
    public int CurrentSource => _current;

    public CaptureReader CurrentReader => _readers[_current];

    /// <exception cref="CaptureFormatException">A reader met a bad record under <see cref="BadRecordPolicy.Stop"/>.</exception>
    public bool MoveNext()
    {
        if (!_started)
        {
            _started = true;
            for (int i = 0; i < _readers.Length; i++)
            {
                if (_readers[i].MoveNext())
                    Push(i);
            }
        }
        else if (_current >= 0)
        {
            // The top of the heap is the reader we emitted last: advance it in place.
            if (_readers[_current].MoveNext())
                SiftDown(0);
            else
                RemoveTop();
        }
        if (_count == 0)
        {
            _current = -1;
            return false;
        }
        _current = _heap[0];
        return true;
    }

    private bool Less(int a, int b)
    {
        long ta = _readers[a].OrderNs, tb = _readers[b].OrderNs;
        return ta < tb || (ta == tb && a < b);
    }

    private void Push(int reader)
    {
        int i = _count++;
        _heap[i] = reader;
        while (i > 0)
        {
            int parent = (i - 1) / 2;
            if (!Less(_heap[i], _heap[parent]))
                break;
            (_heap[i], _heap[parent]) = (_heap[parent], _heap[i]);
            i = parent;
        }
    }

    private void RemoveTop()
    {
        _heap[0] = _heap[--_count];
        if (_count > 0)
            SiftDown(0);
    }

    private void SiftDown(int i)
    {
        while (true)
        {
            int left = (2 * i) + 1, smallest = i;
            if (left < _count && Less(_heap[left], _heap[smallest]))
                smallest = left;
            if (left + 1 < _count && Less(_heap[left + 1], _heap[smallest]))
                smallest = left + 1;
            if (smallest == i)
                return;
            (_heap[i], _heap[smallest]) = (_heap[smallest], _heap[i]);
            i = smallest;
        }
    }
}
