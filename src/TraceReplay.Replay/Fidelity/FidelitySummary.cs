using System.Globalization;
using System.Text;

namespace TraceReplay.Replay.Fidelity;

/// <summary>One packet worth looking at: its id (for `tracereplay trace`), its outcome and what was predicted and seen.</summary>
public sealed record FidelityExample(long PacketId, FidelityOutcome Outcome, string Detail);

/// <summary>
/// A run's fidelity (issue 6): of the real packets seen leaving the host (observed egress), how many
/// the simulation explains, and why not the others; predicted egress never seen is counted apart
/// (the capture may have missed it, or the simulation may be wrong), as are NAT port differences.
/// </summary>
public sealed record FidelitySummary(IReadOnlyDictionary<FidelityOutcome, long> Counts, IReadOnlyList<FidelityExample> Examples)
{
    public long Count(FidelityOutcome o) => Counts.TryGetValue(o, out long n) ? n : 0;

    public long ObservedEgress => Counts.Where(c => FidelityOutcomes.IsObservedEgress(c.Key)).Sum(c => c.Value);

    public long Explained => Count(FidelityOutcome.Explained);

    /// <summary>Observed egress neither explained nor only a NAT port away from it.</summary>
    public long Unexplained => ObservedEgress - Explained - Count(FidelityOutcome.NatPortDiffers);

    public long PredictedUnseen => Count(FidelityOutcome.PredictedUnseen);

    public long NatPortDiffers => Count(FidelityOutcome.NatPortDiffers);

    public long NatOtherDiffers => Count(FidelityOutcome.NatOtherDiffers);

    /// <summary>Explained share of observed egress (1 when nothing was seen leaving).</summary>
    public double ExplainedShare => ObservedEgress == 0 ? 1 : (double)Explained / ObservedEgress;

    /// <summary>The rows of the run database's fidelity table: (metric, packets, examples, detail).</summary>
    public IEnumerable<(string Metric, long Packets, string? Examples, string? Detail)> Rows()
    {
        yield return ("observed_egress", ObservedEgress, null, null);
        yield return ("explained", Explained, null, null);
        yield return ("unexplained", Unexplained, null, null);
        foreach (var o in new[] { FidelityOutcome.NatPortDiffers, FidelityOutcome.NatOtherDiffers, FidelityOutcome.PredictedUnseen, FidelityOutcome.SeenThoughDropped, FidelityOutcome.OtherInterface, FidelityOutcome.NotSimulated, FidelityOutcome.NotApplicable })
        {
            var ex = Examples.Where(e => e.Outcome == o).ToList();
            yield return (FidelityOutcomes.Name(o)!, Count(o), ex.Count == 0 ? null : string.Join(", ", ex.Select(e => e.PacketId.ToString(CultureInfo.InvariantCulture))),
                ex.Count == 0 ? null : string.Join(" | ", ex.Select(e => $"{e.PacketId.ToString(CultureInfo.InvariantCulture)}: {e.Detail}")));
        }
    }

    /// <summary>The lines `replay` and `fidelity` print.</summary>
    public string Format()
    {
        var sb = new StringBuilder();
        string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
        sb.Append(CultureInfo.InvariantCulture, $"Fidelity:    {N(Explained)} of {N(ObservedEgress)} packets seen leaving the host explained ({ExplainedShare * 100:0.###}%)");
        sb.Append(CultureInfo.InvariantCulture, $"; {N(Unexplained)} unexplained, {N(NatPortDiffers)} NAT port differs, {N(NatOtherDiffers)} NAT address differs, {N(PredictedUnseen)} predicted egress never seen").AppendLine();
        foreach (var (metric, packets, _, detail) in Rows().Skip(3))
        {
            if (packets == 0 || metric == "not_applicable")
                continue;
            sb.Append(CultureInfo.InvariantCulture, $"  {N(packets),7}  {metric}").AppendLine();
            foreach (var d in (detail ?? string.Empty).Split(" | ", StringSplitOptions.RemoveEmptyEntries))
                sb.Append("           e.g. packet ").Append(d).AppendLine();
        }
        return sb.ToString();
    }
}
