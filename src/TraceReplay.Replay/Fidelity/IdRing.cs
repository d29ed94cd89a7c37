using System.Runtime.CompilerServices;

namespace TraceReplay.Replay.Fidelity;

/// <summary>
/// Values keyed by packet id in a direct-mapped ring (slot = id modulo its size): the ids of the
/// packets a window holds are consecutive, so each has a slot of its own and a lookup is one index and
/// one compare — no hash, no probing, no entries moved on removal. When a new id's slot is still held
/// by a live older one the ring doubles until every live id has its own slot again, so its size
/// follows the span of live ids, as memory follows the window. Ids are not negative; a slot holds its
/// id plus one, so 0 marks a free one.
/// </summary>
internal sealed class IdRing<T> where T : struct
{
    private struct Slot
    {
        public long Tag; // id + 1; 0: free
        public T Value;
    }

    private Slot[] _slots = new Slot[1024];

    /// <summary>The value of <paramref name="id"/>, or a null reference (test with Unsafe.IsNullRef).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref T Find(long id)
    {
        var slots = _slots;
        ref Slot s = ref slots[(int)id & (slots.Length - 1)];

        // A free slot's tag is 0, which is what id -1 would be tagged: no negative id is ever present.
        if (s.Tag == id + 1 && id >= 0)
            return ref s.Value;
        return ref Unsafe.NullRef<T>();
    }

    /// <summary>The slot of <paramref name="id"/>, taken for it (its old value, if it had one, is kept).</summary>
    public ref T Add(long id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        while (true)
        {
            var slots = _slots;
            ref Slot s = ref slots[(int)id & (slots.Length - 1)];
            if (s.Tag == id + 1 || s.Tag == 0)
            {
                s.Tag = id + 1;
                return ref s.Value;
            }
            Grow();
        }
    }

    /// <summary>Frees the slot of <paramref name="id"/> (its value is left behind, overwritten by the next owner).</summary>
    public void Remove(long id)
    {
        var slots = _slots;
        ref Slot s = ref slots[(int)id & (slots.Length - 1)];
        if (s.Tag == id + 1 && id >= 0)
            s.Tag = 0;
    }

    private void Grow()
    {
        var old = _slots;
        for (int size = old.Length * 2; ; size *= 2)
        {
            var slots = new Slot[size];
            bool clash = false;
            foreach (ref readonly Slot s in old.AsSpan())
            {
                if (s.Tag == 0)
                    continue;
                ref Slot d = ref slots[(int)(s.Tag - 1) & (size - 1)];
                if (d.Tag != 0)
                {
                    clash = true;
                    break;
                }
                d = s;
            }
            if (!clash)
            {
                _slots = slots;
                return;
            }
        }
    }
}
