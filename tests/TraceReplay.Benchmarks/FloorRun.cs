using System.Diagnostics;
using System.Globalization;
using DuckDB.NET.Data;

namespace TraceReplay.Benchmarks;

/// <summary>
/// `floor --run RUN.duckdb [--dir DIR] [--threads 1,2]`: what DuckDB alone costs to store a run's rows, with
/// nothing of ours in the way. Every base table of the run is first copied into an in-memory temporary table
/// (untimed), then written into a fresh database file by DuckDB itself: `CREATE TABLE … AS SELECT` per table,
/// all in one transaction, then COMMIT and CHECKPOINT, as the replay's single transaction ends. The same
/// types (ENUMs included; checked), the same rows and the same compression and statistics work, but no
/// capture reading, no simulation, no row filling and no hand-over between threads. It prints wall and
/// process CPU time per table (CPU ns per row) and for the commit, in all, and the ceiling that follows:
/// the packets rows (one per sighting, plus generated replies) per second that this storage alone allows with every core doing nothing else. A replay
/// into DuckDB cannot run faster than that.
/// </summary>
public static class FloorRun
{
    public static int Run(string[] args)
    {
        string? run = null;
        string dir = Path.Combine(Path.GetTempPath(), "tracereplay-floor-bench");
        int[] threads = [1, Environment.ProcessorCount];
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--run": run = args[i + 1]; break;
                case "--dir": dir = args[i + 1]; break;
                case "--threads":
                    try
                    {
                        threads = [.. args[i + 1].Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture))];
                    }
                    catch (FormatException)
                    {
                        return Usage($"--threads {args[i + 1]}: a comma-separated list of whole numbers");
                    }
                    break;
                default: return Usage($"unknown option {args[i]}");
            }
        }
        if (args.Length % 2 != 0)
            return Usage($"option {args[^1]} needs a value");
        if (run is null)
            return Usage("--run RUN.duckdb is required (a run database written by `tracereplay replay --out`)");
        if (!File.Exists(run))
            return Usage($"{run}: no such file");
        if (threads.Any(t => t < 1))
            return Usage("--threads: each count must be at least 1");

        Directory.CreateDirectory(dir);
        string target = Path.Combine(dir, "floor.duckdb");
        if (Path.GetFullPath(target) == Path.GetFullPath(run))
            return Usage($"--dir {dir}: the copy would overwrite the run itself ({target}); choose another folder");
        try
        {
            return Measure(run, target, threads);
        }
        catch (DuckDBException e)
        {
            Console.Error.WriteLine($"floor: {run}: {e.Message}");
            return 1;
        }
        finally
        {
            File.Delete(target);
            File.Delete(target + ".wal");
        }
    }

    private static int Measure(string run, string target, int[] threads)
    {
        long sightings = 0;
        Console.WriteLine($"run: {run}");
        foreach (int t in threads)
        {
            File.Delete(target);
            File.Delete(target + ".wal");
            using var c = new DuckDBConnection($"Data Source={target}");
            c.Open();
            Exec(c, $"ATTACH '{run.Replace("'", "''", StringComparison.Ordinal)}' AS src (READ_ONLY)");
            Exec(c, $"SET threads = {t}");
            var tables = new List<string>();
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src' AND NOT temporary ORDER BY table_name";
                using var r = cmd.ExecuteReader();
                while (r.Read())
                    tables.Add(r.GetString(0));
            }
            if (!tables.Contains("packets_data"))
                return Usage($"{run}: not a run database of schema 3 or later (no packets_data table)");
            sightings = Count(c, "src.packets_data");

            Console.WriteLine($"threads {t}:");
            double totalCpu = 0, totalWall = 0;
            long totalRows = 0;
            using var process = Process.GetCurrentProcess();
            Exec(c, "BEGIN");
            foreach (var table in tables)
            {
                string name = "\"" + table.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
                long rows = Count(c, $"src.{name}");
                if (rows == 0)
                    continue;
                Exec(c, $"CREATE TEMP TABLE mem AS SELECT * FROM src.{name}");
                var (wall, cpu) = Timed(process, () => Exec(c, $"CREATE TABLE {name} AS SELECT * FROM temp.mem"));
                Exec(c, "DROP TABLE temp.mem");
                if (Types(c, "src", table) is var want && Types(c, "floor", table) is var got && (want != got || got.Length == 0))
                {
                    Console.Error.WriteLine($"floor: {table}: the copy's column types differ from the run's, so its cost would not be the run's: run ({want}), copy ({got})");
                    return 1;
                }
                totalCpu += cpu;
                totalWall += wall;
                totalRows += rows;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {table,-22} {rows,10:N0} rows  wall {wall,6:F2} s  CPU {cpu,6:F2} s  {cpu * 1e9 / rows,6:F0} CPU ns/row"));
            }
            var (commitWall, commitCpu) = Timed(process, () =>
            {
                Exec(c, "COMMIT");
                Exec(c, "CHECKPOINT");
            });
            totalCpu += commitCpu;
            totalWall += commitWall;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {"COMMIT + CHECKPOINT",-22} {"",10}       wall {commitWall,6:F2} s  CPU {commitCpu,6:F2} s"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {"all tables",-22} {totalRows,10:N0} rows  wall {totalWall,6:F2} s  CPU {totalCpu,6:F2} s  {totalCpu * 1e9 / sightings,6:F0} CPU ns per packets row"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  ceiling: {Environment.ProcessorCount * sightings / totalCpu / 1e6:F2} M packets rows/s (a row per sighting) with all {Environment.ProcessorCount} cores storing and nothing else ({sightings / totalWall / 1e6:F2} M/s at this run's wall time)"));
        }
        return 0;
    }

    private static (double Wall, double Cpu) Timed(Process process, Action work)
    {
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        work();
        sw.Stop();
        process.Refresh();
        return (sw.Elapsed.TotalSeconds, (process.TotalProcessorTime - cpu0).TotalSeconds);
    }

    private static int Usage(string why)
    {
        Console.Error.WriteLine($"floor: {why}");
        Console.Error.WriteLine("usage: floor --run RUN.duckdb [--dir DIR] [--threads 1,2]");
        return 2;
    }

    private static void Exec(DuckDBConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static string Types(DuckDBConnection c, string database, string table)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT string_agg(data_type, ', ' ORDER BY column_index) FROM duckdb_columns() WHERE database_name = '{database}' AND schema_name = 'main' AND table_name = '{table}'";
        return Convert.ToString(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) ?? string.Empty;
    }

    private static long Count(DuckDBConnection c, string table)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT count(*) FROM {table}";
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }
}
