namespace TraceReplay.Store;

/// <summary>A row of <c>fidelity</c> read back.</summary>
public sealed record RunFidelityRow(string Metric, long Packets, string? Examples, string? Detail);

public sealed partial class RunReader
{
    /// <summary>The run's fidelity rows in the order they were written; empty for a run made before the fidelity check existed.</summary>
    public IReadOnlyList<RunFidelityRow> Fidelity() => HasTable("fidelity")
        ? Query("SELECT metric, packets, examples, detail FROM fidelity", r => new RunFidelityRow(r.GetString(0), I64(r, 1), StrOrNull(r, 2), StrOrNull(r, 3)))
        : [];
}
