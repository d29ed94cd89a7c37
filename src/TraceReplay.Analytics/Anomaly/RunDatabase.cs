using System.Globalization;
using DuckDB.NET.Data;

namespace TraceReplay.Analytics.Anomaly;

/// <summary>
/// A run database opened read-only for the models, checked to be one: a DuckDB file with the tables
/// the features read and the schema version they were written for. Anything else is an
/// <see cref="InvalidDataException"/> naming the file, so the command exits 1 with a message.
/// </summary>
public sealed class RunDatabase : IDisposable
{
    private static readonly string[] NeededTables = ["packets", "connections", "nat_mappings", "run_info"];

    public string Path { get; }

    internal DuckDBConnection Connection { get; }

    private RunDatabase(string path, DuckDBConnection connection)
    {
        Path = path;
        Connection = connection;
    }

    public static RunDatabase Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such file", path);
        DuckDBConnection? db = null;
        try
        {
            db = new DuckDBConnection($"Data Source={path};ACCESS_MODE=READ_ONLY");
            db.Open();
        }
        catch (DuckDBException e)
        {
            db?.Dispose();
            throw new InvalidDataException($"{path}: not a run database (DuckDB cannot open it: {FirstLine(e.Message)})", e);
        }
        var run = new RunDatabase(path, db);
        try
        {
            run.Check();
            return run;
        }
        catch
        {
            run.Dispose();
            throw;
        }
    }

    private void Check()
    {
        var tables = new HashSet<string>(StringComparer.Ordinal);
        using (var cmd = Connection.CreateCommand())
        {
            cmd.CommandText = "SELECT table_name FROM information_schema.tables";
            using var r = cmd.ExecuteReader();
            while (r.Read())
                tables.Add(r.GetString(0));
        }
        foreach (var t in NeededTables)
        {
            if (!tables.Contains(t))
                throw new InvalidDataException($"{Path}: not a run database (no table '{t}'; write one with tracereplay replay --out)");
        }
        string? version = Scalar("SELECT max(value) FROM run_info WHERE key = 'schema_version'")?.ToString();
        if (version != Store.RunSchema.Version.ToString(CultureInfo.InvariantCulture))
            throw new InvalidDataException($"{Path}: run database schema version {version ?? "(none)"}, this build reads version {Store.RunSchema.Version}");
    }

    internal object? Scalar(string sql)
    {
        using var cmd = Connection.CreateCommand();
        cmd.CommandText = sql;
        var v = cmd.ExecuteScalar();
        return v is DBNull ? null : v;
    }

    private static string FirstLine(string s) => s.Split('\n', 2)[0].Trim();

    public void Dispose() => Connection.Dispose();
}
