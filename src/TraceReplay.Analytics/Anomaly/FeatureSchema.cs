namespace TraceReplay.Analytics.Anomaly;

/// <summary>How a feature is turned into a model input.</summary>
public enum FeatureScale : byte
{
    /// <summary>A count or size: log1p, because traffic counts are heavy-tailed and a flood is orders of magnitude, not a few units.</summary>
    Count,

    /// <summary>A share in [0, 1]: used as is.</summary>
    Share,
}

/// <summary>One feature of a window: its name (as in the README), how it is scaled, and what it means.</summary>
public sealed record FeatureDef(string Name, FeatureScale Scale, string Meaning);

/// <summary>
/// The feature vector of a window (one entity in one time bucket), in model order. A model is saved
/// with <see cref="Names"/> and <see cref="Version"/>; scoring with a model whose list differs is
/// refused, because a vector of other features in other places would score nonsense without an error.
/// Bump <see cref="Version"/> whenever a feature's meaning or computation changes, not only its name.
/// </summary>
public static class FeatureSchema
{
    public const int Version = 1;

    public const int NewConns = 0, HalfOpenShare = 1, RstShare = 2, InvalidRate = 3, DropRate = 4, DistinctDsts = 5, DistinctDports = 6,
        NatPortsLive = 7, NatChurn = 8, CtLive = 9, PktsSent = 10, PktsRecv = 11, BytesSent = 12, BytesRecv = 13, DurP50 = 14, DurP90 = 15;

    /// <summary>Number of features (the model's vector size).</summary>
    public const int Count = 16;

    public static IReadOnlyList<FeatureDef> Features { get; } =
    [
        new("new_conns", FeatureScale.Count, "conntrack entries created in the window (connections.first_ts) that this entity originated, served, or NATed"),
        new("half_open_share", FeatureScale.Share, "share of those TCP entries that never got past SYN_SENT/SYN_RECV (state when destroyed, or at the end of the run)"),
        new("rst_share", FeatureScale.Share, "share of those TCP entries that ended in CLOSE, i.e. were reset"),
        new("invalid_rate", FeatureScale.Share, "share of the entity's packets conntrack classed INVALID"),
        new("drop_rate", FeatureScale.Share, "share of the entity's packets dropped or rejected (by a rule, a policy, or the kernel: no route, table full, no NAT port)"),
        new("distinct_dsts", FeatureScale.Count, "different destination addresses of the packets the entity sent in the original direction (scan signal)"),
        new("distinct_dports", FeatureScale.Count, "different TCP/UDP/SCTP destination ports of those packets (scan signal)"),
        new("nat_ports_live", FeatureScale.Count, "NAT bindings of the entity live at the end of the window (NAT address: ports in use; host: its SNAT bindings)"),
        new("nat_churn", FeatureScale.Count, "NAT bindings set up plus removed in the window"),
        new("ct_live", FeatureScale.Count, "conntrack entries of the entity live at the end of the window (the whole table for entity 'conntrack')"),
        new("pkts_sent", FeatureScale.Count, "packets the entity sent (host: as source; service: replies; NAT address: translated originals)"),
        new("pkts_recv", FeatureScale.Count, "packets the entity received"),
        new("bytes_sent", FeatureScale.Count, "bytes on the wire of the packets sent"),
        new("bytes_recv", FeatureScale.Count, "bytes on the wire of the packets received"),
        new("dur_p50_s", FeatureScale.Count, "median life in seconds of the entries created in the window (to their destruction, or the end of the run)"),
        new("dur_p90_s", FeatureScale.Count, "90th percentile of that life"),
    ];

    /// <summary>The schema a model is saved with: "name@version" per feature, in order.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Features.Select(f => $"{f.Name}@{Version}")];

    /// <summary>Feature values as the models see them (counts log1p-scaled).</summary>
    public static float[] ModelInput(ReadOnlySpan<double> values)
    {
        var v = new float[Count];
        for (int i = 0; i < Count; i++)
            v[i] = (float)(Features[i].Scale == FeatureScale.Count ? Math.Log(1 + Math.Max(0, values[i])) : values[i]);
        return v;
    }

    /// <summary>
    /// The smallest spread a feature's robust z-score divides by (in model units): a baseline where
    /// every window had the same value (MAD 0) would otherwise make any change infinitely surprising.
    /// 0.5 in log1p units is a factor of ~1.6; 0.15 is fifteen percentage points, so a share that
    /// is always 0 in normal traffic must reach 45% to be a reason (z 3) and 100% counts z 6.7 —
    /// about what a thousandfold count does. With 0.05 a few victims' 100% drop rates (z 20)
    /// outranked the attacker that caused them (evaluation, anomaly-eval).
    /// </summary>
    public static double MinSpread(int feature) => Features[feature].Scale == FeatureScale.Count ? 0.5 : 0.15;
}
