using System.Text.RegularExpressions;
using DuckDB.NET.Data;
using TraceReplay.Analytics.Query;
using TraceReplay.Analytics.Run;

namespace TraceReplay.Analytics.Fleet;

/// <summary>
/// Many hosts' runs read together (issue 9, "scale beyond one machine"): the Parquet tree that
/// `tracereplay export RUN --parquet DIR --host-name NAME` fills, one host=NAME partition per host,
/// opened as an in-memory DuckDB with one view per exported table over
/// read_parquet('DIR/TABLE/**/*.parquet', hive_partitioning = true) — so every row carries the
/// partition columns `date` and `host` — and a few fleet views joining each host's packets to its own
/// rules (rule ids are per run, so the join is on host and id). Nothing is copied: the views scan the
/// files on each query. Queries go through <see cref="ReadOnlyQuery"/> as `tracereplay query` does,
/// and after the views are made file access is narrowed to DIR (DuckDB's allowed_directories) before
/// it is switched off and the configuration locked, so a query reads the fleet's files and nothing else.
/// </summary>
public static partial class FleetDatabase
{
    /// <summary>The fleet views (name, what it is, SQL), made when the tables they read were exported.</summary>
    public static readonly (string Name, string Comment, string[] Needs, string Sql)[] Views =
    [
        ("v_drops", "every dropped or rejected sighting with its host and cause (as `tracereplay drops` names it: filter:INPUT:policy, filter:DOCKER-USER:rule:1, a drop reason)",
            ["packets", "rules"],
            """
            SELECT p.host, p.date, p.id, p.packet_id, p.ts, p.capture_point, p.family, p.proto, p.src, p.sport, p.dst, p.dport, p.verdict,
                   p.verdict_rule_id AS rule_id, r."table" AS rule_table, r.chain AS rule_chain, r.position AS rule_position, r.text AS rule_text, p.drop_reason,
                   CASE WHEN r.id IS NOT NULL
                        THEN CASE r.family WHEN 'ipv6' THEN 'ip6:' WHEN 'bridge' THEN 'eb:' ELSE '' END || r."table" || ':' || r.chain || ':'
                             || CASE WHEN r.is_policy THEN 'policy' ELSE 'rule:' || r.position END
                        ELSE coalesce(p.drop_reason, 'unknown') END AS cause
            FROM packets p LEFT JOIN rules r ON r.host = p.host AND r.id = p.verdict_rule_id
            WHERE p.verdict IN ('DROP', 'REJECT')
            """),
        ("v_drops_by_rule", "per host and cause: real packets (packet_id) and sightings dropped or rejected, first and last time",
            ["packets", "rules"],
            """
            SELECT host, cause, any_value(rule_text) AS rule_text, count(DISTINCT packet_id) AS packets, count(*) AS sightings,
                   string_agg(DISTINCT verdict::VARCHAR, ',' ORDER BY verdict::VARCHAR) AS verdicts, min(ts) AS first_ts, max(ts) AS last_ts
            FROM v_drops GROUP BY host, cause ORDER BY host, packets DESC, cause
            """),
        ("v_hosts", "per host: the days it has rows for, its sightings and real packets, and how many were dropped or rejected",
            ["packets"],
            """
            SELECT host, min(date) AS first_date, max(date) AS last_date, count(*) AS sightings, count(DISTINCT packet_id) AS packets,
                   count(DISTINCT packet_id) FILTER (WHERE verdict IN ('DROP', 'REJECT')) AS dropped_packets, min(ts) AS first_ts, max(ts) AS last_ts
            FROM packets GROUP BY host ORDER BY host
            """),
    ];

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex TableName();

    /// <summary>The exported tables under <paramref name="dir"/>: folders named like a table that hold at least one *.parquet file below them.</summary>
    public static List<string> FindTables(string dir)
    {
        ArgumentException.ThrowIfNullOrEmpty(dir);
        var tables = new List<string>();
        foreach (string t in Directory.EnumerateDirectories(dir))
        {
            string name = Path.GetFileName(t);
            if (TableName().IsMatch(name) && Directory.EnumerateFiles(t, "*.parquet", SearchOption.AllDirectories).Any())
                tables.Add(name);
        }
        tables.Sort(StringComparer.Ordinal);
        return tables;
    }

