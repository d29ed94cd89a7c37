using System.Text.Json;
using TraceReplay.Cli;
using TraceReplay.Tests.Cli;

namespace TraceReplay.Tests.Analytics;

public sealed class QueryTests(DockerHostRun run) : CliTestBase, IClassFixture<DockerHostRun>
{
    [Fact]
    public void Select_answers_as_a_table_csv_or_json_and_the_analytics_views_are_there()
    {
        var (code, stdout, stderr) = Run("query", run.Db, "SELECT cause, flows, packets FROM v_drops_by_cause WHERE cause = 'filter:INPUT:policy'");
        Assert.True(code == 0, stderr);
        Assert.Contains("filter:INPUT:policy", stdout, StringComparison.Ordinal);
        Assert.Contains("(1 row)", stdout, StringComparison.Ordinal);

        (code, stdout, stderr) = Run("query", run.Db, "SELECT 'a,b' AS x, 1 AS n, NULL AS z", "--format", "csv");
        Assert.True(code == 0, stderr);
        Assert.Equal("x,n,z\r\n\"a,b\",1,\r\n", stdout);

        (code, stdout, stderr) = Run("query", run.Db, "SELECT chain, packets FROM rules WHERE \"table\" = 'filter' AND chain = 'INPUT' AND is_policy", "--format", "json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var row = Assert.Single(doc.RootElement.EnumerateArray());
        Assert.Equal(run.KernelCounters["filter:INPUT:policy"], row.GetProperty("packets").GetUInt64());

        foreach (string ok in new[] { "DESCRIBE packets", "SHOW TABLES", "SUMMARIZE rules", "EXPLAIN SELECT 1", "PRAGMA table_info('rules')", "WITH x AS (SELECT 1 AS a) SELECT * FROM x", "FROM rules LIMIT 1", "SELECT 1; SELECT 2" })
        {
            (code, _, stderr) = Run("query", run.Db, ok);
            Assert.True(code == 0, ok + ": " + stderr);
        }
    }

    [Theory]
    [InlineData("INSERT INTO run_info VALUES ('k', 'v')", "refused INSERT statement: it writes to the database")]
    [InlineData("UPDATE rules SET packets = 0", "refused UPDATE statement: it writes to the database")]
    [InlineData("DELETE FROM packets", "refused DELETE statement: it writes to the database")]
    [InlineData("DROP TABLE rules", "refused DROP statement: it writes to the database")]
    [InlineData("CREATE TABLE t (a INT)", "refused CREATE statement: it writes to the database")]
    [InlineData("CREATE TEMP VIEW v AS SELECT 1", "refused CREATE statement: it writes to the database")]
    [InlineData("ALTER TABLE rules ADD COLUMN x INT", "refused ALTER statement: it writes to the database")]
    [InlineData("ATTACH ':memory:' AS other", "refused ATTACH statement: it attaches another database")]
    [InlineData("DETACH other", "refused DETACH statement")]
    [InlineData("INSTALL httpfs", "refused INSTALL statement: it installs an extension")]
    [InlineData("LOAD httpfs", "refused LOAD statement: it loads an extension")]
    [InlineData("COPY rules TO 'out.csv'", "refused COPY statement: it reads or writes files")]
    [InlineData("EXPORT DATABASE 'out'", "refused EXPORT statement: it writes files")]
    [InlineData("PRAGMA threads = 1", "refused PRAGMA threads: this PRAGMA may change state")]
    [InlineData("PRAGMA enable_profiling", "refused PRAGMA enable_profiling")]
    [InlineData("SET threads = 1", "refused SET statement: it changes a setting")]
    [InlineData("RESET threads", "refused RESET statement: it changes a setting")]
    [InlineData("CHECKPOINT", "refused CHECKPOINT statement: it writes to the database")]
    [InlineData("SELECT 1; DROP TABLE rules", "refused DROP statement")]
    [InlineData("/* ; */ SELECT 1 ; -- x\n INSERT INTO run_info VALUES ('a', ';')", "refused INSERT statement")]
    public void Statements_that_write_attach_load_copy_export_or_change_settings_are_refused(string sql, string message)
    {
        var (code, stdout, stderr) = Run("query", run.Db, sql);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.Contains("read-only", stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, stdout);
        // And nothing changed.
        // rules also holds a position-0 line per user-defined chain; the rules and policies are what iptables-save counts.
        (code, stdout, _) = Run("query", run.Db, "SELECT count(*) AS n FROM rules WHERE position > 0 OR is_policy", "--format", "csv");
        Assert.Equal(0, code);
        Assert.Equal($"n\r\n{run.KernelCounters.Count}\r\n", stdout);
    }

    [Fact]
    public void A_select_cannot_reach_files_outside_the_run_database()
    {
        string secret = Write("secret.csv", "a\n1\n");
        var (code, _, stderr) = Run("query", run.Db, $"SELECT * FROM read_csv('{secret}')");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("disabled by configuration", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_sql_and_bad_files_say_what_is_wrong()
    {
        var (code, _, stderr) = Run("query", run.Db, "SELEC 1");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("syntax error", stderr, StringComparison.Ordinal);

        (code, _, stderr) = Run("query", run.Db, "SELECT no_such_column FROM rules");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("no_such_column", stderr, StringComparison.Ordinal);

        (code, _, stderr) = Run("query", run.Db, "   ");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("no SQL statement", stderr, StringComparison.Ordinal);

        (code, _, stderr) = Run("query", Path.Combine(Dir, "none.duckdb"), "SELECT 1");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("none.duckdb: no such file", stderr, StringComparison.Ordinal);

        string text = Write("notes.duckdb", "this is not a database\n");
        (code, _, stderr) = Run("query", text, "SELECT 1");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("notes.duckdb: not a run database", stderr, StringComparison.Ordinal);

        // A DuckDB database, but not one the replay wrote.
        string other = Path.Combine(Dir, "other.duckdb");
        using (var c = new DuckDB.NET.Data.DuckDBConnection("Data Source=" + other))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE t (a INT)";
            cmd.ExecuteNonQuery();
        }
        foreach (var args in new[] { new[] { "query", other, "SELECT 1" }, ["drops", other], ["nat", other], ["rules", "usage", other], ["export", other, "--parquet", Path.Combine(Dir, "pq")] })
        {
            (code, _, stderr) = Run(args);
            Assert.Equal(ExitCodes.BadInput, code);
            Assert.Contains("other.duckdb: not a run database", stderr, StringComparison.Ordinal);
        }

        // A run written by an older build (schema version 1: rule_trace had other columns) is refused by name.
        string old = Path.Combine(Dir, "old.duckdb");
        File.Copy(run.Db, old);
        using (var c = new DuckDB.NET.Data.DuckDBConnection("Data Source=" + old))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE run_info SET value = '1' WHERE key = 'schema_version'";
            cmd.ExecuteNonQuery();
        }
        (code, _, stderr) = Run("drops", old);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains($"old.duckdb: run database schema version 1, this build reads version {TraceReplay.Store.RunSchema.Version}", stderr, StringComparison.Ordinal);

        (code, _, stderr) = Run("query", run.Db, "SELECT 1", "--format", "xml");
        Assert.Equal(ExitCodes.Usage, code);
    }
}
