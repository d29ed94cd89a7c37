using System.Text.RegularExpressions;
using TraceReplay.Analytics.Run;

namespace TraceReplay.Analytics.Export;

/// <summary>What one table became: its rows and the Parquet files written under DIR/TABLE/date=…/host=…/.</summary>
public sealed record ExportedTable(string Table, long Rows, IReadOnlyList<string> Files);

/// <summary>
/// `tracereplay export --parquet DIR`: every table of the run as Parquet, Hive-partitioned as
/// DIR/TABLE/date=YYYY-MM-DD/host=NAME/data_N.parquet (DESIGN.md: runs of many hosts analysed together
/// by DuckDB, Spark, Trino or pandas with hive partitioning). The date is the UTC day of each row's own
/// time (packets.ts, connections.first_ts, nat_mappings.setup_ts, conntrack_events.ts,
/// conntrack_start.ts, captures.first_ts); tables without one (rules, rule_trace, run_info) take the day the run's
/// capture starts, so one run's rows of a day sit together. Other hosts' partitions in DIR are left
/// alone; this host's are only replaced with overwrite.
/// </summary>
public static partial class ParquetExport
{
    /// <summary>Each table and the expression giving its row's time (NULL: the run's start).</summary>
    private static readonly (string Table, string? Time)[] Tables =
    [
        ("packets", "ts"), ("rules", null), ("connections", "first_ts"), ("nat_mappings", "setup_ts"),
        ("conntrack_events", "ts"), ("conntrack_start", "ts"), ("rule_trace", null), ("captures", "first_ts"), ("run_info", null),
    ];

    private const string Pattern = "data_{i}";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex HostName();

    public static bool IsValidHostName(string name) => HostName().IsMatch(name);

    /// <summary>The capture host's name when none is given: run_info's hostname, else the run database's file name without extension.</summary>
    public static string DefaultHostName(RunDatabase run)
    {
        ArgumentNullException.ThrowIfNull(run);
        string name = run.InfoValue("hostname") ?? Path.GetFileNameWithoutExtension(run.Path);
        string clean = Regex.Replace(name, "[^A-Za-z0-9._-]", "_");
        return clean.Length == 0 ? "host" : clean.TrimStart('.', '_', '-') is { Length: > 0 } c ? c[..Math.Min(63, c.Length)] : "host";
    }

    /// <summary>Partitions of <paramref name="host"/> already in <paramref name="dir"/>, which an export would mix with.</summary>
    public static List<string> ExistingPartitions(string dir, string host)
    {
        var found = new List<string>();
        foreach (var (table, _) in Tables)
        {
            string t = Path.Combine(dir, table);
            if (!Directory.Exists(t))
                continue;
            foreach (string date in Directory.EnumerateDirectories(t, "date=*"))
            {
                string h = Path.Combine(date, "host=" + host);
                if (Directory.Exists(h))
                    found.Add(h);
            }
        }
        found.Sort(StringComparer.Ordinal);
        return found;
    }

    public static List<ExportedTable> Export(RunDatabase run, string dir, string host, bool overwrite)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentException.ThrowIfNullOrEmpty(dir);
        if (!IsValidHostName(host))
            throw new ArgumentException($"--host-name {host}: use letters, digits, '.', '_' and '-' (it becomes a host=NAME folder)");
        var existing = ExistingPartitions(dir, host);
        if (existing.Count > 0)
        {
            if (!overwrite)
                throw new IOException($"{dir}: already holds host={host} partitions ({existing[0]}{(existing.Count > 1 ? $" and {existing.Count - 1} more" : string.Empty)}); use --overwrite to replace them, or --host-name for another host");
            foreach (string p in existing)
                Directory.Delete(p, recursive: true);
        }
        Directory.CreateDirectory(dir);
        long runStart = run.Scalar<long?>("SELECT coalesce((SELECT min(epoch_us(ts)) FROM packets), (SELECT min(epoch_us(first_ts)) FROM captures))") ?? 0;
        string runDate = DateTime.UnixEpoch.AddTicks(runStart * 10).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var result = new List<ExportedTable>();
        foreach (var (table, time) in Tables)
        {
            // A table newer than the run (conntrack_start, before it existed) is left out, not an error.
            if (!run.HasTable(table))
                continue;
            long rows = run.Scalar<long>($"SELECT count(*) FROM {table}");
            string target = Path.Combine(dir, table);
            var before = Directory.Exists(target) ? Directory.EnumerateFiles(target, "*.parquet", SearchOption.AllDirectories).ToHashSet(StringComparer.Ordinal) : [];
            if (rows > 0)
            {
                // make_timestamp(µs) is a plain UTC TIMESTAMP, so the day does not depend on the session's time zone.
                string date = time is null ? $"DATE '{runDate}'" : $"coalesce(make_timestamp(epoch_us({time}))::DATE, DATE '{runDate}')";
                using var cmd = run.Command($"""
                    COPY (SELECT t.*, {date} AS date, '{host}' AS host FROM {table} t)
                    TO '{target.Replace("'", "''", StringComparison.Ordinal)}' (FORMAT parquet, PARTITION_BY (date, host), OVERWRITE_OR_IGNORE, FILENAME_PATTERN '{Pattern}')
                    """);
                try
                {
                    cmd.ExecuteNonQuery();
                }
                catch (DuckDB.NET.Data.DuckDBException e)
                {
                    throw new RunDatabaseException($"{run.Path}: export of {table} to {target} failed: {RunDatabase.FirstLine(e.Message)}", e);
                }
            }
            var files = Directory.Exists(target)
                ? Directory.EnumerateFiles(target, "*.parquet", SearchOption.AllDirectories).Where(f => !before.Contains(f) || existing.Count > 0).Order(StringComparer.Ordinal).ToList()
                : [];
            result.Add(new ExportedTable(table, rows, files.Where(f => f.Contains($"{Path.DirectorySeparatorChar}host={host}{Path.DirectorySeparatorChar}", StringComparison.Ordinal)).ToList()));
        }
        return result;
    }
}
