using TraceReplay.Analytics.Anomaly;
using TraceReplay.Analytics.Drops;
using TraceReplay.Analytics.Nat;
using TraceReplay.Analytics.Rules;

namespace TraceReplay.Analytics.Report;

/// <summary>What `tracereplay report` puts on the page: the bucket of the time plots and anomaly windows, and how many rows each list shows.</summary>
public sealed record ReportOptions
{
    /// <summary>Bucket of the NAT and conntrack plots, in microseconds (NatBuckets).</summary>
    public long BucketUs { get; init; } = 10_000_000;

    /// <summary>Window of the anomaly scorer.</summary>
    public TimeSpan AnomalyBucket { get; init; } = TimeSpan.FromSeconds(10);

    public int Top { get; init; } = 10;

    /// <summary>Score anomalies: the slowest part on a large run (its feature windows over every packet), so it can be left out.</summary>
    public bool Anomalies { get; init; } = true;
}

/// <summary>run_info, the capture files and what became of the packets.</summary>
public sealed record RunSummary(
    IReadOnlyList<(string Key, string Value)> Info, IReadOnlyList<object?[]> Captures, IReadOnlyList<string> CaptureColumns,
    long Sightings, long Packets, long? FirstUs, long? LastUs, IReadOnlyList<VerdictCount> Verdicts);

/// <summary>Real packets (packet_id) and sightings with one final verdict.</summary>
public sealed record VerdictCount(string Verdict, long Packets, long Sightings);

/// <summary>
/// The fidelity check's results when the run has them: the `fidelity` table as stored (its columns
/// are the check's, so the page shows them as they are) and packets.observed per value.
/// </summary>
public sealed record FidelitySection(bool Recorded, IReadOnlyList<string> Columns, IReadOnlyList<object?[]> Rows, long TotalRows, IReadOnlyList<(string Observed, long Sightings)> Observed);

/// <summary>An address and what it sent: real packets (first sightings) and their bytes on the wire.</summary>
public sealed record Talker(string Address, long Packets, long Bytes);

public sealed record TopTalkers(long Packets, long Bytes, IReadOnlyList<Talker> ByPackets, IReadOnlyList<Talker> ByBytes);

/// <summary>Everything the HTML report shows, gathered from the existing reports (drops, NAT, rules usage, anomalies) and a few summary queries.</summary>
public sealed record RunReport(
    string Run, DateTimeOffset Generated, ReportOptions Options, RunSummary Summary, FidelitySection Fidelity, DropReport Drops,
    NatUsageReport Nat, byte[] NatPng, TopTalkers Talkers, RuleUsageReport Rules, AnomalyReport? Anomalies, string? AnomalyNote);
