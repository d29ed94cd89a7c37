using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace TraceReplay.Analytics.Anomaly;

/// <summary>A feature vector as ML.NET reads it.</summary>
internal sealed class ModelRow
{
    [VectorType(FeatureSchema.Count)]
    public float[] Features { get; set; } = [];
}

/// <summary>The RandomizedPca scorer's output columns.</summary>
internal sealed class PcaOutput
{
    public float Score { get; set; }

    public bool PredictedLabel { get; set; }
}

/// <summary>
/// What normal looks like for one entity kind: per feature the baseline median and spread (in model
/// units, so robust z-scores can be taken), and a RandomizedPca model over those z-scores when the
/// baseline had enough windows to fit one. PCA learns which features move together in normal
/// traffic (packets with bytes, connections with NAT bindings); its score is how far a window falls
/// off that subspace — a combination normal traffic never shows, even when each value alone is modest.
/// </summary>
internal sealed class KindModel
{
    public required EntityKind Kind { get; init; }
    public required int Windows { get; init; }
    public required double[] Median { get; init; }
    public required double[] Spread { get; init; }
    public ITransformer? Pca { get; init; }

    /// <summary>Robust z-scores of a window against this baseline, clipped so one absurd value cannot swamp the PCA fit.</summary>
    public float[] Z(double[] raw)
    {
        var m = FeatureSchema.ModelInput(raw);
        var z = new float[FeatureSchema.Count];
        for (int i = 0; i < z.Length; i++)
            z[i] = (float)Math.Clamp((m[i] - Median[i]) / Spread[i], -AnomalyModel.ZClip, AnomalyModel.ZClip);
        return z;
    }
}

/// <summary>
/// The saved anomaly model: one <see cref="KindModel"/> per entity kind, the feature schema (name and
/// version of every feature, in order), the bucket length and the seed. Saved as a zip: model.json
/// and one ML.NET model per kind. Loading refuses a file whose feature schema or bucket differ from
/// this build's, because the vectors would not mean what the model learned.
/// </summary>
public sealed class AnomalyModel
{
    internal const double ZClip = 50;

    /// <summary>Fewer baseline windows than this and a kind gets no PCA (medians and spreads only): a subspace of 3 dimensions needs more points than that to mean anything.</summary>
    public const int MinPcaWindows = 8;

    internal const int PcaRank = 3;

    private const string Format = "tracereplay-anomaly-model";

    internal Dictionary<EntityKind, KindModel> Kinds { get; } = [];

    public TimeSpan Bucket { get; }

    public int Seed { get; }

    /// <summary>The runs (or "the run itself") the baseline came from, for the report.</summary>
    public IReadOnlyList<string> TrainedOn { get; }

    public IReadOnlyList<string> Schema { get; }

    /// <summary>The entity kinds the baseline knows, and whether each has a PCA model (enough windows to fit one).</summary>
    public IReadOnlyList<(EntityKind Kind, int Windows, bool HasPca)> KindSummary =>
        [.. Kinds.Values.Where(k => k.Windows > 0).OrderBy(k => k.Kind).Select(k => (k.Kind, k.Windows, k.Pca is not null))];

    private AnomalyModel(TimeSpan bucket, int seed, IReadOnlyList<string> trainedOn, IReadOnlyList<string> schema)
    {
        Bucket = bucket;
        Seed = seed;
        TrainedOn = trainedOn;
        Schema = schema;
    }

