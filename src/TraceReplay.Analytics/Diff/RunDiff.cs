using System.Data.Common;
using System.Globalization;
using DuckDB.NET.Data;
using TraceReplay.Store;

namespace TraceReplay.Analytics.Diff;

/// <summary>
/// What a rule change changes: two replays of the same captures (typically the host's rules and
/// `replay --rules NEW.rules`) compared packet by packet, the changed packets grouped into flows
/// with the deciding rule on each side. Both runs are attached read-only to an in-memory DuckDB and
/// compared there (<see cref="RunDiffSql"/>), so a diff of runs of hundreds of millions of rows
/// streams through the engine and only the changes reach this process.
/// </summary>
public static partial class RunDiff
{
    /// <summary>
    /// Compares <paramref name="runA"/> with <paramref name="runB"/>. A missing file, a file that is not
    /// a run database, or runs of different captures (unless <see cref="RunDiffOptions.Force"/>) throw
    /// <see cref="InvalidDataException"/> naming the file.
    /// </summary>
    public static RunDiffResult Compare(string runA, string runB, RunDiffOptions? options = null)
    {
        options ??= new RunDiffOptions();
        Validate(runA);
        Validate(runB);
        using var db = new DuckDBConnection("Data Source=:memory:");
        db.Open();
        Attach(db, runA, runB);
        var warnings = new List<string>();
        CheckInputs(db, runA, runB, options.Force, warnings);

        // The positional first pass reads each run once and leaves only candidates; it is valid only
        // when the runs store their captured sightings in the same order, which replays of the same
        // captures do. Otherwise the hash-join plan gives the same rows, only slower.
        Execute(db, RunDiffSql.Pairs);
        bool aligned = Query(db, RunDiffSql.Misaligned, r => r.GetInt64(0))[0] == 0;
        Execute(db, aligned ? RunDiffSql.ChangesAligned : RunDiffSql.Changes);
        Execute(db, "CREATE OR REPLACE TEMP TABLE diff_flows AS " + RunDiffSql.Flows);
        var (mismatched, firstMismatch) = Query(db, "SELECT count(*), min(id) FROM diff_changes WHERE kind = 'mismatch'", r => (r.GetInt64(0), r.IsDBNull(1) ? 0 : r.GetInt64(1)))[0];
        if (mismatched > 0)
        {
            string what = $"{mismatched} packets are not the same packet in both runs (time or tuple differ), the first at sighting id {firstMismatch}: {runA} and {runB} are not replays of the same captures";
            if (!options.Force)
                throw new InvalidDataException(what + " (use --force to compare the packets that are the same)");
            warnings.Add(what + "; those packets are left out");
        }
        long changed = Query(db, "SELECT count(*) FROM diff_changes WHERE kind <> 'mismatch'", r => r.GetInt64(0))[0];
        long flowCount = Query(db, "SELECT count(*) FROM diff_flows", r => r.GetInt64(0))[0];
        var summary = Query(db, SummarySql, ReadSummary);
        var flows = Query(db, $"SELECT * FROM diff_flows LIMIT {Math.Max(0, options.Limit).ToString(CultureInfo.InvariantCulture)}", ReadFlow);
        return new RunDiffResult(runA, runB, PacketCount(db, "run_a"), PacketCount(db, "run_b"), changed, flowCount, summary, flows, warnings);
    }

    private static void Validate(string path)
    {
        try
        {
            using var reader = RunReader.Open(path);
        }
        catch (FileNotFoundException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }

    /// <summary>
    /// Attaches both runs read-only. The same file twice is attached once (DuckDB refuses a second
    /// handle on one file) and run_b becomes a schema of views onto it, so `diff RUN RUN` works and
    /// shows nothing.
    /// </summary>
    private static void Attach(DuckDBConnection db, string runA, string runB)
    {
        try
        {
            Execute(db, $"ATTACH {Literal(runA)} AS run_a (READ_ONLY)");
            if (Path.GetFullPath(runA) == Path.GetFullPath(runB))
            {
                Execute(db, "CREATE SCHEMA run_b");
                foreach (var t in new[] { "packets", "rules", "connections", "captures", "run_info" })
                    Execute(db, $"CREATE VIEW run_b.{t} AS SELECT * FROM run_a.{t}");
            }
            else
            {
                Execute(db, $"ATTACH {Literal(runB)} AS run_b (READ_ONLY)");
            }
        }
        catch (DuckDBException e)
        {
            throw new InvalidDataException($"{runA}, {runB}: cannot attach the run databases: {e.Message}", e);
        }
    }

    private static long PacketCount(DuckDBConnection db, string run)
    {
        var v = Query(db, $"SELECT value FROM {run}.run_info WHERE key = 'packets' LIMIT 1", r => r.GetString(0));
        return v.Count > 0 && long.TryParse(v[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out long n)
            ? n
            : Query(db, $"SELECT count(DISTINCT packet_id) FROM {run}.packets", r => r.GetInt64(0))[0];
    }

    private static string Literal(string s) => "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'";

    internal static void Execute(DuckDBConnection db, string sql)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    internal static List<T> Query<T>(DuckDBConnection db, string sql, Func<DbDataReader, T> read)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var list = new List<T>();
        while (r.Read())
            list.Add(read(r));
        return list;
    }
}
