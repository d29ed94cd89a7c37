using System.Text.Json;
using DuckDB.NET.Data;
using TraceReplay.Analytics.Run;

namespace TraceReplay.Analytics.Query;

/// <summary>A statement `tracereplay query` refuses; the message says which and why.</summary>
public sealed class QueryRefusedException(string message) : IOException(message);

/// <summary>The result of a query: column names and rows (null for SQL NULL).</summary>
public sealed record QueryResult(IReadOnlyList<string> Columns, IReadOnlyList<string> Types, IReadOnlyList<object?[]> Rows);

/// <summary>
/// `tracereplay query`: SQL a user types, run so that it can only read the run database. Two walls,
/// either of which suffices for writes: the database is opened read-only, and each statement is
/// classified by DuckDB's own parser (json_serialize_sql serialises SELECT statements only) before it
/// runs; the few read-only statements that are not SELECTs (DESCRIBE, SHOW, SUMMARIZE, EXPLAIN and
/// PRAGMAs that only report) are allowed by name. Then external access (files, ATTACH, INSTALL/LOAD,
/// COPY, EXPORT) is switched off and the configuration locked, so even a SELECT cannot reach outside
/// the run database or change a setting.
/// </summary>
public static class ReadOnlyQuery
{
    private static readonly string[] ReadOnlyKeywords = ["DESCRIBE", "SHOW", "SUMMARIZE", "EXPLAIN", "FROM"];

    /// <summary>PRAGMAs that only report (duckdb's pragma_*); any other PRAGMA may change state.</summary>
    private static readonly string[] ReadOnlyPragmas = ["table_info", "show_tables", "show_tables_expanded", "show", "database_size", "storage_info", "version", "platform", "database_list", "functions", "collations", "user_agent", "metadata_info"];

    private static readonly Dictionary<string, string> Why = new(StringComparer.OrdinalIgnoreCase)
    {
        ["INSERT"] = "it writes to the database", ["UPDATE"] = "it writes to the database", ["DELETE"] = "it writes to the database",
        ["CREATE"] = "it writes to the database", ["DROP"] = "it writes to the database", ["ALTER"] = "it writes to the database",
        ["TRUNCATE"] = "it writes to the database", ["MERGE"] = "it writes to the database", ["COMMENT"] = "it writes to the database",
        ["CHECKPOINT"] = "it writes to the database", ["VACUUM"] = "it writes to the database", ["ANALYZE"] = "it writes to the database",
        ["ATTACH"] = "it attaches another database", ["DETACH"] = "it detaches a database", ["USE"] = "it changes the session's database",
        ["INSTALL"] = "it installs an extension", ["LOAD"] = "it loads an extension", ["FORCE"] = "it installs an extension",
        ["COPY"] = "it reads or writes files", ["EXPORT"] = "it writes files", ["IMPORT"] = "it reads files into the database",
        ["PRAGMA"] = "this PRAGMA may change state", ["SET"] = "it changes a setting", ["RESET"] = "it changes a setting",
        ["BEGIN"] = "it controls transactions", ["COMMIT"] = "it controls transactions", ["ROLLBACK"] = "it controls transactions",
        ["CALL"] = "it calls a procedure", ["PREPARE"] = "it prepares a statement", ["EXECUTE"] = "it executes a prepared statement",
        ["DEALLOCATE"] = "it changes the session", ["UPDATE_EXTENSIONS"] = "it updates extensions",
    };

