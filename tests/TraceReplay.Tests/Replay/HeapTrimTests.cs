using TraceReplay.Replay.Pipeline;

namespace TraceReplay.Tests.Replay;

/// <summary>HeapTrim: a full collection after the heap outgrew itself by its threshold (a quarter of it, at least 64 MB), none otherwise.</summary>
public sealed class HeapTrimTests
{
    [Fact]
    public void Outgrown_arrays_are_collected_once_the_heap_grew_past_the_threshold()
    {
        var trim = HeapTrim.Start();
        int full0 = GC.CollectionCount(2);
        // A table's doubling: the old array (32 MB past the threshold) is garbage once the new one
        // replaces it. Nothing else collects it here (no allocation follows), as in the steady state.
        int bytes = (int)(trim.GrowthThreshold + (32L << 20));
        var grown = Outgrow(bytes);
        long before = GC.GetTotalMemory(forceFullCollection: false);
        trim.Check();
        // Other tests run in parallel and may collect too: at least one full collection, and the dead
        // outgrown array is gone from the heap.
        Assert.Equal(1, trim.Collections);
        Assert.True(GC.CollectionCount(2) > full0, $"no full collection after {bytes >> 20} MB of garbage");
        Assert.True(GC.GetTotalMemory(forceFullCollection: false) < before - (bytes / 2), "the outgrown array is still counted");
        GC.KeepAlive(grown);
    }

    /// <summary>A table outgrowing its array: the old one is garbage when this returns (a method of its own, so no local of the caller keeps it alive).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static byte[] Outgrow(int bytes)
    {
        var table = new byte[bytes];
        table[^1] = 1;
        var grown = new byte[table.Length + 1];
        grown[^1] = table[^1];
        return grown;
    }

    [Fact]
    public void Below_the_threshold_it_leaves_the_heap_alone()
    {
        var trim = HeapTrim.Start();
        Assert.True(trim.GrowthThreshold >= 64L << 20);
        var small = new byte[8 << 20];
        small[0] = 1;
        trim.Check();
        // 8 MB of growth is under the threshold (other tests allocate meanwhile, but not 56 MB within these lines).
        Assert.Equal(0, trim.Collections);
        GC.KeepAlive(small);
    }
}
