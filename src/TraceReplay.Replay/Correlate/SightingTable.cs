using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace TraceReplay.Replay.Correlate;

/// <summary>
/// The correlator's groups by fingerprint: an open-addressing table of structs with linear probing
/// and backward-shift deletion (no tombstones, so probe lengths stay short however long the replay).
/// It replaces a Dictionary whose entry indirection and second lookup per update showed in profiles:
/// <see cref="Find"/> returns a reference to update in place. Keys are fingerprints, already avalanched,
/// so their low bits index the table directly; 0 marks an empty slot and is stored as 1.
/// </summary>
internal sealed class SightingTable<T> where T : struct
{
    private struct Slot
    {
        public ulong Key;
        public T Value;
    }

    private Slot[] _slots = new Slot[1024];
    private int _count;

    public int Count => _count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Stored(ulong key) => key == 0 ? 1 : key;

    /// <summary>The value of <paramref name="key"/>, or a null reference (test with Unsafe.IsNullRef).</summary>
    public ref T Find(ulong key)
    {
        key = Stored(key);
        var slots = _slots;
        int mask = slots.Length - 1;
        for (int i = (int)key & mask; ; i = (i + 1) & mask)
        {
            ref Slot s = ref slots[i];
            if (s.Key == key)
                return ref s.Value;
            if (s.Key == 0)
                return ref Unsafe.NullRef<T>();
        }
    }

    /// <summary>
    /// Starts loading the home slot of <paramref name="key"/> into the cache, as a NIC driver
    /// prefetch()es the next descriptor's data before it needs it: the table outgrows the cache, so a
    /// lookup a sighting later finds its slot there instead of waiting on memory. A hint only (an
    /// x86 prefetch never faults, and the table may have grown since): no effect on any result.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Prefetch(ulong key)
    {
        if (!Sse.IsSupported)
            return;
        var slots = _slots;
        Sse.Prefetch0(Unsafe.AsPointer(ref slots[(int)Stored(key) & (slots.Length - 1)]));
    }

    /// <summary>Inserts or replaces the value of <paramref name="key"/>.</summary>
    public void Set(ulong key, in T value)
    {
        key = Stored(key);
        if ((_count + 1) * 2 > _slots.Length)
            Grow();
        var slots = _slots;
        int mask = slots.Length - 1;
        for (int i = (int)key & mask; ; i = (i + 1) & mask)
        {
            ref Slot s = ref slots[i];
            if (s.Key == key)
            {
                s.Value = value;
                return;
            }
            if (s.Key == 0)
            {
                s.Key = key;
                s.Value = value;
                _count++;
                return;
            }
        }
    }

    /// <summary>Removes <paramref name="key"/>, moving later members of its probe run back into the hole (Knuth's algorithm R).</summary>
    public void Remove(ulong key)
    {
        key = Stored(key);
        var slots = _slots;
        int mask = slots.Length - 1;
        int hole = (int)key & mask;
        while (slots[hole].Key != key)
        {
            if (slots[hole].Key == 0)
                return;
            hole = (hole + 1) & mask;
        }
        _count--;
        for (int i = (hole + 1) & mask; slots[i].Key != 0; i = (i + 1) & mask)
        {
            int home = (int)slots[i].Key & mask;
            // Move i back when its home is not cyclically within (hole, i].
            if (((i - home) & mask) >= ((i - hole) & mask))
            {
                slots[hole] = slots[i];
                hole = i;
            }
        }
        slots[hole] = default;
    }

    private void Grow()
    {
        var old = _slots;
        _slots = new Slot[old.Length * 2];
        _count = 0;
        foreach (ref readonly Slot s in old.AsSpan())
        {
            if (s.Key != 0)
                Set(s.Key, s.Value);
        }
    }
}
