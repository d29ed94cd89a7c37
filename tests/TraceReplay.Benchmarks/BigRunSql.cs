using System.Globalization;

namespace TraceReplay.Benchmarks;

/// <summary>
/// The generated run of <see cref="BigRun"/>: a Docker-like host forwarding its containers' traffic
/// (10.0.0.0/16, few busy hosts and many quiet ones: a cubed uniform skews the choice) to servers
/// in 198.18.0.0/15 (benchmarking addresses, RFC 2544), MASQUERADEd behind four addresses.
/// Connection c is 8 sightings: 4 packets alternating original/reply, each seen entering and
/// leaving (packet_id = id / 2). Every attribute is a hash of c, so two generations differ only
/// where the rule set does: tcp/25 is REJECTed by DOCKER-USER, tcp/22 DROPped in FORWARD (run A
/// only), 1% of flows fall to the FORWARD policy.
/// </summary>
internal static class BigRunSql
{
    public static IEnumerable<string> Generate(long packets, bool sshDrop)
    {
        string n = packets.ToString(CultureInfo.InvariantCulture);
        string ssh = sshDrop ? "true" : "false";
        yield return "SET preserve_insertion_order = false";
        // Each connection's attributes once (hashes and strings are most of the cost), then
        // expanded to its 8 sightings by a cross join: sighting id = c * 8 + j.
        yield return
            $$"""
            CREATE TEMP VIEW conn AS
            WITH c0 AS (SELECT c, hash(c) AS h FROM range({{n}} // 8) t(c)),
                 c1 AS (SELECT c, h, CASE WHEN h % 100 < 80 THEN 6 WHEN h % 100 < 95 THEN 17 ELSE 1 END AS proto,
                               (pow(((h >> 16) % 100000) / 100000.0, 3) * 20000)::INTEGER AS cl,
                               (pow(((h >> 40) % 100000) / 100000.0, 2) * 5000)::INTEGER AS sv,
                               (h >> 24) % 100 AS pick
                        FROM c0),
                 c2 AS (SELECT c, proto,
                               '10.0.' || (cl // 256) || '.' || (cl % 256) AS src,
                               '198.18.' || (sv // 256) || '.' || (sv % 256) AS dst,
                               '198.51.100.' || (1 + h % 4) AS nat,
                               (32768 + (h >> 32) % 28000)::USMALLINT AS sport,
                               (CASE proto
                                  WHEN 6 THEN CASE WHEN pick < 60 THEN 443 WHEN pick < 80 THEN 80 WHEN pick < 84 THEN 25
                                                   WHEN pick < 88 THEN 22 WHEN pick < 95 THEN 8080 ELSE 3306 END
                                  WHEN 17 THEN CASE WHEN h % 2 = 0 THEN 53 ELSE 123 END
                                  ELSE 2048 END)::USMALLINT AS dport,
                               (h >> 50) % 100 = 0 AS policy_drop
                        FROM c1)
            SELECT c, proto, src, dst, nat, sport, dport,
                   CASE WHEN proto = 6 AND dport = 25 THEN 7 WHEN {{ssh}} AND proto = 6 AND dport = 22 THEN 5 WHEN policy_drop THEN 1 END AS rule,
                   TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(c * 8 * 864) AS first_ts
            FROM c2
            """;
        yield return
            $$"""
            INSERT INTO rules BY NAME
            SELECT id, 'ipv4' AS family, tbl AS "table", chain, position, is_policy, text, 0 AS packets, 0 AS bytes
            FROM (VALUES
                (0, 'filter', 'INPUT', 0, true, 'DROP'),
                (1, 'filter', 'FORWARD', 0, true, 'DROP'),
                (2, 'filter', 'FORWARD', 1, false, '-j DOCKER-USER'),
                (3, 'filter', 'FORWARD', 2, false, '-o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'),
                (4, 'filter', 'FORWARD', 3, false, '-i docker0 ! -o docker0 -j ACCEPT'),
                (5, 'filter', 'FORWARD', 4, false, '-p tcp -m tcp --dport 22 -j DROP'),
                (6, 'filter', 'DOCKER-USER', 0, false, '-'),
                (7, 'filter', 'DOCKER-USER', 1, false, '-i docker0 -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset'),
                (8, 'filter', 'DOCKER-USER', 2, false, '-j RETURN'),
                (9, 'nat', 'POSTROUTING', 0, true, 'ACCEPT'),
                (10, 'nat', 'POSTROUTING', 1, false, '-s 10.0.0.0/8 ! -o docker0 -j MASQUERADE'))
                AS r(id, tbl, chain, position, is_policy, text)
            WHERE {{ssh}} OR id <> 5
            """;
        // packets stores addresses and texts as keys: the text rows go through the schema's conversion.
        foreach (string sql in TraceReplay.Store.RunSchema.InsertPacketsFromText(
            $"""
            SELECT i AS id, i // 2 AS packet_id,
                   first_ts + to_microseconds(j * 864) AS ts,
                   CASE WHEN input = orig THEN 'veth1' ELSE 'eth0' END AS capture_point,
                   CASE WHEN input THEN 'in' ELSE 'out' END AS direction,
                   'ipv4' AS family, proto,
                   CASE WHEN orig THEN src ELSE dst END AS src,
                   CASE WHEN orig THEN dst WHEN input THEN nat ELSE src END AS dst,
                   CASE WHEN orig THEN sport ELSE dport END AS sport,
                   CASE WHEN orig THEN dport ELSE sport END AS dport,
                   CASE WHEN input AND ok AND orig THEN nat WHEN input AND ok THEN dst END AS nat_src,
                   CASE WHEN input AND ok AND orig THEN dst WHEN input AND ok THEN src END AS nat_dst,
                   CASE WHEN input AND ok AND orig THEN sport WHEN input AND ok THEN dport END AS nat_sport,
                   CASE WHEN input AND ok AND orig THEN dport WHEN input AND ok THEN sport END AS nat_dport,
                   (60 + (i * 7919) % 1400)::INTEGER AS len,
                   CASE WHEN ok THEN c END AS ct_id,
                   CASE WHEN NOT input THEN NULL WHEN NOT ok OR j = 0 THEN 'NEW' ELSE 'ESTABLISHED' END AS ct_state,
                   CASE WHEN input AND ok THEN (CASE WHEN orig THEN 'ORIGINAL' ELSE 'REPLY' END) END AS ct_dir,
                   CASE WHEN NOT input THEN 'later sighting (not an input)'
                        WHEN ok THEN 'PREROUTING: conntrack | route-in | FORWARD: filter | POSTROUTING: nat confirm'
                        ELSE 'PREROUTING: conntrack nat | route-in | FORWARD: filter' END AS path,
                   CASE WHEN NOT input OR ok THEN 'ACCEPT' WHEN rule = 7 THEN 'REJECT' ELSE 'DROP' END AS verdict,
                   CASE WHEN NOT input THEN NULL WHEN NOT ok THEN rule WHEN orig THEN 4 ELSE 3 END AS verdict_rule_id,
                   false AS depends_on_unknown
            FROM (SELECT conn.*, c * 8 + j AS i, j, j % 2 = 0 AS input, j // 2 % 2 = 0 AS orig, rule IS NULL AS ok
                  FROM conn CROSS JOIN range(8) r(j))
            """))
        {
            yield return sql;
        }
        yield return
            $"""
            INSERT INTO connections BY NAME
            SELECT c AS ct_id, 'ipv4' AS family, proto,
                   src AS orig_src, dst AS orig_dst, sport AS orig_sport, dport AS orig_dport,
                   dst AS reply_src, nat AS reply_dst, dport AS reply_sport, sport AS reply_dport,
                   first_ts, first_ts + INTERVAL 120 second AS last_ts,
                   446 AS status, CASE WHEN proto = 6 THEN 'TIME_WAIT' END AS tcp_state, 0 AS mark, 0 AS zone,
                   2 AS orig_packets, 2 * 700 AS orig_bytes, 2 AS reply_packets, 2 * 700 AS reply_bytes
            FROM conn WHERE rule IS NULL
            """;
        yield return
            $"""
            INSERT INTO nat_mappings BY NAME
            SELECT first_ts AS setup_ts, first_ts + INTERVAL 120 second AS removed_ts,
                   'ipv4' AS family, proto,
                   src AS orig_src, dst AS orig_dst, sport AS orig_sport, dport AS orig_dport,
                   dst AS reply_src, nat AS reply_dst, dport AS reply_sport, sport AS reply_dport,
                   10 AS rule_id, nat AS nat_addr, sport AS nat_port, 'SRC' AS manip
            FROM conn WHERE rule IS NULL
            """;
        yield return
            $"""
            INSERT INTO captures VALUES ('bigrun.pcap', 'pcap (microsecond)', 'LINUX_SLL2', NULL, {n},
                TIMESTAMPTZ '2026-01-01 00:00:00+00', TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(({n}::BIGINT - 1) * 864))
            """;
        yield return "DROP VIEW conn";
        yield return "CHECKPOINT";
    }

