using DuckDB.NET.Data;
using TraceReplay.Cli;
using TraceReplay.Tests.Cli;

namespace TraceReplay.Tests.Analytics;

public sealed class ExportTests(DockerHostRun run) : CliTestBase, IClassFixture<DockerHostRun>
{
    private static long Scalar(DuckDBConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Text(DuckDBConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture)!;
    }

    [Fact]
    public void A_run_made_before_a_table_existed_exports_the_tables_it_has()
    {
        // Runs of schema 3 made before conntrack_start was added have every other table.
        string old = Path.Combine(Dir, "old.duckdb");
        File.Copy(run.Db, old);
        using (var c = new DuckDBConnection($"Data Source={old}"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "DROP TABLE conntrack_start";
            cmd.ExecuteNonQuery();
        }
        string dir = Path.Combine(Dir, "pq-old");
        var (code, stdout, stderr) = Run("export", old, "--parquet", dir);
        Assert.True(code == 0, stderr);
        Assert.False(Directory.Exists(Path.Combine(dir, "conntrack_start")));
        Assert.True(Directory.Exists(Path.Combine(dir, "conntrack_events")), stdout);
    }

    [Fact]
    public void Every_table_comes_back_from_hive_partitioned_parquet_with_its_rows_date_and_host()
    {
        string dir = Path.Combine(Dir, "pq");
        var (code, stdout, stderr) = Run("export", run.Db, "--parquet", dir);
        Assert.True(code == 0, stderr);
        Assert.Contains("as host=docker-host", stdout, StringComparison.Ordinal);

        using var db = new DuckDBConnection($"Data Source={run.Db};ACCESS_MODE=READ_ONLY");
        db.Open();
        // The capture's day (UTC) is the partition of the packets; the host is the run file's name.
        string day = Text(db, "SELECT strftime(make_timestamp(epoch_us(min(first_ts))), '%Y-%m-%d') FROM captures");
        foreach (string table in new[] { "packets", "rules", "connections", "nat_mappings", "conntrack_events", "conntrack_start", "captures", "run_info" })
        {
            string glob = Path.Combine(dir, table, "**", "*.parquet");
            long rows = Scalar(db, $"SELECT count(*) FROM {table}");
            Assert.True(rows > 0, table);
            Assert.Equal(rows, Scalar(db, $"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true)"));
            Assert.Equal(rows, Scalar(db, $"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true) WHERE host = 'docker-host' AND date::VARCHAR = '{day}'"));
        }
        // Values survive: the same drops, by rule, from the Parquet files as from the database.
        Assert.Equal(Scalar(db, "SELECT count(*) FROM packets WHERE verdict IN ('DROP', 'REJECT')"),
            Scalar(db, $"SELECT count(*) FROM read_parquet('{Path.Combine(dir, "packets", "**", "*.parquet")}', hive_partitioning = true) WHERE verdict IN ('DROP', 'REJECT')"));
        Assert.False(Directory.Exists(Path.Combine(dir, "rule_trace")), "an empty table writes no file");

        // A second host's export sits beside the first; the same host again needs --overwrite.
        (code, _, stderr) = Run("export", run.Db, "--parquet", dir, "--host-name", "edge-2");
        Assert.True(code == 0, stderr);
        Assert.Equal(2 * Scalar(db, "SELECT count(*) FROM rules"), Scalar(db, $"SELECT count(*) FROM read_parquet('{Path.Combine(dir, "rules", "**", "*.parquet")}', hive_partitioning = true)"));
        (code, _, stderr) = Run("export", run.Db, "--parquet", dir);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("already holds host=docker-host partitions", stderr, StringComparison.Ordinal);
        (code, _, stderr) = Run("export", run.Db, "--parquet", dir, "--overwrite");
        Assert.True(code == 0, stderr);
        Assert.Equal(Scalar(db, "SELECT count(*) FROM packets"),
            Scalar(db, $"SELECT count(*) FROM read_parquet('{Path.Combine(dir, "packets", "**", "*.parquet")}', hive_partitioning = true) WHERE host = 'docker-host'"));
    }

    [Fact]
    public void Bad_arguments_say_what_is_wrong()
    {
        var (code, _, stderr) = Run("export", run.Db, "--parquet", Path.Combine(Dir, "x"), "--host-name", "a/b");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--host-name a/b", stderr, StringComparison.Ordinal);

        (code, _, stderr) = Run("export", run.Db, "--parquet", Path.Combine(Dir, "no", "such", "dir"));
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("does not exist", stderr, StringComparison.Ordinal);

        (code, _, _) = Run("export", run.Db);
        Assert.Equal(ExitCodes.Usage, code);
    }
}