    /// <summary>Fits a baseline per entity kind on <paramref name="windows"/> (normal runs, or the run to be scored itself). Same windows and seed, same model.</summary>
    public static AnomalyModel Train(IReadOnlyList<FeatureWindow> windows, TimeSpan bucket, IReadOnlyList<string> trainedOn, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(windows);
        var model = new AnomalyModel(bucket, seed, trainedOn, FeatureSchema.Names);
        var ml = new MLContext(seed);
        foreach (var group in windows.GroupBy(w => w.Kind).OrderBy(g => g.Key))
        {
            var rows = group.ToList();
            var median = new double[FeatureSchema.Count];
            var spread = new double[FeatureSchema.Count];
            var inputs = rows.Select(r => FeatureSchema.ModelInput(r.Values)).ToList();
            var column = new double[rows.Count];
            for (int f = 0; f < FeatureSchema.Count; f++)
            {
                for (int i = 0; i < rows.Count; i++)
                    column[i] = inputs[i][f];
                (median[f], spread[f]) = RobustStats.Of(column, FeatureSchema.MinSpread(f));
            }
            var kind = new KindModel { Kind = group.Key, Windows = rows.Count, Median = median, Spread = spread };
            ITransformer? pca = rows.Count >= MinPcaWindows ? FitPca(ml, rows.Select(r => kind.Z(r.Values)).ToList(), seed) : null;
            model.Kinds[group.Key] = new KindModel { Kind = kind.Kind, Windows = kind.Windows, Median = median, Spread = spread, Pca = pca };
        }
        return model;
    }

