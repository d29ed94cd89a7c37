using System.Diagnostics;
using System.Globalization;
using DuckDB.NET.Data;
using TraceReplay.Analytics.Diff;
using TraceReplay.Store;

namespace TraceReplay.Benchmarks;

/// <summary>
/// `bigrun [--packets N] [--dir DIR] [--keep]`: issue 7's "queries over 100 million packet rows
/// answer in seconds". Generates a run database of N packet sightings with DuckDB itself (INSERT …
/// SELECT FROM range(), see <see cref="BigRunSql"/>) in the schema the replay writes, and a second
/// run of the same "captures" with one rule removed (DROP of tcp/22), then times the views and the
/// questions users ask (drops by rule, top sources, NAT usage per bucket) and `diff` of the two
/// runs (<see cref="RunDiff.Compare"/>, the command's own code), printing seconds per query and the
/// file sizes. Stopwatch over whole queries: the cost that matters is the file scan, cold or warm.
/// </summary>
public static class BigRun
{
    public static int Run(string[] args)
    {
        long packets = 100_000_000;
        string dir = Path.Combine(Path.GetTempPath(), "tracereplay-bigrun");
        bool keep = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--packets" when i + 1 < args.Length: packets = long.Parse(args[++i], NumberStyles.Integer, CultureInfo.InvariantCulture); break;
                case "--dir" when i + 1 < args.Length: dir = args[++i]; break;
                case "--keep": keep = true; break;
                default: Console.Error.WriteLine("usage: bigrun [--packets N] [--dir DIR] [--keep]"); return 2;
            }
        }
        packets = Math.Max(8, packets / 8 * 8);
        Directory.CreateDirectory(dir);
        string a = Path.Combine(dir, "a.duckdb"), b = Path.Combine(dir, "b.duckdb");
        Console.WriteLine($"bigrun: {packets:N0} packet sightings per run in {dir}; load average {LoadAverage()}; {Environment.ProcessorCount} CPUs");
        Time($"generate run A ({packets:N0} sightings)", () => Generate(a, packets, sshDrop: true));
        Time($"generate run B (no tcp/22 DROP)", () => Generate(b, packets, sshDrop: false));
        Console.WriteLine($"file sizes: A {new FileInfo(a).Length / 1e9:F2} GB, B {new FileInfo(b).Length / 1e9:F2} GB ({new FileInfo(a).Length / (double)packets:F1} bytes per sighting)");

        using (var db = new DuckDBConnection($"Data Source={a};ACCESS_MODE=READ_ONLY"))
        {
            db.Open();
            foreach (var (name, sql) in BigRunSql.Queries)
                Time(name, () => Scalar(db, sql));
        }
        RunDiffResult? diff = null;
        Time("diff A B (tracereplay diff, --limit 50)", () => diff = RunDiff.Compare(a, b, new RunDiffOptions { Limit = 50 }));
        Console.WriteLine($"  {diff!.PacketsChanged:N0} packets of {diff.FlowsChanged:N0} flows changed; {string.Join("; ", diff.Summary.Select(s => s.Text))}");
        // Packets, not flows: at 100 M the hashed 5-tuples of two connections can coincide.
        long expected = ExpectedSshPackets(a);
        Console.WriteLine(expected == diff.PacketsChanged
            ? $"  = the {expected:N0} tcp/22 packets A dropped (check passed)"
            : $"  MISMATCH: A dropped {expected:N0} tcp/22 packets");
        Console.WriteLine($"load average at the end {LoadAverage()}");
        if (!keep)
        {
            File.Delete(a);
            File.Delete(b);
        }
        return expected == diff.PacketsChanged ? 0 : 1;
    }

    /// <summary>An empty run database from the replay's own writer (tables, enums, views, schema_version), then filled by SQL.</summary>
    private static void Generate(string path, long packets, bool sshDrop)
    {
        File.Delete(path);
        using (var w = RunWriter.Create(path))
        {
            w.AddInfo("packets", (packets / 2).ToString(CultureInfo.InvariantCulture));
            w.AddInfo("sightings", packets.ToString(CultureInfo.InvariantCulture));
            w.AddInfo("generator", "TraceReplay.Benchmarks bigrun");
            w.Complete();
        }
        using var db = new DuckDBConnection($"Data Source={path}");
        db.Open();
        foreach (var sql in BigRunSql.Generate(packets, sshDrop))
        {
            using var cmd = db.CreateCommand();
            cmd.CommandText = sql;
            cmd.ExecuteNonQuery();
        }
    }

    private static long ExpectedSshPackets(string path)
    {
        using var db = new DuckDBConnection($"Data Source={path};ACCESS_MODE=READ_ONLY");
        db.Open();
        return Convert.ToInt64(Scalar(db, "SELECT count(*) FROM packets WHERE verdict_rule_id = 5"), CultureInfo.InvariantCulture);
    }

    private static object? Scalar(DuckDBConnection db, string sql)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        object? first = null;
        while (r.Read())
            first ??= r.GetValue(0);
        return first;
    }

    private static void Time(string name, Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        Console.WriteLine($"{sw.Elapsed.TotalSeconds,9:F2} s  {name}");
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
