namespace TraceReplay.Tests.Support;

/// <summary>
/// Tests that measure the managed heap (GC.GetTotalMemory before and after building a million
/// entries) run alone: another test allocating at the same time would be counted as theirs.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurement
{
    public const string Name = "memory measurement";
}
