using System.IO.Compression;
using System.Text.Json.Nodes;
using TraceReplay.Analytics.Anomaly;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Analytics;

/// <summary>
/// The models on real replays: traffic generated for the docker-host snapshot (AnomalyTraffic) run
/// through the simulated kernel, so conntrack and NAT state are what the kernel model makes of it.
/// Kept small (two minutes of traffic) so the suite stays fast.
/// </summary>
public sealed class AnomalyModelTests : IDisposable
{
    private static readonly long T0 = new DateTimeOffset(2026, 11, 25, 18, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1_000_000;

    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-anomaly-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Snapshot => Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot");

    private string Run(string name, int seed, Action<AnomalyTraffic>? inject = null)
    {
        var traffic = new AnomalyTraffic(seed, T0);
        traffic.Normal(0, 120, webPerSecond: 2, outPerSecond: 0.5, dnsPerSecond: 0.5);
        inject?.Invoke(traffic);
        string dir = Path.Combine(_dir, name);
        Directory.CreateDirectory(dir);
        string db = Path.Combine(dir, "run.duckdb");
        AnomalyTraffic.Replay(Snapshot, traffic.Write(dir), db);
        return db;
    }

    private static AnomalyReport Score(string db, AnomalyModel? model = null)
    {
        using var run = RunDatabase.Open(db);
        var windows = FeatureQuery.Compute(run, TimeSpan.FromSeconds(10));
        var m = model ?? AnomalyModel.Train(windows, TimeSpan.FromSeconds(10), ["self"]);
        return AnomalyScorer.Score(db, windows, m, "test");
    }

    [Fact]
    public void A_port_scan_in_normal_traffic_ranks_first()
    {
        // 300 ports of the host probed from 198.51.100.77 in 10 s, among two minutes of web, NAT and DNS traffic.
        string db = Run("scan", 7, t => t.PortScan(60, 10, 300));
        var report = Score(db);
        var top = report.Findings[0];
        Assert.Equal((EntityKind.Host, "198.51.100.77"), (top.Window.Kind, top.Window.Entity));
        Assert.Contains(top.Reasons, r => r.Feature == "distinct_dports" && r.Value == 300);
        Assert.Contains("300 different ports", top.Summary, StringComparison.Ordinal);
        // The same with a model trained on a normal run of other traffic (another seed).
        string normal = Run("normal", 8);
        var model = Train(normal);
        var scored = Score(db, model);
        Assert.Equal("198.51.100.77", scored.Findings[0].Window.Entity);
        Assert.Equal(EntityKind.Host, scored.Findings[0].Window.Kind);
    }

    private static AnomalyModel Train(string db)
    {
        using var run = RunDatabase.Open(db);
        return AnomalyModel.Train(FeatureQuery.Compute(run, TimeSpan.FromSeconds(10)), TimeSpan.FromSeconds(10), [db]);
    }

    [Fact]
    public void Same_input_same_scores_and_a_saved_model_scores_as_the_trained_one()
    {
        string db = Run("flood", 9, t => t.SynFlood(50, 10, 100));
        var a = Score(db);
        var b = Score(db);
        Assert.Equal(a.Findings.Select(f => (f.Window.Kind, f.Window.Entity, f.Window.BucketStartUs, f.Score)), b.Findings.Select(f => (f.Window.Kind, f.Window.Entity, f.Window.BucketStartUs, f.Score)));
        Assert.Equal(a.Groups.Select(g => string.Join(",", g.Members)), b.Groups.Select(g => string.Join(",", g.Members)));
        Assert.True(a.Findings.Any(f => !double.IsNaN(f.PcaScore)), "some kind had enough windows for PCA");

        var model = Train(db);
        string file = Path.Combine(_dir, "m.zip");
        model.Save(file);
        var loaded = AnomalyModel.Load(file);
        Assert.Equal(Score(db, model).Findings.Select(f => f.Score), Score(db, loaded).Findings.Select(f => f.Score));
    }

    [Fact]
    public void A_model_of_another_feature_schema_or_bucket_is_refused()
    {
        string file = Path.Combine(_dir, "m.zip");
        Train(Run("normal", 3)).Save(file);
        Assert.Equal(TimeSpan.FromSeconds(10), AnomalyModel.Load(file).Bucket);

        var e = Assert.Throws<InvalidDataException>(() => AnomalyModel.Load(file, TimeSpan.FromMinutes(1)));
        Assert.Contains("--bucket 10s", e.Message, StringComparison.Ordinal);

        // A model from a build whose features differ: one renamed, one of a newer version.
        using (var zip = ZipFile.Open(file, ZipArchiveMode.Update))
        {
            var entry = zip.GetEntry("model.json")!;
            JsonNode doc;
            using (var s = entry.Open())
                doc = JsonNode.Parse(s)!;
            var schema = doc["feature_schema"]!.AsArray();
            schema[0] = "syn_count@1";
            schema[1] = "half_open_share@2";
            entry.Delete();
            using var w = new StreamWriter(zip.CreateEntry("model.json").Open());
            w.Write(doc.ToJsonString());
        }
        e = Assert.Throws<InvalidDataException>(() => AnomalyModel.Load(file));
        Assert.StartsWith(file + ": the model was trained on another feature schema", e.Message, StringComparison.Ordinal);
        Assert.Contains("syn_count@1", e.Message, StringComparison.Ordinal);
        Assert.Contains("new_conns@1", e.Message, StringComparison.Ordinal);
        Assert.Contains("--train", e.Message, StringComparison.Ordinal);

        string junk = Path.Combine(_dir, "junk.zip");
        File.WriteAllText(junk, "not a zip");
        e = Assert.Throws<InvalidDataException>(() => AnomalyModel.Load(junk));
        Assert.StartsWith(junk + ": not a tracereplay anomaly model", e.Message, StringComparison.Ordinal);
    }
}