    /// <summary>Checks <paramref name="sql"/> and throws <see cref="QueryRefusedException"/> when it is not read-only, or <see cref="RunDatabaseException"/> when it does not parse.</summary>
    public static void Check(RunDatabase run, string sql)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(sql);
        var statements = SqlText.SplitStatements(sql);
        if (statements.Count == 0)
            throw new QueryRefusedException("query: no SQL statement given");
        foreach (string s in statements)
            CheckOne(run, s);
    }

    private static void CheckOne(RunDatabase run, string statement)
    {
        string keyword = SqlText.FirstKeyword(statement).ToUpperInvariant();
        string json = run.Scalar<string>("SELECT json_serialize_sql($1::VARCHAR)", statement);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        if (!root.GetProperty("error").GetBoolean())
            return; // SELECT (or WITH/VALUES/FROM/DESCRIBE/SHOW/SUMMARIZE, which DuckDB parses as SELECTs)
        string type = root.TryGetProperty("error_type", out var t) ? t.GetString() ?? string.Empty : string.Empty;
        string message = root.TryGetProperty("error_message", out var m) ? m.GetString() ?? string.Empty : string.Empty;
        if (type.Equals("parser", StringComparison.OrdinalIgnoreCase))
            throw new RunDatabaseException($"query: {RunDatabase.FirstLine(message)}");
        if (Array.IndexOf(ReadOnlyKeywords, keyword) >= 0)
        {
            if (keyword == "EXPLAIN" || keyword == "DESCRIBE" || keyword == "SUMMARIZE")
            {
                // EXPLAIN [ANALYZE] X is as safe as X.
                string inner = SqlText.AfterFirstKeyword(statement);
                if (SqlText.FirstKeyword(inner).Equals("ANALYZE", StringComparison.OrdinalIgnoreCase))
                    inner = SqlText.AfterFirstKeyword(inner);
                if (inner.Length > 0 && SqlText.FirstKeyword(inner).Length > 0 && !SqlText.FirstKeyword(inner).Equals("SELECT", StringComparison.OrdinalIgnoreCase))
                    CheckOne(run, inner);
            }
            return;
        }
        if (keyword == "PRAGMA")
        {
            string name = SqlText.FirstKeyword(SqlText.AfterFirstKeyword(statement));
            if (Array.IndexOf(ReadOnlyPragmas, name.ToLowerInvariant()) >= 0 && !SqlText.AfterFirstKeyword(statement).Contains('=', StringComparison.Ordinal))
                return;
            throw new QueryRefusedException($"query: refused PRAGMA {name}: {Why["PRAGMA"]}; `tracereplay query` is read-only (allowed PRAGMAs: {string.Join(", ", ReadOnlyPragmas)})");
        }
        string why = Why.TryGetValue(keyword, out var w) ? w : "it is not a read-only statement";
        throw new QueryRefusedException($"query: refused {keyword} statement: {why}; `tracereplay query` is read-only (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)");
    }

    /// <summary>Checks, locks the connection down and runs <paramref name="sql"/>; the result of the last statement is returned.</summary>
    public static QueryResult Run(RunDatabase run, string sql)
    {
        Check(run, sql);
        Lock(run);
        var statements = SqlText.SplitStatements(sql);
        QueryResult? last = null;
        foreach (string s in statements)
        {
            using var cmd = run.Command(s);
            try
            {
                using var r = cmd.ExecuteReader();
                var cols = new string[r.FieldCount];
                var types = new string[r.FieldCount];
                for (int i = 0; i < cols.Length; i++)
                {
                    cols[i] = r.GetName(i);
                    types[i] = r.GetDataTypeName(i);
                }
                var rows = new List<object?[]>();
                while (r.Read())
                {
                    var row = new object?[cols.Length];
                    for (int i = 0; i < row.Length; i++)
                        row[i] = r.IsDBNull(i) ? null : r.GetValue(i);
                    rows.Add(row);
                }
                last = new QueryResult(cols, types, rows);
            }
            catch (DuckDBException e)
            {
                throw new RunDatabaseException($"query: {RunDatabase.FirstLine(e.Message)}", e);
            }
        }
        return last!;
    }

    /// <summary>No files, no extensions, no other databases, and no way back (lock_configuration).</summary>
    private static void Lock(RunDatabase run)
    {
        using var cmd = run.Command("SET enable_external_access = false");
        cmd.ExecuteNonQuery();
        cmd.CommandText = "SET autoinstall_known_extensions = false";
        cmd.ExecuteNonQuery();
        cmd.CommandText = "SET autoload_known_extensions = false";
        cmd.ExecuteNonQuery();
        cmd.CommandText = "SET lock_configuration = true";
        cmd.ExecuteNonQuery();
    }
}
