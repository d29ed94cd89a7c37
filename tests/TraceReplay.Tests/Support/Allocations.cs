namespace TraceReplay.Tests.Support;

/// <summary>
/// Allocation tests for hot paths. Tiered compilation's own bookkeeping can allocate on the test
/// thread in any round while a loaded machine delays tier-up, so a single measurement is flaky;
/// code that allocates per packet allocates in every round, so the quietest of several rounds is
/// 0 exactly when the code itself allocates nothing.
/// </summary>
public static class Allocations
{
    /// <summary>The fewest bytes this thread allocated over up to <paramref name="rounds"/> runs of <paramref name="round"/> (stops at the first 0).</summary>
    public static long Quietest(Action round, int rounds = 10)
    {
        ArgumentNullException.ThrowIfNull(round);
        long quietest = long.MaxValue;
        for (int i = 0; i < rounds && quietest != 0; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            round();
            quietest = Math.Min(quietest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return quietest;
    }
}
