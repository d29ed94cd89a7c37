using System.Runtime.CompilerServices;
using TraceReplay.Replay.Fidelity;

namespace TraceReplay.Tests.Replay.Fidelity;

/// <summary>
/// The fidelity tracker's ring of pending packets keeps the meaning of the dictionary it replaced: a
/// value is found by its id until it is removed, whatever ids live beside it. The ring starts with
/// 1024 slots, so ids 1024 apart share a slot and the later one must grow it, not take the slot.
/// </summary>
public sealed class IdRingTests
{
    [Fact]
    public void An_id_is_found_until_removed_and_id_zero_is_an_id()
    {
        var ring = new IdRing<long>();
        Assert.True(Unsafe.IsNullRef(ref ring.Find(0)));
        ring.Add(0) = 10;
        ring.Add(1) = 11;
        Assert.Equal(10, ring.Find(0));
        Assert.Equal(11, ring.Find(1));
        ring.Remove(0);
        Assert.True(Unsafe.IsNullRef(ref ring.Find(0)));
        Assert.Equal(11, ring.Find(1));
    }

    [Fact]
    public void A_negative_id_is_never_found_not_even_in_a_free_slot()
    {
        // Slot 1023 is free (tag 0), and -1 & 1023 = 1023: a tag of id + 1 would say -1 lives there.
        var ring = new IdRing<long>();
        ring.Add(1023) = 7;
        ring.Remove(1023);
        Assert.True(Unsafe.IsNullRef(ref ring.Find(-1)));
        ring.Add(5) = 5;
        ring.Remove(-1);
        Assert.Equal(5, ring.Find(5));
    }

    [Fact]
    public void A_live_id_in_the_new_ids_slot_grows_the_ring_and_keeps_both()
    {
        var ring = new IdRing<long>();
        ring.Add(5) = 500;
        ring.Add(5 + 1024) = 1029;   // same slot of 1024: grows to 2048, where they differ
        ring.Add(5 + 8192) = 8197;   // same slot as 5 at 2048 and 4096 too: grows to 16384
        Assert.Equal(500, ring.Find(5));
        Assert.Equal(1029, ring.Find(5 + 1024));
        Assert.Equal(8197, ring.Find(5 + 8192));
        Assert.True(Unsafe.IsNullRef(ref ring.Find(5 + 16384)));
    }

    [Fact]
    public void A_removed_ids_slot_is_taken_by_the_next_id_without_growing()
    {
        var ring = new IdRing<long>();
        for (long id = 1; id <= 100_000; id++)
        {
            ring.Add(id) = id * 2;
            if (id > 100)
            {
                Assert.Equal((id - 100) * 2, ring.Find(id - 100));
                ring.Remove(id - 100);
            }
        }
        // 100 live ids at a time fit the first 1024 slots: the last ones are there, the removed ones gone.
        Assert.Equal(200_000, ring.Find(100_000));
        Assert.True(Unsafe.IsNullRef(ref ring.Find(99_900)));
    }
}
