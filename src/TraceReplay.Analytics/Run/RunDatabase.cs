using System.Globalization;
using DuckDB.NET.Data;

namespace TraceReplay.Analytics.Run;

/// <summary>The file is not a run database, or a query on it failed; the message names the file.</summary>
public sealed class RunDatabaseException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>
/// A run database (DESIGN.md "Run database") opened for the reports: always read-only (DuckDB's
/// ACCESS_MODE=READ_ONLY, so a report can never change the evidence it reads, and several reports can
/// read one run at once), with the analytics views (<see cref="AnalyticsViews"/>) created as TEMP
/// views on every open. TEMP views live only in this connection's in-memory catalog: they need no
/// write access, work on databases written before they existed, and a newer build's views never
/// collide with an older file's. Everything is read through SQL only, so the writer's internals may
/// change freely.
/// </summary>
public sealed class RunDatabase : IDisposable
{
    private readonly DuckDBConnection _db;
    private Dictionary<string, List<string>>? _info;

    public string Path { get; }

    internal DuckDBConnection Connection => _db;

    private RunDatabase(string path, DuckDBConnection db)
    {
        Path = path;
        _db = db;
    }

    /// <summary>Over a connection already set up (the fleet's in-memory views over Parquet, FleetDatabase); <paramref name="label"/> names it in messages.</summary>
    internal static RunDatabase Over(string label, DuckDBConnection db) => new(label, db);

    /// <summary>Opens <paramref name="path"/> read-only and checks it is a run database (a run_info table with a schema_version).</summary>
    public static RunDatabase Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such file", path);
        DuckDBConnection db;
        try
        {
            db = new DuckDBConnection($"Data Source={path};ACCESS_MODE=READ_ONLY");
            db.Open();
        }
        catch (Exception e) when (e is DuckDBException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            throw new RunDatabaseException($"{path}: not a run database (DuckDB cannot open it: {FirstLine(e.Message)})", e);
        }
        var run = new RunDatabase(path, db);
        try
        {
            long tables = run.Scalar<long>("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND table_name IN ('run_info', 'packets_data', 'rules', 'nat_mappings', 'connections')");
            // packets is a view over packets_data since schema version 3; an older run fails the version check below.
            if (tables < 5 && run.Scalar<long>("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND table_name IN ('run_info', 'packets')") < 2)
                throw new RunDatabaseException($"{path}: not a run database (it lacks the run_info, packets, rules, nat_mappings or connections table; run databases are written by `tracereplay replay --out`)");
            if (run.InfoValue("schema_version") is not { } version)
                throw new RunDatabaseException($"{path}: not a run database (run_info has no schema_version)");
            // Views are written against this build's tables: an older run is refused by name, not by a SQL error.
            if (version != Store.RunSchema.Version.ToString(System.Globalization.CultureInfo.InvariantCulture))
                throw new RunDatabaseException($"{path}: run database schema version {version}, this build reads version {Store.RunSchema.Version} (replay the captures again with this build)");
            using var cmd = db.CreateCommand();
            foreach (var (name, _, sql) in AnalyticsViews.Views)
            {
                cmd.CommandText = $"CREATE OR REPLACE TEMP VIEW {name} AS {sql}";
                cmd.ExecuteNonQuery();
            }
        }
        catch (DuckDBException e)
        {
            run.Dispose();
            throw new RunDatabaseException($"{path}: not a run database ({FirstLine(e.Message)})", e);
        }
        catch
        {
            run.Dispose();
            throw;
        }
        return run;
    }

    /// <summary>run_info as key to values (keys such as warning repeat), in file order.</summary>
    public IReadOnlyDictionary<string, List<string>> Info
    {
        get
        {
            if (_info is null)
            {
                var info = new Dictionary<string, List<string>>(StringComparer.Ordinal);
                foreach (var row in Rows("SELECT key, value FROM run_info"))
                {
                    string key = (string)row[0]!;
                    if (!info.TryGetValue(key, out var list))
                        info[key] = list = [];
                    list.Add((string?)row[1] ?? string.Empty);
                }
                _info = info;
            }
            return _info;
        }
    }

    public string? InfoValue(string key) => Info.TryGetValue(key, out var v) && v.Count > 0 ? v[0] : null;

    /// <summary>Whether the run has a table or view of this name (a run made before a table was added lacks it).</summary>
    public bool HasTable(string name) =>
        Scalar<long>("SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = $1", name) > 0;

    /// <summary>Whether the run has rows in <paramref name="table"/> (rule_trace is only filled with --trace).</summary>
    public bool HasRows(string table) => Scalar<long>($"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1)") > 0;

    internal DuckDBCommand Command(string sql, params object?[] parameters)
    {
        var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        foreach (var p in parameters)
            cmd.Parameters.Add(new DuckDBParameter(p ?? DBNull.Value));
        return cmd;
    }

    internal T Scalar<T>(string sql, params object?[] parameters)
    {
        using var cmd = Command(sql, parameters);
        object? v = Wrap(() => cmd.ExecuteScalar());
        return v is null or DBNull ? default! : (T)Convert.ChangeType(v, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), CultureInfo.InvariantCulture);
    }

    /// <summary>Every row of a query as an array of values (DBNull as null); for reports, whose results are small.</summary>
    internal List<object?[]> Rows(string sql, params object?[] parameters)
    {
        using var cmd = Command(sql, parameters);
        return Wrap(() =>
        {
            var rows = new List<object?[]>();
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var row = new object?[r.FieldCount];
                for (int i = 0; i < row.Length; i++)
                    row[i] = r.IsDBNull(i) ? null : r.GetValue(i);
                rows.Add(row);
            }
            return rows;
        });
    }

    /// <summary>Runs <paramref name="action"/> over the rows of a query without keeping them (for sweeps over many rows).</summary>
    internal void Each(string sql, Action<DuckDBDataReader> action, params object?[] parameters)
    {
        using var cmd = Command(sql, parameters);
        Wrap(() =>
        {
            using var r = (DuckDBDataReader)cmd.ExecuteReader();
            while (r.Read())
                action(r);
            return 0;
        });
    }

    private T Wrap<T>(Func<T> f)
    {
        try
        {
            return f();
        }
        catch (DuckDBException e)
        {
            throw new RunDatabaseException($"{Path}: {FirstLine(e.Message)}", e);
        }
    }

    internal static string FirstLine(string message)
    {
        int nl = message.IndexOf('\n', StringComparison.Ordinal);
        return (nl < 0 ? message : message[..nl]).Trim();
    }

    /// <summary>A count or sum as long: DuckDB's sum() is a HUGEINT, which DuckDB.NET hands over as a BigInteger.</summary>
    internal static long ToLong(object? v) => v switch
    {
        null => 0,
        System.Numerics.BigInteger b => (long)b,
        _ => Convert.ToInt64(v, CultureInfo.InvariantCulture),
    };

    public void Dispose() => _db.Dispose();
}
