namespace TraceReplay.Analytics.Anomaly;

/// <summary>A feature that made a window stand out: its value, the baseline's usual value (both in the feature's own units) and the robust z-score.</summary>
public sealed record FeatureReason(string Feature, double Value, double Usual, double Z);

/// <summary>One scored window.</summary>
/// <param name="Score">The ranking score: <paramref name="Distance"/> × (0.5 + <paramref name="PcaScore"/>).</param>
/// <param name="PcaScore">RandomizedPca's score in [0, 1] (NaN when the kind's baseline was too small for PCA; counted as 0.5).</param>
/// <param name="Distance">Root mean square of the window's four largest robust z-scores against the baseline (those below usual weighted 0.3): how far from normal, in spreads.</param>
/// <param name="HistoryZ">Largest robust z-score of a feature against the entity's own earlier windows in this run (0 with fewer than 3 of them).</param>
public sealed record AnomalyFinding(FeatureWindow Window, double Score, double PcaScore, double Distance, double HistoryZ, IReadOnlyList<FeatureReason> Reasons, string Summary);

/// <summary>Entities KMeans put together by their average behaviour over the run.</summary>
public sealed record EntityGroup(int Id, IReadOnlyList<(EntityKind Kind, string Entity)> Members, string Description);

/// <summary>Every window of a run scored, highest first, and the behaviour groups.</summary>
public sealed record AnomalyReport(string Run, TimeSpan Bucket, string Baseline, IReadOnlyList<AnomalyFinding> Findings, IReadOnlyList<EntityGroup> Groups);
