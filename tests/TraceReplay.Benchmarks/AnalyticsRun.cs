using System.Diagnostics;
using System.Globalization;
using TraceReplay.Analytics.Drops;
using TraceReplay.Analytics.Nat;
using TraceReplay.Analytics.Rules;
using TraceReplay.Analytics.Run;

namespace TraceReplay.Benchmarks;

/// <summary>
/// `analytics [--packets N] [--db FILE]`: the report commands' own builders timed on a generated run
/// (SyntheticRun: 1 in 50 flows dropped, every 10th MASQUERADEd) of N packets — what `drops`, `rules
/// usage` and `nat` compute, without the terminal output. The run is kept when --db names a file, so a
/// second call times the queries alone.
/// </summary>
internal static class AnalyticsRun
{
    public static int Run(string[] args)
    {
        long packets = 10_000_000;
        string? db = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--packets" when i + 1 < args.Length && long.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n > 0:
                    packets = n;
                    i++;
                    break;
                case "--db" when i + 1 < args.Length:
                    db = args[++i];
                    break;
                default:
                    Console.Error.WriteLine($"analytics: unexpected argument '{args[i]}'\nusage: analytics [--packets N] [--db FILE]");
                    return 2;
            }
        }
        bool keep = db is not null;
        db ??= Path.Combine(Path.GetTempPath(), $"tracereplay-analytics-{Environment.ProcessId}.duckdb");
        try
        {
            var sw = Stopwatch.StartNew();
            if (!File.Exists(db))
            {
                SyntheticRun.Create(db, packets);
                Console.WriteLine($"generate {packets:N0} packets: {sw.Elapsed.TotalSeconds:F1} s ({new FileInfo(db).Length / 1e9:F2} GB)");
            }
            using var run = RunDatabase.Open(db);
            Time("drops", () => DropReports.Build(run, new DropFilter()).Causes.Count);
            Time("drops --port 22", () => DropReports.Build(run, new DropFilter { Port = 22 }).Causes.Count);
            Time("rules usage", () => RuleUsageReports.Build(run).Rules.Count);
            Time("nat --bucket 1m", () => NatUsageReports.Build(run, 60_000_000).Groups.Count);
            return 0;
        }
        finally
        {
            if (!keep)
                File.Delete(db);
        }
    }

    private static void Time(string name, Func<int> query)
    {
        var sw = Stopwatch.StartNew();
        int rows = query();
        Console.WriteLine($"{name}: {sw.Elapsed.TotalSeconds:F2} s ({rows} rows)");
    }
}