    /// <summary>
    /// RandomizedPca over the z-vectors, or null when they span too little to fit one. The random
    /// projection has rank + oversampling columns; more than the dimensions the data really uses
    /// (features that vary) makes its orthonormalisation degenerate and the eigenvectors NaN, so
    /// both are bounded by those dimensions, and a fit that still fails leaves the kind to z-scores.
    /// </summary>
    private static ITransformer? FitPca(MLContext ml, List<float[]> z, int seed)
    {
        int informative = 0;
        for (int f = 0; f < FeatureSchema.Count; f++)
        {
            if (z.Any(v => v[f] != z[0][f]))
                informative++;
        }
        int dims = Math.Min(informative, z.Count - 1);
        int rank = Math.Min(PcaRank, dims - 1);
        if (rank < 1)
            return null;
        var data = ml.Data.LoadFromEnumerable(z.Select(v => new ModelRow { Features = v }));
        try
        {
            return ml.AnomalyDetection.Trainers.RandomizedPca(featureColumnName: nameof(ModelRow.Features), rank: rank,
                oversampling: Math.Max(0, Math.Min(10, dims - rank)), ensureZeroMean: true, seed: seed).Fit(data);
        }
        catch (ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>PCA scores of the windows (NaN where the kind has no PCA), in order.</summary>
    internal float[] PcaScores(IReadOnlyList<FeatureWindow> windows, IReadOnlyList<float[]> z)
    {
        var scores = new float[windows.Count];
        Array.Fill(scores, float.NaN);
        var ml = new MLContext(Seed);
        foreach (var (kind, km) in Kinds)
        {
            if (km.Pca is null)
                continue;
            var idx = Enumerable.Range(0, windows.Count).Where(i => windows[i].Kind == kind).ToList();
            if (idx.Count == 0)
                continue;
            var data = ml.Data.LoadFromEnumerable(idx.Select(i => new ModelRow { Features = z[i] }));
            var outputs = ml.Data.CreateEnumerable<PcaOutput>(km.Pca.Transform(data), reuseRowObject: false).ToList();
            for (int j = 0; j < idx.Count; j++)
                scores[idx[j]] = outputs[j].Score;
        }
        return scores;
    }

    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var ml = new MLContext(Seed);
        string tmp = path + ".partial";
        using (var zip = new ZipArchive(File.Create(tmp), ZipArchiveMode.Create))
        {
            var doc = new ModelDocument
            {
                Format = Format,
                FeatureSchema = [.. Schema],
                BucketUs = Bucket.Ticks / 10,
                Seed = Seed,
                TrainedOn = [.. TrainedOn],
                Kinds = [.. Kinds.Values.Select(k => new KindDocument { Kind = k.Kind.ToString(), Windows = k.Windows, Median = k.Median, Spread = k.Spread, HasPca = k.Pca is not null })],
            };
            using (var s = zip.CreateEntry("model.json").Open())
                JsonSerializer.Serialize(s, doc, ModelJson.Default.ModelDocument);
            foreach (var k in Kinds.Values.Where(k => k.Pca is not null))
            {
                using var s = zip.CreateEntry($"pca-{k.Kind}.zip").Open();
                var schema = ml.Data.LoadFromEnumerable(Array.Empty<ModelRow>()).Schema;
                ml.Model.Save(k.Pca, schema, s);
            }
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Loads a model, refusing one trained on another feature schema or bucket length.</summary>
    public static AnomalyModel Load(string path, TimeSpan? bucket = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such model file", path);
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var entry = zip.GetEntry("model.json") ?? throw new InvalidDataException($"{path}: not a tracereplay anomaly model (no model.json; train one with anomalies --train)");
            ModelDocument doc;
            using (var s = entry.Open())
                doc = JsonSerializer.Deserialize(s, ModelJson.Default.ModelDocument) ?? throw new InvalidDataException($"{path}: model.json is empty");
            if (doc.Format != Format)
                throw new InvalidDataException($"{path}: not a tracereplay anomaly model (format '{doc.Format}')");
            if (!doc.FeatureSchema.SequenceEqual(FeatureSchema.Names, StringComparer.Ordinal))
            {
                var missing = FeatureSchema.Names.Except(doc.FeatureSchema, StringComparer.Ordinal).ToList();
                var extra = doc.FeatureSchema.Except(FeatureSchema.Names, StringComparer.Ordinal).ToList();
                throw new InvalidDataException($"{path}: the model was trained on another feature schema ({doc.FeatureSchema.Length} features"
                    + (extra.Count > 0 ? ", not computed by this build: " + string.Join(", ", extra) : string.Empty)
                    + (missing.Count > 0 ? "; this build's features it lacks: " + string.Join(", ", missing) : string.Empty)
                    + (extra.Count == 0 && missing.Count == 0 ? ", in another order" : string.Empty)
                    + "); retrain it with: tracereplay anomalies --train RUN... --model FILE");
            }
            var trainedBucket = TimeSpan.FromTicks(doc.BucketUs * 10);
            if (bucket is { } b && b != trainedBucket)
                throw new InvalidDataException($"{path}: the model was trained with --bucket {BucketSpan.Format(trainedBucket)}, not {BucketSpan.Format(b)}: counts per window are not comparable; score with --bucket {BucketSpan.Format(trainedBucket)} or retrain");
            var model = new AnomalyModel(trainedBucket, doc.Seed, doc.TrainedOn, doc.FeatureSchema);
            var ml = new MLContext(doc.Seed);
            foreach (var k in doc.Kinds)
            {
                if (!Enum.TryParse<EntityKind>(k.Kind, out var kind) || k.Median.Length != FeatureSchema.Count || k.Spread.Length != FeatureSchema.Count)
                    throw new InvalidDataException($"{path}: model.json: bad entry for kind '{k.Kind}'");
                ITransformer? pca = null;
                if (k.HasPca)
                {
                    var e = zip.GetEntry($"pca-{kind}.zip") ?? throw new InvalidDataException($"{path}: pca-{kind}.zip is missing");
                    using var s = e.Open();
                    using var buffer = new MemoryStream();
                    s.CopyTo(buffer);
                    buffer.Position = 0;
                    pca = ml.Model.Load(buffer, out _);
                }
                model.Kinds[kind] = new KindModel { Kind = kind, Windows = k.Windows, Median = k.Median, Spread = k.Spread, Pca = pca };
            }
            return model;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: not a readable tracereplay anomaly model ({e.Message})", e);
        }
        catch (Exception e) when (e is InvalidDataException && e.Message.StartsWith(path, StringComparison.Ordinal) is false)
        {
            // ZipArchive's own "End of Central Directory record could not be found" says nothing of which file.
            throw new InvalidDataException($"{path}: not a tracereplay anomaly model ({e.Message})", e);
        }
    }
}

internal sealed class ModelDocument
{
    public string Format { get; set; } = string.Empty;
    public string[] FeatureSchema { get; set; } = [];
    public long BucketUs { get; set; }
    public int Seed { get; set; }
    public string[] TrainedOn { get; set; } = [];
    public KindDocument[] Kinds { get; set; } = [];
}

internal sealed class KindDocument
{
    public string Kind { get; set; } = string.Empty;
    public int Windows { get; set; }
    public double[] Median { get; set; } = [];
    public double[] Spread { get; set; } = [];
    public bool HasPca { get; set; }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(ModelDocument))]
internal sealed partial class ModelJson : System.Text.Json.Serialization.JsonSerializerContext;
