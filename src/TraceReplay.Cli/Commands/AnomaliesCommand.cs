using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using TraceReplay.Analytics.Anomaly;

namespace TraceReplay.Cli.Commands;

/// <summary>
/// `tracereplay anomalies RUN`: the windows (entity × time bucket) of a run that look least like
/// normal traffic, with the features that made them stand out, and entities grouped by behaviour.
/// Normal is either the run itself (robust statistics, so a minority of attack windows cannot
/// redefine it) or a model trained on known-good runs with `--train RUN... --model FILE`.
/// </summary>
internal static class AnomaliesCommand
{
    public static Command Create()
    {
        var runs = new Argument<string[]>("RUN") { Arity = ArgumentArity.OneOrMore, Description = "A run database (tracereplay replay --out). With --train, the normal runs to learn from." };
        var bucket = new Option<string?>("--bucket") { Description = "Window length: 10s, 500ms, 1m, 1h (default 10s, or the model's)." };
        var top = new Option<int>("--top") { DefaultValueFactory = _ => 10, Description = "How many windows to show." };
        var json = CommonOptions.Json();
        var train = new Option<bool>("--train") { Description = "Train a model on the RUNs (normal traffic) and save it to --model." };
        var model = new Option<FileInfo?>("--model") { Description = "With --train, where to save the model; otherwise the model to score the RUN against." };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1, Description = "Seed of the PCA and KMeans (same seed, same scores)." };
        var command = new Command("anomalies", "Rank a run's windows (host, service, NAT address, conntrack table per time bucket) by how anomalous they are, and say why.")
        {
            runs, bucket, top, json, train, model, seed,
        };
        command.SetAction((parse, _) =>
        {
            var paths = parse.GetValue(runs)!;
            var modelFile = parse.GetValue(model);
            string? bucketText = parse.GetValue(bucket);
            TimeSpan? given = bucketText is null ? null : BucketSpan.Parse(bucketText);
            int n = parse.GetValue(top);
            if (n < 1)
                throw new UsageException($"--top {n}: expected a number of windows, at least 1");
            var o = parse.InvocationConfiguration.Output;
            if (parse.GetValue(train))
            {
                if (modelFile is null)
                    throw new UsageException("--train needs --model FILE to save the model to");
                var span = given ?? TimeSpan.FromSeconds(10);
                var windows = new List<FeatureWindow>();
                foreach (var p in paths)
                {
                    using var run = RunDatabase.Open(p);
                    windows.AddRange(FeatureQuery.Compute(run, span));
                }
                var m = AnomalyModel.Train(windows, span, paths, parse.GetValue(seed));
                m.Save(modelFile.FullName);
                o.WriteLine($"Trained on {windows.Count:N0} windows of {BucketSpan.Format(span)} from {paths.Length} run(s): {Kinds(windows)}");
                o.WriteLine($"PCA for: {string.Join(", ", m.KindSummary.Where(k => k.HasPca).Select(k => Explain.KindName(k.Kind)))}"
                    + (m.KindSummary.Any(k => !k.HasPca) ? $" (kinds with fewer than {AnomalyModel.MinPcaWindows} windows are scored by robust z-scores only)" : string.Empty));
                o.WriteLine($"Saved to {modelFile.FullName} (feature schema version {FeatureSchema.Version}, {FeatureSchema.Count} features)");
                return Task.FromResult(ExitCodes.Success);
            }
            if (paths.Length != 1)
                throw new UsageException($"score one run at a time ({paths.Length} given); to learn from several normal runs use --train RUN... --model FILE");
            AnomalyModel? loaded = modelFile is null ? null : AnomalyModel.Load(modelFile.FullName, given);
            var bucketSpan = given ?? loaded?.Bucket ?? TimeSpan.FromSeconds(10);
            using (var run = RunDatabase.Open(paths[0]))
            {
                var windows = FeatureQuery.Compute(run, bucketSpan);
                var baseline = loaded is null
                    ? "the run itself (no --model): each window against the run's median window of its kind"
                    : $"model {modelFile!.FullName}, trained on {string.Join(", ", loaded.TrainedOn)}";
                var m = loaded ?? AnomalyModel.Train(windows, bucketSpan, ["the run itself"], parse.GetValue(seed));
                var report = AnomalyScorer.Score(run.Path, windows, m, baseline);
                if (parse.GetValue(json))
                    WriteJson(o, report, n);
                else
                    WriteText(o, report, n);
            }
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    private static string Kinds(IEnumerable<FeatureWindow> windows) =>
        string.Join(", ", windows.GroupBy(w => w.Kind).OrderBy(g => g.Key).Select(g => $"{Explain.KindName(g.Key)} {g.Count():N0}"));

    private static string Time(long us) => DateTimeOffset.FromUnixTimeMilliseconds(us / 1000).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static void WriteText(TextWriter o, AnomalyReport r, int top)
    {
        var windows = r.Findings.Select(f => f.Window).ToList();
        o.WriteLine($"Run:      {r.Run}");
        o.WriteLine($"Windows:  {windows.Count:N0} of {BucketSpan.Format(r.Bucket)} ({Kinds(windows)})");
        o.WriteLine($"Baseline: {r.Baseline}");
        o.WriteLine($"Top {Math.Min(top, r.Findings.Count)} by score (distance from normal in robust spreads x (0.5 + PCA score)):");
        int rank = 0;
        foreach (var f in r.Findings.Take(top))
        {
            rank++;
            string pca = double.IsNaN(f.PcaScore) ? "-" : f.PcaScore.ToString("0.00", CultureInfo.InvariantCulture);
            o.WriteLine($"{rank,3}. score {f.Score.ToString("0.00", CultureInfo.InvariantCulture),7}  pca {pca,4}  {Time(f.Window.BucketStartUs)}  {Explain.KindName(f.Window.Kind),-15} {f.Window.Entity}");
            o.WriteLine($"     {f.Summary}");
        }
        if (r.Groups.Count > 0)
        {
            o.WriteLine($"Groups (KMeans over each entity's average window, {r.Groups.Count} groups):");
            foreach (var g in r.Groups)
            {
                var shown = g.Members.Take(5).Select(m => $"{Explain.KindName(m.Kind)} {m.Entity}");
                o.WriteLine($"  {g.Id}. {g.Members.Count,5:N0} entities: {g.Description}");
                o.WriteLine($"     e.g. {string.Join(", ", shown)}{(g.Members.Count > 5 ? ", …" : string.Empty)}");
            }
        }
    }

    private static void WriteJson(TextWriter o, AnomalyReport r, int top)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("run", r.Run);
            w.WriteString("bucket", BucketSpan.Format(r.Bucket));
            w.WriteNumber("bucket_us", r.Bucket.Ticks / 10);
            w.WriteString("baseline", r.Baseline);
            w.WriteNumber("windows", r.Findings.Count);
            w.WriteStartArray("findings");
            int rank = 0;
            foreach (var f in r.Findings.Take(top))
            {
                w.WriteStartObject();
                w.WriteNumber("rank", ++rank);
                w.WriteNumber("score", Math.Round(f.Score, 6));
                if (double.IsNaN(f.PcaScore))
                    w.WriteNull("pca_score");
                else
                    w.WriteNumber("pca_score", Math.Round(f.PcaScore, 6));
                w.WriteNumber("distance", Math.Round(f.Distance, 6));
                w.WriteNumber("history_z", Math.Round(f.HistoryZ, 6));
                w.WriteString("kind", f.Window.Kind.ToString().ToLowerInvariant());
                w.WriteString("entity", f.Window.Entity);
                w.WriteString("start", Time(f.Window.BucketStartUs));
                w.WriteNumber("start_us", f.Window.BucketStartUs);
                w.WriteStartObject("features");
                for (int i = 0; i < FeatureSchema.Count; i++)
                    w.WriteNumber(FeatureSchema.Features[i].Name, Math.Round(f.Window.Values[i], 6));
                w.WriteEndObject();
                w.WriteStartArray("reasons");
                foreach (var x in f.Reasons)
                {
                    w.WriteStartObject();
                    w.WriteString("feature", x.Feature);
                    w.WriteNumber("value", Math.Round(x.Value, 6));
                    w.WriteNumber("usual", Math.Round(x.Usual, 6));
                    w.WriteNumber("z", Math.Round(x.Z, 3));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteString("summary", f.Summary);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("groups");
            foreach (var g in r.Groups)
            {
                w.WriteStartObject();
                w.WriteNumber("id", g.Id);
                w.WriteString("description", g.Description);
                w.WriteStartArray("members");
                foreach (var m in g.Members)
                    w.WriteStringValue($"{m.Kind.ToString().ToLowerInvariant()}:{m.Entity}");
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        o.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
