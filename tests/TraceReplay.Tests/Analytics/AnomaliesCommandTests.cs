using TraceReplay.Tests.Cli;

namespace TraceReplay.Tests.Analytics;

/// <summary>`tracereplay anomalies` end to end: output, and every kind of bad input refused with a message and the contract's exit code.</summary>
public sealed class AnomaliesCommandTests : CliTestBase
{
    [Fact]
    public void Scores_a_run_and_trains_and_uses_a_model()
    {
        string db = AnomalyFeatureTests.SmallRun(Dir);
        var (code, o, e) = Run("anomalies", db, "--top", "3");
        Assert.True(code == 0, e);
        Assert.Contains("Baseline: the run itself", o, StringComparison.Ordinal);
        Assert.Contains("  1. score", o, StringComparison.Ordinal);
        Assert.DoesNotContain("  4. score", o, StringComparison.Ordinal);

        string model = Path.Combine(Dir, "m.zip");
        (code, o, e) = Run("anomalies", "--train", db, db, "--model", model, "--bucket", "5s");
        Assert.True(code == 0, e);
        Assert.Contains("from 2 run(s)", o, StringComparison.Ordinal);
        (code, o, e) = Run("anomalies", db, "--model", model, "--json");
        Assert.True(code == 0, e);
        var doc = System.Text.Json.JsonDocument.Parse(o).RootElement;
        Assert.Equal("5s", doc.GetProperty("bucket").GetString()); // the model's bucket when none is given
        Assert.True(doc.GetProperty("findings").GetArrayLength() > 0);
    }

    [Fact]
    public void A_run_whose_entities_all_behave_alike_is_scored_without_groups()
    {
        // KMeans++ cannot place two centres on identical points (ML.NET throws); the scorer asks for no more
        // groups than there are distinct behaviours.
        var (code, _, e) = Run("anomalies", AnomalyFeatureTests.TwinRun(Dir));
        Assert.True(code == 0, e);
    }

    [Fact]
    public void Bad_input_is_refused_with_a_message()
    {
        string db = AnomalyFeatureTests.SmallRun(Dir);
        var (code, _, e) = Run("anomalies", Path.Combine(Dir, "missing.duckdb"));
        Assert.Equal(1, code);
        Assert.Contains("missing.duckdb: no such file", e, StringComparison.Ordinal);

        (code, _, e) = Run("anomalies", Write("capture.pcap", "this is not a database"));
        Assert.Equal(1, code);
        Assert.Contains("capture.pcap: not a run database", e, StringComparison.Ordinal);

        // An empty run: a run database with every table and no rows.
        string empty = Path.Combine(Dir, "empty.duckdb");
        using (var w = TraceReplay.Store.RunWriter.Create(empty))
            w.Complete();
        (code, _, e) = Run("anomalies", empty);
        Assert.Equal(1, code);
        Assert.Contains("empty.duckdb: the run has no IP packets", e, StringComparison.Ordinal);

        (code, _, e) = Run("anomalies", db, "--bucket", "ten");
        Assert.Equal(2, code);
        Assert.Contains("--bucket ten: expected a duration", e, StringComparison.Ordinal);
        (code, _, e) = Run("anomalies", db, "--bucket", "0s");
        Assert.Equal(2, code);

        (code, _, e) = Run("anomalies", "--train", db);
        Assert.Equal(2, code);
        Assert.Contains("--train needs --model", e, StringComparison.Ordinal);
        (code, _, e) = Run("anomalies", db, db);
        Assert.Equal(2, code);
        (code, _, e) = Run("anomalies", db, "--model", Write("m.zip", "garbage"));
        Assert.Equal(1, code);
        Assert.Contains("m.zip: not a tracereplay anomaly model", e, StringComparison.Ordinal);
    }
}
