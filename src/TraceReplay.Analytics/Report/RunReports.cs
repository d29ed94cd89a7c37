using TraceReplay.Analytics.Anomaly;
using TraceReplay.Analytics.Drops;
using TraceReplay.Analytics.Nat;
using TraceReplay.Analytics.Rules;
using AnalyticsRun = TraceReplay.Analytics.Run.RunDatabase;

namespace TraceReplay.Analytics.Report;

/// <summary>
/// Gathers a <see cref="RunReport"/>: the drops, NAT, rules-usage and anomaly reports exactly as
/// their commands build them (one definition of each answer), plus the run summary, fidelity and
/// top talkers, which no other command reports. Only aggregates and top rows leave DuckDB.
/// </summary>
public static class RunReports
{
    /// <summary>Rows of the fidelity table shown at most; the rest is counted.</summary>
    public const int FidelityRows = 200;

    public static RunReport Build(AnalyticsRun run, ReportOptions options)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(options);
        var summary = Summary(run);
        var fidelity = Fidelity(run);
        var drops = DropReports.Build(run, new DropFilter { Top = Math.Min(options.Top, 5) });
        var nat = NatUsageReports.Build(run, options.BucketUs);
        byte[] png = NatPng(nat);
        var talkers = Talkers(run, options.Top);
        var rules = RuleUsageReports.Build(run, top: options.Top);
        var (anomalies, note) = options.Anomalies ? Anomalies(run.Path, options.AnomalyBucket) : (null, "left out (report --no-anomalies)");
        return new RunReport(run.Path, DateTimeOffset.UtcNow, options, summary, fidelity, drops, nat, png, talkers, rules, anomalies, note);
    }

    private static RunSummary Summary(AnalyticsRun run)
    {
        var info = run.Rows("SELECT key, value FROM run_info").Select(r => ((string)r[0]!, (string?)r[1] ?? string.Empty)).ToList();
        var captures = run.Rows("SELECT file, format, link_type, interface, packets, first_ts, last_ts FROM captures ORDER BY file");
        var totals = run.Rows("SELECT count(*), count(DISTINCT packet_id), epoch_us(min(ts)), epoch_us(max(ts)) FROM packets")[0];
        // A packet's verdict is the one of its last sighting: earlier sightings of a routed or
        // bridged packet were accepted on their way to the point where it was decided.
        var verdicts = run.Rows("""
            SELECT v, count(*), sum(sightings) FROM (
              SELECT arg_max(verdict, id)::VARCHAR AS v, count(*) AS sightings FROM packets GROUP BY packet_id)
            GROUP BY v ORDER BY 2 DESC, v
            """).Select(r => new VerdictCount((string)r[0]!, AnalyticsRun.ToLong(r[1]), AnalyticsRun.ToLong(r[2]))).ToList();
        return new RunSummary(info, captures, ["file", "format", "link type", "interface", "packets", "first", "last"],
            AnalyticsRun.ToLong(totals[0]), AnalyticsRun.ToLong(totals[1]),
            totals[2] is null ? null : AnalyticsRun.ToLong(totals[2]), totals[3] is null ? null : AnalyticsRun.ToLong(totals[3]), verdicts);
    }

    private static FidelitySection Fidelity(AnalyticsRun run)
    {
        var observed = run.Rows("SELECT observed, count(*) FROM packets WHERE observed IS NOT NULL GROUP BY observed ORDER BY 2 DESC, 1")
            .Select(r => ((string)r[0]!, AnalyticsRun.ToLong(r[1]))).ToList();
        if (!run.HasTable("fidelity"))
            return new FidelitySection(observed.Count > 0, [], [], 0, observed);
        var columns = run.Rows("SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'fidelity' ORDER BY column_index")
            .Select(r => (string)r[0]!).ToList();
        long total = run.Scalar<long>("SELECT count(*) FROM fidelity");
        // Every run database has the table; an empty one (a run written by another tool, or before the check existed) recorded nothing.
        if (total == 0)
            return new FidelitySection(observed.Count > 0, [], [], 0, observed);
        var rows = run.Rows($"SELECT * FROM fidelity LIMIT {FidelityRows}");
        return new FidelitySection(true, columns, rows, total, observed);
    }

    /// <summary>Senders by real packets: the first sighting of each packet_id (lowest id) with its length on the wire, so a routed packet seen on two interfaces counts once.</summary>
    private static TopTalkers Talkers(AnalyticsRun run, int top)
    {
        const string First = "SELECT * FROM (SELECT arg_min(src, id) AS src, arg_min(len, id) AS len FROM packets GROUP BY packet_id) WHERE src IS NOT NULL";
        var totals = run.Rows($"SELECT count(*), coalesce(sum(len), 0) FROM ({First})")[0];
        List<Talker> By(string order) => [.. run.Rows($"""
            SELECT src, count(*) AS packets, sum(len) AS bytes FROM ({First}) GROUP BY src ORDER BY {order}, src LIMIT {top}
            """).Select(r => new Talker((string)r[0]!, AnalyticsRun.ToLong(r[1]), AnalyticsRun.ToLong(r[2])))];
        return new TopTalkers(AnalyticsRun.ToLong(totals[0]), AnalyticsRun.ToLong(totals[1]), By("packets DESC, bytes DESC"), By("bytes DESC, packets DESC"));
    }

    /// <summary>The `nat --png` figure (NAT bindings and ports over time, conntrack fill), read back for inlining.</summary>
    private static byte[] NatPng(NatUsageReport nat)
    {
        string tmp = Path.Combine(Path.GetTempPath(), $"tracereplay-report-{Guid.NewGuid():N}.png");
        try
        {
            NatPlot.SavePng(nat, tmp, 1100, 700);
            return File.ReadAllBytes(tmp);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    /// <summary>`tracereplay anomalies RUN` without a model: every window against the run's own normal.</summary>
    private static (AnomalyReport? Report, string? Note) Anomalies(string path, TimeSpan bucket)
    {
        try
        {
            using var run = Anomaly.RunDatabase.Open(path);
            var windows = FeatureQuery.Compute(run, bucket);
            if (windows.Count == 0)
                return (null, "the run has no windows to score (no packets)");
            var model = AnomalyModel.Train(windows, bucket, ["the run itself"]);
            // No behaviour groups (groups: 0): the page shows findings only, and KMeans throws when a small
            // run has fewer distinct entity behaviours than groups.
            return (AnomalyScorer.Score(path, windows, model, "the run itself: each window against the run's median window of its kind", groups: 0), null);
        }
        catch (InvalidDataException e)
        {
            // A run of another schema version still gets the rest of the report.
            return (null, e.Message);
        }
    }
}
