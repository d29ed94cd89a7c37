using System.Diagnostics;
using System.Globalization;
using DuckDB.NET.Data;

namespace TraceReplay.Benchmarks;

/// <summary>
/// `floor --run RUN.duckdb [--dir DIR] [--threads 1,2]`: what DuckDB alone costs to store a run's rows, with
/// nothing of ours in the way. Every base table of the run is first copied into an in-memory temporary table
/// (untimed), then written into a fresh database file by DuckDB itself, `CREATE TABLE … AS SELECT` in one
/// transaction plus the CHECKPOINT, as the replay's one transaction does: the same types (ENUMs included), the
/// same rows and the same compression and statistics work, but no capture reading, no simulation, no row
/// filling and no hand-over between threads. Per table and in all it prints wall and process CPU time
/// (CPU ns per row), and the ceiling that follows: the sightings per second that this storage alone allows
/// with every core of the machine doing nothing else. A replay into DuckDB cannot run faster than that.
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
                case "--threads": threads = [.. args[i + 1].Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture))]; break;
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

            // The ENUM types the run's tables use, defined in this database so the copies keep them
            // (a CTAS across catalogs would otherwise fail or store text).
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = "SELECT type_name, string_agg(quote, ', ') FROM (SELECT type_name, '''' || replace(unnest(enum_range_values), '''', '''''') || '''' AS quote FROM (SELECT type_name, labels AS enum_range_values FROM duckdb_types() WHERE database_name = 'src' AND logical_type = 'ENUM')) GROUP BY type_name";
                using var r = cmd.ExecuteReader();
                var defs = new List<string>();
                while (r.Read())
                    defs.Add($"CREATE TYPE \"{r.GetString(0)}\" AS ENUM ({r.GetString(1)})");
                r.Close();
                foreach (var d in defs)
                    Exec(c, d);
            }

            Console.WriteLine($"threads {t}:");
            double totalCpu = 0, totalWall = 0;
            long totalRows = 0;
            foreach (var table in tables)
            {
                long rows = Count(c, $"src.\"{table}\"");
                if (rows == 0)
                    continue;
                Exec(c, $"CREATE TEMP TABLE mem AS SELECT * FROM src.\"{table}\"");
                var process = Process.GetCurrentProcess();
                var cpu0 = process.TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                Exec(c, "BEGIN");
                Exec(c, $"CREATE TABLE \"{table}\" AS SELECT * FROM temp.mem");
                Exec(c, "COMMIT");
                Exec(c, "CHECKPOINT");
                sw.Stop();
                process.Refresh();
                double cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
                Exec(c, "DROP TABLE temp.mem");
                if (Types(c, "src", table) is var want && Types(c, "floor", table) is var got && (want != got || got.Length == 0))
                {
                    Console.Error.WriteLine($"floor: {table}: the copy's column types differ from the run's, so its cost would not be the run's: run ({want}), copy ({got})");
                    return 1;
                }
                totalCpu += cpu;
                totalWall += sw.Elapsed.TotalSeconds;
                totalRows += rows;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {table,-22} {rows,10:N0} rows  wall {sw.Elapsed.TotalSeconds,6:F2} s  CPU {cpu,6:F2} s  {cpu * 1e9 / rows,6:F0} CPU ns/row"));
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {"all tables",-22} {totalRows,10:N0} rows  wall {totalWall,6:F2} s  CPU {totalCpu,6:F2} s  {totalCpu * 1e9 / sightings,6:F0} CPU ns/sighting"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  ceiling: {Environment.ProcessorCount * sightings / totalCpu / 1e6:F2} M sightings/s with all {Environment.ProcessorCount} cores storing and nothing else ({sightings / totalWall / 1e6:F2} M/s at this run's wall time)"));
        }
        File.Delete(target);
        File.Delete(target + ".wal");
        return 0;
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
