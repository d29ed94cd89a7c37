using Microsoft.ML;
using Microsoft.ML.Trainers;

namespace TraceReplay.Analytics.Anomaly;

/// <summary>
/// Scores a run's windows against a model and groups its entities. The ranking score multiplies two
/// views: how far a window is from normal, feature by feature (RMS of robust z-scores — a flood is
/// far on a few features), and how unlike normal its combination is (the PCA score, in [0, 1], which
/// alone ranks a tiny odd window above a huge ordinary-shaped one, because it measures direction,
/// not size). Deterministic: the same windows and model give the same scores, in the same order.
/// </summary>
public static class AnomalyScorer
{
    /// <summary>A feature counts as a reason when it is at least this many spreads above usual (3: rare under normal noise).</summary>
    public const double ReasonZ = 3;

    /// <summary>
    /// Weight of a feature below its usual value. Attacks and breakage show as more of something
    /// (connections, ports, drops, half-open entries); less of it (an attacker receives no bytes, a
    /// flood has no INVALID packets) is mostly the same event seen from the other side, and at full
    /// weight made a quiet window of a busy entity look as odd as a scan.
    /// </summary>
    public const double BelowWeight = 0.3;

    private const int HistoryMin = 3;
    private const int HistoryMax = 30;

    public static AnomalyReport Score(string run, IReadOnlyList<FeatureWindow> windows, AnomalyModel model, string baseline, int groups = 4)
    {
        ArgumentNullException.ThrowIfNull(windows);
        ArgumentNullException.ThrowIfNull(model);
        // Kinds the baseline never saw get a placeholder here, not in the model (which may be saved afterwards).
        var kinds = new Dictionary<EntityKind, KindModel>(model.Kinds);
        var z = new float[windows.Count][];
        for (int i = 0; i < windows.Count; i++)
        {
            var km = Baseline(kinds, windows[i].Kind);
            z[i] = km.Z(windows[i].Values);
        }
        var pca = model.PcaScores(windows, z);
        var history = HistoryZ(windows);
        var findings = new List<AnomalyFinding>(windows.Count);
        for (int i = 0; i < windows.Count; i++)
        {
            var w = windows[i];
            var km = kinds[w.Kind];
            double distance = Distance(z[i]);
            double p = float.IsNaN(pca[i]) ? 0.5 : pca[i];
            var reasons = Enumerable.Range(0, FeatureSchema.Count)
                .Where(f => z[i][f] >= ReasonZ)
                .OrderByDescending(f => z[i][f]).ThenBy(f => f)
                .Take(4)
                .Select(f => new FeatureReason(FeatureSchema.Features[f].Name, w.Values[f], Usual(km, f), z[i][f]))
                .ToList();
            findings.Add(new AnomalyFinding(w, distance * (0.5 + p), pca[i], distance, history[i], reasons, Explain.Sentence(w, reasons, model.Bucket, history[i])));
        }
        var ranked = findings
            .OrderByDescending(f => f.Score).ThenBy(f => f.Window.BucketStartUs).ThenBy(f => f.Window.Kind).ThenBy(f => f.Window.Entity, StringComparer.Ordinal)
            .ToList();
        return new AnomalyReport(run, model.Bucket, baseline, ranked, Group(windows, z, groups, model.Seed));
    }

    /// <summary>Features the distance looks at: the most unusual few, since an event moves a handful of features and the rest would only dilute it.</summary>
    public const int DistanceFeatures = 4;

    /// <summary>
    /// Root mean square of the <see cref="DistanceFeatures"/> largest weighted z-scores. Over all 16
    /// features a drop rate jumping from 0 to 100% (one feature) weighed less than ordinary noise
    /// spread over many; the evaluation (anomaly-eval) ranked a rule change that drops a service
    /// hundreds of windows lower that way.
    /// </summary>
    internal static double Distance(ReadOnlySpan<float> z)
    {
        Span<double> d = stackalloc double[z.Length];
        for (int f = 0; f < z.Length; f++)
            d[f] = z[f] >= 0 ? z[f] : -z[f] * BelowWeight;
        d.Sort();
        double sum = 0;
        for (int f = d.Length - DistanceFeatures; f < d.Length; f++)
            sum += d[f] * d[f];
        return Math.Sqrt(sum / DistanceFeatures);
    }