    /// <summary>
    /// Opens the fleet tree <paramref name="dir"/>: an in-memory database with a view per exported table
    /// and the fleet views. Throws <see cref="DirectoryNotFoundException"/> when there is no such folder
    /// and <see cref="RunDatabaseException"/> when it holds no exported table or a file is not Parquet.
    /// </summary>
    public static RunDatabase Open(string dir)
    {
        ArgumentException.ThrowIfNullOrEmpty(dir);
        string root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException($"{dir}: no such directory");
        // The path goes into a glob: its own wildcard characters would widen it.
        if (root.AsSpan().IndexOfAny("*?[]{}") >= 0)
            throw new RunDatabaseException($"{root}: a fleet folder's path may not contain *, ?, [, ], {{ or }} (it becomes a read_parquet glob)");
        var tables = FindTables(root);
        if (tables.Count == 0)
            throw new RunDatabaseException($"{root}: no exported tables (expected TABLE/date=YYYY-MM-DD/host=NAME/*.parquet, as `tracereplay export RUN --parquet {dir} --host-name NAME` writes them)");
        var db = new DuckDBConnection("Data Source=:memory:");
        db.Open();
        var fleet = RunDatabase.Over(root, db);
        try
        {
            using var cmd = db.CreateCommand();
            foreach (string table in tables)
            {
                string glob = Quote(Path.Combine(root, table, "**", "*.parquet"));
                // hive_types: a host named 1 or 2023 stays text, and date is a DATE whatever the files say.
                // union_by_name: runs exported by different versions may add columns; missing ones read NULL.
                cmd.CommandText = $"""
                    CREATE VIEW "{table}" AS SELECT * FROM read_parquet({glob}, hive_partitioning = true,
                        hive_types = {"{'date': DATE, 'host': VARCHAR}"}, union_by_name = true)
                    """;
                Execute(cmd, root, $"view over {table}/");
            }
            foreach (var (name, _, needs, sql) in Views)
            {
                if (!needs.All(tables.Contains))
                    continue;
                cmd.CommandText = $"CREATE VIEW {name} AS {sql}";
                Execute(cmd, root, name);
            }
            // Only the fleet's own files from here on; ReadOnlyQuery switches external access off and locks.
            cmd.CommandText = $"SET allowed_directories = [{Quote(root + Path.DirectorySeparatorChar)}]";
            Execute(cmd, root, "allowed_directories");
        }
        catch
        {
            fleet.Dispose();
            throw;
        }
        return fleet;
    }

    /// <summary>Runs <paramref name="sql"/> over the fleet with <see cref="ReadOnlyQuery"/>'s checks and lock.</summary>
    public static QueryResult Query(string dir, string sql)
    {
        using var fleet = Open(dir);
        return ReadOnlyQuery.Run(fleet, sql);
    }

    /// <summary>`tracereplay fleet drops`: v_drops_by_rule, every host's causes, most packets first within a host.</summary>
    public static QueryResult Drops(string dir)
    {
        using var fleet = Open(dir);
        var tables = FindTables(fleet.Path);
        if (!tables.Contains("packets") || !tables.Contains("rules"))
            throw new RunDatabaseException($"{fleet.Path}: the drops need the packets and rules tables; export the runs with `tracereplay export RUN --parquet DIR`");
        return ReadOnlyQuery.Run(fleet, "SELECT host, cause, packets, sightings, verdicts, first_ts, last_ts, rule_text FROM v_drops_by_rule ORDER BY host, packets DESC, cause");
    }

    private static string Quote(string s) => "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static void Execute(DuckDBCommand cmd, string root, string what)
    {
        try
        {
            cmd.ExecuteNonQuery();
        }
        catch (DuckDBException e)
        {
            throw new RunDatabaseException($"{root}: {what}: {RunDatabase.FirstLine(e.Message)}", e);
        }
    }
}
