namespace TraceReplay.Replay.Pipeline;

/// <summary>
/// Gives the memory of outgrown tables back. The conntrack, NAT and correlator tables grow by
/// doubling, and each doubling leaves the old arrays as garbage (hundreds of MB at a million
/// connections). The replay allocates nothing per packet in the steady state, so no collection ever
/// comes to free them: they stayed committed for the rest of the run (scale run: managed heap 800 MB,
/// 477 MB of it live). Checked every 2^20 sightings: when the heap grew by more than
/// <see cref="GrowthThreshold"/> since the last full collection, one more is made — a handful per run,
/// each right after a table outgrew its arrays, never in the steady state. The threshold grows with
/// the heap (a quarter of it, at least 64 MB), so a run that does allocate as it goes (`--trace`) or
/// whose live tables keep growing pays a full collection per quarter of growth, not per 64 MB.
/// </summary>
internal struct HeapTrim
{
    private const long MinGrowthBytes = 64L << 20;

    private long _afterLast;

    /// <summary>The collections this instance made.</summary>
    public int Collections { get; private set; }

    public static HeapTrim Start() => new() { _afterLast = GC.GetTotalMemory(forceFullCollection: false) };

    /// <summary>How much the heap may grow past its size after the last full collection before the next.</summary>
    public readonly long GrowthThreshold => Math.Max(MinGrowthBytes, _afterLast / 4);

    public void Check()
    {
        long now = GC.GetTotalMemory(forceFullCollection: false);
        if (now - _afterLast < GrowthThreshold)
            return;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
        Collections++;
        _afterLast = GC.GetTotalMemory(forceFullCollection: false);
    }
}
