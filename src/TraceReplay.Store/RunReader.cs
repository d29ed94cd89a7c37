using System.Data.Common;
using System.Globalization;
using DuckDB.NET.Data;

namespace TraceReplay.Store;

/// <summary>
/// Reads a finished run database back for the report commands (counters, conntrack, trace). Opens
/// it read-only, so a report never changes a run, and refuses anything that is not a run database
/// (no run_info with a schema_version) with a message naming the file: exit code 1 at the CLI.
/// </summary>
public sealed partial class RunReader : IDisposable
{
    private readonly DuckDBConnection _db;

    public string Path { get; }

    private RunReader(string path, DuckDBConnection db)
    {
        Path = path;
        _db = db;
    }

    /// <summary>Whether <paramref name="path"/> looks like a DuckDB file (its header says "DUCK"), without opening it.</summary>
    public static bool LooksLikeDuckDb(string path)
    {
        try
        {
            using var f = File.OpenRead(path);
            Span<byte> head = stackalloc byte[12];
            return f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && head[8..12].SequenceEqual("DUCK"u8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Opens a run database; <see cref="InvalidDataException"/> or <see cref="FileNotFoundException"/> name the file when it is not one.</summary>
    public static RunReader Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path))
            throw new InvalidDataException($"{path}: a folder, not a run database (expected RUN.duckdb written by tracereplay replay --out)");
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such file", path);
        if (!LooksLikeDuckDb(path))
            throw new InvalidDataException($"{path}: not a run database (not a DuckDB file; expected RUN.duckdb written by tracereplay replay --out)");
        DuckDBConnection? db = null;
        try
        {
            db = new DuckDBConnection($"Data Source={path};ACCESS_MODE=READ_ONLY");
            db.Open();
            var reader = new RunReader(path, db);
            if (!reader.HasTable("run_info") || reader.Info("schema_version") is null)
                throw new InvalidDataException($"{path}: a DuckDB file but not a run database (no run_info with a schema_version)");
            db = null;
            return reader;
        }
        catch (DuckDBException e)
        {
            throw new InvalidDataException($"{path}: cannot read the run database: {e.Message}", e);
        }
        finally
        {
            db?.Dispose();
        }
    }

    public void Dispose() => _db.Dispose();

    /// <summary>The first run_info value of a key, or null.</summary>
    public string? Info(string key) => InfoAll(key).FirstOrDefault();

    /// <summary>Every run_info value of a key, in the order written (captures, sysctls, warnings repeat).</summary>
    public IReadOnlyList<string> InfoAll(string key) =>
        Query("SELECT value FROM run_info WHERE key = $1 ORDER BY rowid", r => r.GetString(0), key);

    /// <summary>The times of the first and last sighting (UTC microseconds); null for a run with no packets.</summary>
    public (long FirstUs, long LastUs)? TimeRange()
    {
        var rows = Query("SELECT epoch_us(min(ts)), epoch_us(max(ts)) FROM packets", r => r.IsDBNull(0) ? ((long, long)?)null : (r.GetInt64(0), r.GetInt64(1)));
        return rows.Count == 0 ? null : rows[0];
    }

    public bool HasTable(string name) =>
        Query("SELECT count(*) FROM duckdb_tables() WHERE table_name = $1", r => r.GetInt64(0), name)[0] > 0;

    private List<T> Query<T>(string sql, Func<DbDataReader, T> read, params object[] args)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        foreach (var a in args)
            cmd.Parameters.Add(new DuckDBParameter(a));
        using var r = cmd.ExecuteReader();
        var list = new List<T>();
        while (r.Read())
            list.Add(read(r));
        return list;
    }

    private static string Str(DbDataReader r, int i) => r.IsDBNull(i) ? string.Empty : Convert.ToString(r.GetValue(i), CultureInfo.InvariantCulture) ?? string.Empty;

    private static string? StrOrNull(DbDataReader r, int i) => r.IsDBNull(i) ? null : Convert.ToString(r.GetValue(i), CultureInfo.InvariantCulture);

    private static long I64(DbDataReader r, int i) => r.IsDBNull(i) ? -1 : Convert.ToInt64(r.GetValue(i), CultureInfo.InvariantCulture);

    private static ulong U64(DbDataReader r, int i) => r.IsDBNull(i) ? 0 : Convert.ToUInt64(r.GetValue(i), CultureInfo.InvariantCulture);
}
