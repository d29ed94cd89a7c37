using System.Globalization;

namespace TraceReplay.Analytics.Anomaly;

/// <summary>Findings in the words of a network engineer: what the entity did, how much, and what is usual.</summary>
public static class Explain
{
    /// <summary>The ports NAT can pick for an original source port of 1024 or more (nf_nat_l4proto_unique_tuple's range above the privileged classes).</summary>
    public const int NatPortRange = 65535 - 1024 + 1;

    private static string N(double v) => Math.Round(v).ToString("N0", CultureInfo.InvariantCulture);

    private static string P(double share) => (share * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%";

    private static string S(double seconds) => seconds.ToString(seconds < 10 ? "0.##" : "N0", CultureInfo.InvariantCulture) + " s";

    public static string KindName(EntityKind kind) => kind switch
    {
        EntityKind.Host => "host",
        EntityKind.Service => "service",
        EntityKind.Nat => "NAT address",
        _ => "conntrack table",
    };

    /// <summary>"10.0.0.7 opened 4,120 new connections (usually 3); 100% of its TCP connections half-open … in 10 s from 12:00:10".</summary>
    public static string Sentence(FeatureWindow w, IReadOnlyList<FeatureReason> reasons, TimeSpan bucket, double historyZ)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(reasons);
        string who = w.Kind switch
        {
            EntityKind.Table => "The conntrack table",
            EntityKind.Nat => "NAT address " + w.Entity,
            EntityKind.Service => "Service " + w.Entity,
            _ => w.Entity,
        };
        string when = $"in {S(bucket.TotalSeconds)} from {w.Start.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}";
        if (reasons.Count == 0)
            return $"{who}: nothing stands out alone ({when}); the combination of its features is unusual";
        var parts = reasons.Select(r => Phrase(w, r)).ToList();
        string surge = historyZ >= AnomalyScorer.ReasonZ ? $"; a jump against its own earlier windows (z {historyZ.ToString("0.#", CultureInfo.InvariantCulture)})" : string.Empty;
        return $"{who}: {string.Join("; ", parts)}, {when}{surge}";
    }

    private static string Phrase(FeatureWindow w, FeatureReason r)
    {
        string usual = r.Feature switch
        {
            "half_open_share" or "rst_share" or "invalid_rate" or "drop_rate" => $" (usually {P(r.Usual)})",
            "dur_p50_s" or "dur_p90_s" => $" (usually {S(r.Usual)})",
            _ => $" (usually {N(r.Usual)})",
        };
        return r.Feature switch
        {
            "new_conns" => w.Kind switch
            {
                EntityKind.Host => $"opened {N(r.Value)} new connections",
                EntityKind.Service => $"received {N(r.Value)} new connections",
                EntityKind.Nat => $"set up {N(r.Value)} NAT bindings",
                _ => $"created {N(r.Value)} entries",
            },
            "half_open_share" => $"{P(r.Value)} of its new TCP connections stayed half-open (SYN_SENT/SYN_RECV)",
            "rst_share" => $"{P(r.Value)} of its new TCP connections were reset",
            "invalid_rate" => $"{P(r.Value)} of its packets were INVALID to conntrack",
            "drop_rate" => $"{P(r.Value)} of its packets were dropped or rejected",
            "distinct_dsts" => $"sent to {N(r.Value)} different addresses",
            "distinct_dports" => $"sent to {N(r.Value)} different ports",
            "nat_ports_live" => w.Kind == EntityKind.Nat
                ? $"had {N(r.Value)} NAT ports in use ({P(r.Value / NatPortRange)} of the {N(NatPortRange)} ports 1024-65535)"
                : $"held {N(r.Value)} NAT bindings",
            "nat_churn" => $"had {N(r.Value)} NAT bindings set up or removed",
            "ct_live" => w.Kind == EntityKind.Table ? $"held {N(r.Value)} live entries" : $"held {N(r.Value)} live conntrack entries",
            "pkts_sent" => $"sent {N(r.Value)} packets",
            "pkts_recv" => $"received {N(r.Value)} packets",
            "bytes_sent" => $"sent {N(r.Value)} bytes",
            "bytes_recv" => $"received {N(r.Value)} bytes",
            "dur_p50_s" => $"its connections lasted a median {S(r.Value)}",
            "dur_p90_s" => $"its longest tenth of connections lasted {S(r.Value)} or more",
            _ => $"{r.Feature} {r.Value.ToString("G4", CultureInfo.InvariantCulture)}",
        } + usual;
    }

    /// <summary>A group's centroid in words: the features where its members sit furthest from normal.</summary>
    public static string Group(double[] centroid)
    {
        ArgumentNullException.ThrowIfNull(centroid);
        var top = Enumerable.Range(0, centroid.Length).Where(f => Math.Abs(centroid[f]) >= 1)
            .OrderByDescending(f => Math.Abs(centroid[f])).ThenBy(f => f).Take(3)
            .Select(f => $"{(centroid[f] > 0 ? "high" : "low")} {FeatureSchema.Features[f].Name} (z {centroid[f].ToString("0.#", CultureInfo.InvariantCulture)})")
            .ToList();
        return top.Count == 0 ? "ordinary: every feature within a spread of normal" : string.Join(", ", top);
    }
}
