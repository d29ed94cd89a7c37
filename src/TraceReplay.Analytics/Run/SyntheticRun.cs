using DuckDB.NET.Data;
using TraceReplay.Store;

namespace TraceReplay.Analytics.Run;

/// <summary>
/// A generated run database of any size, for measuring the reports on runs far larger than the
/// bundled dataset and for tests that need exact answers. The schema comes from <see cref="RunWriter"/>;
/// the rows are generated inside DuckDB (INSERT … SELECT over range()), which is far faster than
/// writing them one by one. The traffic, per packet i (10,000 packets a second from <see cref="T0Us"/>):
/// flow i / 10 (10 packets each) from 10.(f / 250 % 250).(f % 250).1:(1024 + f % 60000) to 192.0.2.(f % 200 + 1):443,
/// except that every 100th flow (f % 100 = 7) goes to port 22 and is dropped by filter:INPUT:rule:1
/// and every 100th flow (f % 100 = 9) is dropped by the INPUT policy. Every 10th flow (f % 10 = 0) is
/// MASQUERADEd to 203.0.113.1 with port 1024 + f / 10 % 64512, live for 120 s, and its connection too.
/// </summary>
public static class SyntheticRun
{
    /// <summary>2026-11-25T03:00:00Z in µs.</summary>
    public const long T0Us = 1_795_575_600_000_000;

    public static void Create(string path, long packets)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(packets, 10);
        using (var w = RunWriter.Create(path))
        {
            w.AddRule(new RuleRow { Id = 0, Family = RunFamily.Ipv4, Table = "filter", Chain = "INPUT", Position = 0, IsPolicy = true, Text = "DROP" });
            w.AddRule(new RuleRow { Id = 1, Family = RunFamily.Ipv4, Table = "filter", Chain = "INPUT", Position = 1, Text = "-p tcp -m tcp --dport 22 -j DROP" });
            w.AddRule(new RuleRow { Id = 2, Family = RunFamily.Ipv4, Table = "filter", Chain = "INPUT", Position = 2, Text = "-p tcp -m tcp --dport 443 -j ACCEPT" });
            w.AddRule(new RuleRow { Id = 3, Family = RunFamily.Ipv4, Table = "nat", Chain = "POSTROUTING", Position = 1, Text = "-s 10.0.0.0/8 -o eth0 -j MASQUERADE" });
            w.AddInfo("generator", $"SyntheticRun {packets}");
            w.Complete();
        }
        using var db = new DuckDBConnection("Data Source=" + path);
        db.Open();
        using var cmd = db.CreateCommand();
        string flows = $"{(packets + 9) / 10}";
        try
        {
            // Times are generated as UTC; with ICU loaded the session's zone would otherwise shift them.
            cmd.CommandText = "SET TimeZone = 'UTC'";
            cmd.ExecuteNonQuery();
        }
        catch (DuckDBException)
        {
            // No ICU: TIMESTAMP to TIMESTAMPTZ is taken as UTC anyway.
        }
        // packets stores addresses and texts as keys (RunSchema): the rows go in in text form through
        // the schema's own conversion.
        var packetsSql = RunSchema.InsertPacketsFromText($"""
            SELECT i AS id, i AS packet_id, make_timestamp({T0Us} + i * 100)::TIMESTAMPTZ AS ts, 'eth0' AS capture_point, 'in' AS direction, 'ipv4' AS family, 6 AS proto,
                   '10.' || (i // 10 // 250 % 250) || '.' || (i // 10 % 250) || '.1' AS src, 1024 + i // 10 % 60000 AS sport,
                   '192.0.2.' || (i // 10 % 200 + 1) AS dst, CASE i // 10 % 100 WHEN 7 THEN 22 WHEN 9 THEN 23 ELSE 443 END AS dport, 60 AS len,
                   CASE WHEN i // 10 % 100 IN (7, 9) THEN NULL ELSE i // 10 END AS ct_id, CASE WHEN i % 10 = 0 THEN 'NEW' ELSE 'ESTABLISHED' END AS ct_state, 'ORIGINAL' AS ct_dir,
                   'PREROUTING>INPUT' AS path, CASE WHEN i // 10 % 100 IN (7, 9) THEN 'DROP' ELSE 'ACCEPT' END AS verdict,
                   CASE i // 10 % 100 WHEN 7 THEN 1 WHEN 9 THEN 0 ELSE NULL END AS verdict_rule_id, false AS depends_on_unknown
            FROM range({packets}) t(i)
            """);
        foreach (string sql in new[] { "SET preserve_insertion_order = false" }.Concat(packetsSql).Concat(new[]
        {
            $"""
            INSERT INTO nat_mappings
            SELECT make_timestamp({T0Us} + f * 1000)::TIMESTAMPTZ, make_timestamp({T0Us} + f * 1000 + 120000000)::TIMESTAMPTZ, 'ipv4', 6,
                   '10.' || (f // 250 % 250) || '.' || (f % 250) || '.1', '192.0.2.' || (f % 200 + 1), 1024 + f % 60000, 443,
                   '192.0.2.' || (f % 200 + 1), '203.0.113.1', 443, 1024 + f // 10 % 64512, 3, '203.0.113.1', 1024 + f // 10 % 64512, 'SRC'
            FROM range(0, {flows}, 10) t(f)
            """,
            $"""
            INSERT INTO connections
            SELECT f, 'ipv4', 6, '10.' || (f // 250 % 250) || '.' || (f % 250) || '.1', '192.0.2.' || (f % 200 + 1), 1024 + f % 60000, 443,
                   '192.0.2.' || (f % 200 + 1), '203.0.113.1', 443, 1024 + f // 10 % 64512,
                   make_timestamp({T0Us} + f * 1000)::TIMESTAMPTZ, make_timestamp({T0Us} + f * 1000 + 120000000)::TIMESTAMPTZ, 0, 'CLOSE', 0, 0, 10, 600, 0, 0
            FROM range(0, {flows}, 10) t(f)
            """,
            "UPDATE rules SET packets = (SELECT count(*) FROM packets WHERE verdict_rule_id = 1) WHERE id = 1",
            "UPDATE rules SET packets = (SELECT count(*) FROM packets WHERE verdict_rule_id = 0) WHERE id = 0",
            "CHECKPOINT",
        }))
        {
            cmd.CommandText = sql;
            cmd.ExecuteNonQuery();
        }
    }
}