    /// <summary>The questions of issue 7 as users would type them over the views and tables.</summary>
    public static readonly (string Name, string Sql)[] Queries =
    [
        ("count(*) FROM packets", "SELECT count(*) FROM packets"),
        ("v_drops_by_rule (the view)", "SELECT * FROM v_drops_by_rule"),
        ("drops by rule, flows and packets", """
            SELECT rule_table, rule_chain, rule_position, rule_text, count(*) AS packets,
                   count(DISTINCT (src, sport, dst, dport)) AS flows, min(ts), max(ts)
            FROM v_drops GROUP BY ALL ORDER BY packets DESC
            """),
        ("top 10 sources (all sightings)", "SELECT src, count(*) AS n FROM packets GROUP BY src ORDER BY n DESC LIMIT 10"),
        ("top 10 dropped sources with ports", "SELECT src, dport, count(*) AS n FROM v_drops GROUP BY ALL ORDER BY n DESC LIMIT 10"),
        ("one host's traffic (v_packets WHERE src =)", "SELECT count(*), sum(len) FROM v_packets WHERE src = '10.0.0.1'"),
        ("NAT usage per 5 min bucket per address", """
            SELECT time_bucket(INTERVAL 5 minute, setup_ts) AS bucket, nat_addr, count(*) AS new_mappings,
                   count(DISTINCT nat_port) AS ports, round(100.0 * count(DISTINCT nat_port) / 28232, 1) AS util_pct
            FROM nat_mappings GROUP BY ALL ORDER BY bucket, nat_addr
            """),
        ("peak live NAT mappings per address", """
            WITH ev AS (SELECT nat_addr, setup_ts AS t, 1 AS d FROM nat_mappings
                        UNION ALL SELECT nat_addr, removed_ts, -1 FROM nat_mappings WHERE removed_ts IS NOT NULL),
                 live AS (SELECT nat_addr, t, sum(d) OVER (PARTITION BY nat_addr ORDER BY t ROWS UNBOUNDED PRECEDING) AS live FROM ev)
            SELECT nat_addr, max(live), arg_max(t, live) FROM live GROUP BY nat_addr
            """),
        ("connections per tcp_state and proto", "SELECT proto, tcp_state, count(*) FROM connections GROUP BY ALL"),
    ];
}
