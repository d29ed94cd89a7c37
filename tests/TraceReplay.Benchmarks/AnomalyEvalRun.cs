using System.Diagnostics;
using System.Globalization;
using TraceReplay.Analytics.Anomaly;
using TraceReplay.Tests.Analytics;

namespace TraceReplay.Benchmarks;

/// <summary>
/// `anomaly-eval`: how well the anomaly ranking finds injected attacks. Normal traffic for the
/// docker-host snapshot (AnomalyTraffic) is replayed into two training runs; a test run of the same
/// kind of traffic (another seed) carries a SYN flood, a port scan, NAT port pressure from one
/// container, a conntrack table filling up (nf_conntrack_max lowered for all runs), and a rule change
/// that drops the web service for the last part (a `-m time --datestart` rule in the --rules file).
/// Every window of the test run is labelled attack or not (AttackLabel.Covers); the report gives
/// precision@k of the ranking, the recall of labelled windows in the top R (R = number of labelled
/// windows) and, per attack, the rank of its first window. Fixed seeds: the same figures every run.
/// </summary>
internal static class AnomalyEvalRun
{
    private static readonly long T0 = new DateTimeOffset(2026, 11, 25, 18, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1_000_000;

    public static int Run(string[] args)
    {
        double seconds = 600;
        string? dir = null;
        int ctMax = 3000;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds": seconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--dir": dir = args[++i]; break;
                case "--conntrack-max": ctMax = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"anomaly-eval: unknown option {args[i]} (--seconds N, --dir DIR, --conntrack-max N)");
                    return 2;
            }
        }
        string root = FindRepo();
        string snapshot = Path.Combine(root, "datasets", "docker-host", "snapshot");
        bool temp = dir is null;
        dir ??= Directory.CreateTempSubdirectory("tracereplay-anomaly-eval-").FullName;
        try
        {
            var sw = Stopwatch.StartNew();
            var normals = new List<string>();
            foreach (int seed in new[] { 11, 12 })
            {
                var t = new AnomalyTraffic(seed, T0);
                t.Normal(0, seconds);
                normals.Add(Replay(t, dir, $"normal{seed}", snapshot, null, ctMax));
            }
            var test = new AnomalyTraffic(21, T0);
            double s = seconds / 6;
            var (_, rules) = test.RuleChange(File.ReadAllText(Path.Combine(snapshot, "iptables.rules")), 5 * s, seconds);
            test.Normal(0, seconds);
            test.SynFlood(s, 10, 150);
            test.PortScan(2 * s, 10, 1000);
            test.NatPressure(3 * s, 10, 200);
            test.ConntrackFill(4 * s, 10, 500);
            string rulesFile = Path.Combine(dir, "changed.rules");
            File.WriteAllText(rulesFile, rules);
            string testDb = Replay(test, dir, "test", snapshot, rulesFile, ctMax);
            Console.WriteLine($"replayed 3 runs of {seconds:0} s in {sw.Elapsed.TotalSeconds:0.0} s (test run: {test.Packets:N0} packets, nf_conntrack_max {ctMax})");

            var bucket = TimeSpan.FromSeconds(10);
            var training = new List<FeatureWindow>();
            foreach (var n in normals)
            {
                using var r = RunDatabase.Open(n);
                training.AddRange(FeatureQuery.Compute(r, bucket));
            }
            sw.Restart();
            var model = AnomalyModel.Train(training, bucket, normals);
            using var run = RunDatabase.Open(testDb);
            var windows = FeatureQuery.Compute(run, bucket);
            var trained = AnomalyScorer.Score(testDb, windows, model, "normal runs");
            var self = AnomalyScorer.Score(testDb, windows, AnomalyModel.Train(windows, bucket, ["self"]), "the run itself");
            Console.WriteLine($"features + training + scoring: {sw.Elapsed.TotalSeconds:0.0} s; {training.Count:N0} training windows, {windows.Count:N0} test windows");
            Report("model trained on 2 normal runs", trained, test.Labels, bucket);
            Report("no model (the run is its own baseline)", self, test.Labels, bucket);
            return 0;
        }
        finally
        {
            if (temp)
                Directory.Delete(dir, recursive: true);
        }
    }

    private static string Replay(AnomalyTraffic t, string dir, string name, string snapshot, string? rules, int ctMax)
    {
        string d = Path.Combine(dir, name);
        Directory.CreateDirectory(d);
        string db = Path.Combine(d, "run.duckdb");
        if (File.Exists(db))
            File.Delete(db);
        AnomalyTraffic.Replay(snapshot, t.Write(d), db, rules, ctMax);
        return db;
    }

    private static void Report(string title, AnomalyReport report, IReadOnlyList<AttackLabel> labels, TimeSpan bucket)
    {
        long bucketUs = bucket.Ticks / 10;
        var findings = report.Findings.Where(f => !labels.Any(l => l.Ignores(f.Window, bucketUs) && !labels.Any(o => o.Covers(f.Window, bucketUs)))).ToList();
        int ignored = report.Findings.Count - findings.Count;
        report = report with { Findings = findings };
        var isAttack = report.Findings.Select(f => labels.Any(l => l.Covers(f.Window, bucketUs))).ToList();
        int labelled = isAttack.Count(x => x);
        Console.WriteLine();
        Console.WriteLine($"{title}: {report.Findings.Count:N0} windows, {labelled:N0} labelled attack windows ({ignored:N0} windows of ports the scan probed left out)");
        foreach (int k in new[] { 10, 25, 50, 100 })
            Console.WriteLine($"  precision@{k,-3} {isAttack.Take(k).Count(x => x) / (double)Math.Min(k, isAttack.Count):0.00}");
        Console.WriteLine($"  recall of labelled windows in the top {labelled} (R-precision): {isAttack.Take(labelled).Count(x => x) / (double)Math.Max(1, labelled):0.00}");
        Console.WriteLine($"  {"attack",-36} {"windows",8} {"first rank",10} {"recall@50",9} {"recall@200",10}");
        foreach (var l in labels)
        {
            var ranks = report.Findings.Select((f, i) => (f, i)).Where(x => l.Covers(x.f.Window, bucketUs)).Select(x => x.i + 1).ToList();
            string first = ranks.Count == 0 ? "-" : ranks.Min().ToString(CultureInfo.InvariantCulture);
            Console.WriteLine($"  {l.Name,-36} {ranks.Count,8} {first,10} {ranks.Count(r => r <= 50) / (double)Math.Max(1, ranks.Count),9:0.00} {ranks.Count(r => r <= 200) / (double)Math.Max(1, ranks.Count),10:0.00}");
        }
        Console.WriteLine("  top 5:");
        foreach (var (f, i) in report.Findings.Take(5).Select((f, i) => (f, i)))
            Console.WriteLine($"   {i + 1}. {(isAttack[i] ? "attack" : "normal")} {f.Score:0.0}  {f.Summary}");
    }

    private static string FindRepo()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "TraceReplay.sln")))
                return d.FullName;
        }
        throw new DirectoryNotFoundException("anomaly-eval: cannot find the repository (TraceReplay.sln) above " + AppContext.BaseDirectory);
    }
}