    /// <summary>A kind the baseline never saw is measured against zeros with the smallest spreads: anything it does stands out, which is the point.</summary>
    private static KindModel Baseline(Dictionary<EntityKind, KindModel> kinds, EntityKind kind) =>
        kinds.TryGetValue(kind, out var km) ? km : kinds[kind] = new KindModel
        {
            Kind = kind,
            Windows = 0,
            Median = new double[FeatureSchema.Count],
            Spread = [.. Enumerable.Range(0, FeatureSchema.Count).Select(FeatureSchema.MinSpread)],
        };

    /// <summary>The baseline median in the feature's own units (log1p undone for counts).</summary>
    private static double Usual(KindModel km, int f) =>
        FeatureSchema.Features[f].Scale == FeatureScale.Count ? Math.Exp(km.Median[f]) - 1 : km.Median[f];

    /// <summary>Each window against the same entity's previous windows (at most 30): the largest robust z over features.</summary>
    private static double[] HistoryZ(IReadOnlyList<FeatureWindow> windows)
    {
        var result = new double[windows.Count];
        var past = new Dictionary<(EntityKind, string), List<float[]>>();
        var column = new double[HistoryMax];
        for (int i = 0; i < windows.Count; i++)
        {
            var w = windows[i];
            var m = FeatureSchema.ModelInput(w.Values);
            if (!past.TryGetValue((w.Kind, w.Entity), out var h))
                past[(w.Kind, w.Entity)] = h = [];
            if (h.Count >= HistoryMin)
            {
                double max = 0;
                for (int f = 0; f < FeatureSchema.Count; f++)
                {
                    for (int j = 0; j < h.Count; j++)
                        column[j] = h[j][f];
                    var (med, spread) = RobustStats.Of(column.AsSpan(0, h.Count), FeatureSchema.MinSpread(f));
                    max = Math.Max(max, Math.Abs(m[f] - med) / spread);
                }
                result[i] = Math.Min(max, AnomalyModel.ZClip);
            }
            h.Add(m);
            if (h.Count > HistoryMax)
                h.RemoveAt(0);
        }
        return result;
    }

    /// <summary>KMeans over each entity's mean z-vector: entities that behave alike over the run, whatever their kind.</summary>
    private static List<EntityGroup> Group(IReadOnlyList<FeatureWindow> windows, float[][] z, int k, int seed)
    {
        var entities = windows.Select((w, i) => (Key: (w.Kind, w.Entity), I: i))
            .GroupBy(x => x.Key)
            .Select(g =>
            {
                var mean = new float[FeatureSchema.Count];
                foreach (var (_, i) in g)
                {
                    for (int f = 0; f < mean.Length; f++)
                        mean[f] += z[i][f];
                }
                for (int f = 0; f < mean.Length; f++)
                    mean[f] /= g.Count();
                return (g.Key.Kind, g.Key.Entity, Mean: mean);
            })
            .OrderBy(e => e.Kind).ThenBy(e => e.Entity, StringComparer.Ordinal)
            .ToList();
        // KMeans++ needs k distinct points (ML.NET throws "not enough distinct instances" otherwise): on a small
        // run several entities often behave identically, so there are fewer groups than asked for.
        int distinct = entities.Select(e => string.Join(',', e.Mean.Select(v => BitConverter.SingleToInt32Bits(v)))).Distinct(StringComparer.Ordinal).Count();
        k = Math.Min(k, distinct);
        if (k < 2)
            return [];
        var ml = new MLContext(seed);
        var data = ml.Data.LoadFromEnumerable(entities.Select(e => new ModelRow { Features = e.Mean }));
        var trainer = ml.Clustering.Trainers.KMeans(new KMeansTrainer.Options
        {
            FeatureColumnName = nameof(ModelRow.Features),
            NumberOfClusters = k,
            NumberOfThreads = 1, // one thread: the same assignment every run
            InitializationAlgorithm = KMeansTrainer.InitializationAlgorithm.KMeansPlusPlus,
        });
        var model = trainer.Fit(data);
        var labels = ml.Data.CreateEnumerable<ClusterOutput>(model.Transform(data), reuseRowObject: false).Select(o => (int)o.PredictedLabel).ToList();
        return [.. entities.Select((e, i) => (e, Label: labels[i]))
            .GroupBy(x => x.Label)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key)
            .Select((g, n) =>
            {
                var members = g.Select(x => (x.e.Kind, x.e.Entity)).ToList();
                var centroid = new double[FeatureSchema.Count];
                foreach (var (e, _) in g)
                {
                    for (int f = 0; f < centroid.Length; f++)
                        centroid[f] += e.Mean[f] / members.Count;
                }
                return new EntityGroup(n + 1, members, Explain.Group(centroid));
            })];
    }

    private sealed class ClusterOutput
    {
        public uint PredictedLabel { get; set; }
    }
}
