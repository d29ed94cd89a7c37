namespace TraceReplay.Store;

public sealed partial class RunWriter
{
    /// <summary>A row of `fidelity`: one measure of observed egress against the prediction, with example packet ids.</summary>
    public void AddFidelity(string metric, long packets, string? examples, string? detail)
    {
        var t = _fidelity;
        var b = t.Buffer;
        b.Text(metric);
        b.I64(packets);
        b.Text(examples);
        b.Text(detail);
        EndRow(t);
    }
}
