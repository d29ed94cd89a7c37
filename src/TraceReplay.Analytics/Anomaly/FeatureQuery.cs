using System.Globalization;

namespace TraceReplay.Analytics.Anomaly;

/// <summary>
/// The feature windows of a run, computed by DuckDB: one row per entity (host, service, NAT
/// address, the conntrack table) and time bucket in which it sent or received a packet, had a
/// connection created, or had a NAT binding set up or removed. The SQL is the documentation of each
/// feature (README "Anomalies" lists them in words); counts that need "live at the end of the
/// window" are running sums of +1 at creation and -1 at destruction, joined AS OF the window.
/// </summary>
public static class FeatureQuery
{
    // The packet a real packet's first sighting describes: later sightings of it (routed, NATed) are observations, not more traffic.
    private const string EntryPackets = """
        pk AS (
          SELECT * FROM packets WHERE family IN ('ipv4', 'ipv6')
          QUALIFY row_number() OVER (PARTITION BY packet_id ORDER BY id) = 1
        )
        """;

    /// <summary>SQL for "the service": address:port/protocol as clients address it; IPv6 in brackets so the port is not mistaken for part of it.</summary>
    private static string Service(string addr, string port, string proto) =>
        $"""
        (CASE WHEN contains({addr}, ':') THEN '[' || {addr} || ']' ELSE {addr} END
         || CASE WHEN {proto} IN (6, 17, 132, 33, 136) THEN ':' || CAST({port} AS VARCHAR) ELSE '' END
         || '/' || CASE {proto} WHEN 6 THEN 'tcp' WHEN 17 THEN 'udp' WHEN 1 THEN 'icmp' WHEN 58 THEN 'icmpv6' WHEN 132 THEN 'sctp' ELSE CAST({proto} AS VARCHAR) END)
        """;

    internal static string Sql(long bucketUs)
    {
        string b = bucketUs.ToString(CultureInfo.InvariantCulture);
        return $"""
        WITH {EntryPackets},
        pb AS (SELECT *, epoch_us(ts) // {b} AS b FROM pk),
        -- Each packet once per entity it concerns; 'probe' marks packets the entity sent in the original direction (scan signals).
        -- ct_dir is NULL for untracked and some dropped packets: such a packet goes to the service, never from it.
        pe AS (
          SELECT 0 AS kind, src AS entity, b, true AS sent, len, ct_state, verdict, dst AS pdst, dport AS pport, proto, ct_dir IS DISTINCT FROM 'REPLY' AS probe FROM pb WHERE src IS NOT NULL
          UNION ALL SELECT 0, dst, b, false, len, ct_state, verdict, NULL, NULL, proto, false FROM pb WHERE dst IS NOT NULL
          UNION ALL SELECT 1, CASE WHEN ct_dir = 'REPLY' THEN {Service("coalesce(nat_src, src)", "coalesce(nat_sport, sport)", "proto")} ELSE {Service("dst", "dport", "proto")} END,
                    b, ct_dir IS NOT DISTINCT FROM 'REPLY', len, ct_state, verdict, NULL, NULL, proto, false FROM pb WHERE src IS NOT NULL AND dst IS NOT NULL
          UNION ALL SELECT 2, nat_src, b, true, len, ct_state, verdict, coalesce(nat_dst, dst), coalesce(nat_dport, dport), proto, true FROM pb
                    WHERE ct_dir = 'ORIGINAL' AND nat_src IS NOT NULL AND nat_src <> src
          UNION ALL SELECT 2, dst, b, false, len, ct_state, verdict, NULL, NULL, proto, false FROM pb
                    WHERE ct_dir = 'REPLY' AND nat_dst IS NOT NULL AND nat_dst <> dst
          UNION ALL SELECT 3, 'conntrack', b, true, len, ct_state, verdict, NULL, NULL, proto, false FROM pb
        ),
        pa AS (
          SELECT kind, entity, b,
            count(*) FILTER (WHERE sent) AS pkts_sent, count(*) FILTER (WHERE NOT sent) AS pkts_recv,
            coalesce(sum(len) FILTER (WHERE sent), 0) AS bytes_sent, coalesce(sum(len) FILTER (WHERE NOT sent), 0) AS bytes_recv,
            count(*) FILTER (WHERE ct_state = 'INVALID') / count(*) AS invalid_rate,
            count(*) FILTER (WHERE verdict IN ('DROP', 'REJECT')) / count(*) AS drop_rate,
            count(DISTINCT pdst) FILTER (WHERE probe) AS distinct_dsts,
            count(DISTINCT pport) FILTER (WHERE probe AND proto IN (6, 17, 132, 33, 136)) AS distinct_dports
          FROM pe GROUP BY ALL
        ),
        run_end AS (SELECT max(epoch_us(ts)) AS e FROM packets),
        cn AS (
          SELECT proto, CAST(tcp_state AS VARCHAR) AS tcp_state, orig_src, orig_dst, orig_dport,
                 epoch_us(first_ts) // {b} AS b0, epoch_us(last_ts) // {b} AS b1,
                 (coalesce(epoch_us(last_ts), (SELECT e FROM run_end)) - epoch_us(first_ts)) / 1e6 AS dur
          FROM connections
        ),
        nm AS (
          SELECT nat_addr, orig_src, proto, epoch_us(setup_ts) // {b} AS b0, epoch_us(removed_ts) // {b} AS b1,
                 (coalesce(epoch_us(removed_ts), (SELECT e FROM run_end)) - epoch_us(setup_ts)) / 1e6 AS dur
          FROM nat_mappings WHERE manip = 'SRC' AND rule_id IS NOT NULL
        ),
        ce AS (
          SELECT 0 AS kind, orig_src AS entity, b0, b1, proto, tcp_state, dur FROM cn
          UNION ALL SELECT 1, {Service("orig_dst", "orig_dport", "proto")}, b0, b1, proto, tcp_state, dur FROM cn
          UNION ALL SELECT 3, 'conntrack', b0, b1, proto, tcp_state, dur FROM cn
          UNION ALL SELECT 2, nat_addr, b0, b1, proto, NULL, dur FROM nm
        ),
        ca AS (
          SELECT kind, entity, b0 AS b, count(*) AS new_conns,
            coalesce(count(*) FILTER (WHERE proto = 6 AND tcp_state IN ('SYN_SENT', 'SYN_RECV', 'SYN_SENT2')) / nullif(count(*) FILTER (WHERE proto = 6), 0), 0) AS half_open_share,
            coalesce(count(*) FILTER (WHERE proto = 6 AND tcp_state = 'CLOSE') / nullif(count(*) FILTER (WHERE proto = 6), 0), 0) AS rst_share,
            quantile_cont(dur, 0.5) AS dur_p50, quantile_cont(dur, 0.9) AS dur_p90
          FROM ce GROUP BY ALL
        ),
        ne AS (SELECT 2 AS kind, nat_addr AS entity, b0, b1 FROM nm UNION ALL SELECT 0, orig_src, b0, b1 FROM nm),
        nchurn AS (
          SELECT kind, entity, b, count(*) AS churn
          FROM (SELECT kind, entity, b0 AS b FROM ne UNION ALL SELECT kind, entity, b1 FROM ne WHERE b1 IS NOT NULL) GROUP BY ALL
        ),
        ncum AS (
          SELECT kind, entity, b, sum(d) OVER (PARTITION BY kind, entity ORDER BY b) AS live
          FROM (SELECT kind, entity, b, sum(d) AS d
                FROM (SELECT kind, entity, b0 AS b, 1 AS d FROM ne UNION ALL SELECT kind, entity, b1, -1 FROM ne WHERE b1 IS NOT NULL) GROUP BY ALL)
        ),
        ccum AS (
          SELECT kind, entity, b, sum(d) OVER (PARTITION BY kind, entity ORDER BY b) AS live
          FROM (SELECT kind, entity, b, sum(d) AS d
                FROM (SELECT kind, entity, b0 AS b, 1 AS d FROM ce WHERE kind <> 2 UNION ALL SELECT kind, entity, b1, -1 FROM ce WHERE kind <> 2 AND b1 IS NOT NULL) GROUP BY ALL)
        ),
        keys AS (SELECT kind, entity, b FROM pa UNION SELECT kind, entity, b FROM ca UNION SELECT kind, entity, b FROM nchurn)
        SELECT k.kind, k.entity, k.b * {b} AS start_us,
          CAST(coalesce(ca.new_conns, 0) AS DOUBLE), CAST(coalesce(ca.half_open_share, 0) AS DOUBLE), CAST(coalesce(ca.rst_share, 0) AS DOUBLE),
          CAST(coalesce(pa.invalid_rate, 0) AS DOUBLE), CAST(coalesce(pa.drop_rate, 0) AS DOUBLE), CAST(coalesce(pa.distinct_dsts, 0) AS DOUBLE), CAST(coalesce(pa.distinct_dports, 0) AS DOUBLE),
          CAST(coalesce(nc.live, 0) AS DOUBLE), CAST(coalesce(nch.churn, 0) AS DOUBLE), CAST(coalesce(cc.live, 0) AS DOUBLE),
          CAST(coalesce(pa.pkts_sent, 0) AS DOUBLE), CAST(coalesce(pa.pkts_recv, 0) AS DOUBLE), CAST(coalesce(pa.bytes_sent, 0) AS DOUBLE), CAST(coalesce(pa.bytes_recv, 0) AS DOUBLE),
          CAST(coalesce(ca.dur_p50, 0) AS DOUBLE), CAST(coalesce(ca.dur_p90, 0) AS DOUBLE)
        FROM keys k
        LEFT JOIN pa ON pa.kind = k.kind AND pa.entity = k.entity AND pa.b = k.b
        LEFT JOIN ca ON ca.kind = k.kind AND ca.entity = k.entity AND ca.b = k.b
        LEFT JOIN nchurn nch ON nch.kind = k.kind AND nch.entity = k.entity AND nch.b = k.b
        ASOF LEFT JOIN ncum nc ON nc.kind = k.kind AND nc.entity = k.entity AND k.b >= nc.b
        ASOF LEFT JOIN ccum cc ON cc.kind = k.kind AND cc.entity = k.entity AND k.b >= cc.b
        WHERE k.entity IS NOT NULL
        ORDER BY k.b, k.kind, k.entity
        """;
    }

    /// <summary>Every feature window of the run, in time order. An empty run (no IP packets) is an error: there is nothing to score.</summary>
    public static IReadOnlyList<FeatureWindow> Compute(RunDatabase run, TimeSpan bucket)
    {
        ArgumentNullException.ThrowIfNull(run);
        long bucketUs = bucket.Ticks / 10;
        if (bucketUs <= 0)
            throw new ArgumentOutOfRangeException(nameof(bucket), "the bucket must be at least 1 µs");
        var rows = new List<FeatureWindow>();
        try
        {
            Read(run, bucketUs, rows);
        }
        catch (DuckDB.NET.Data.DuckDBException e)
        {
            // A database with the right table names but other columns (another tool's, an older schema).
            throw new InvalidDataException($"{run.Path}: cannot compute the features: {e.Message.Split('\n', 2)[0]}", e);
        }
        if (rows.Count == 0)
            throw new InvalidDataException($"{run.Path}: the run has no IP packets and no connections: nothing to score");
        return rows;
    }

    private static void Read(RunDatabase run, long bucketUs, List<FeatureWindow> rows)
    {
        using var cmd = run.Connection.CreateCommand();
        cmd.CommandText = Sql(bucketUs);
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var values = new double[FeatureSchema.Count];
            for (int i = 0; i < FeatureSchema.Count; i++)
                values[i] = Convert.ToDouble(r.GetValue(3 + i), CultureInfo.InvariantCulture);
            rows.Add(new FeatureWindow((EntityKind)Convert.ToInt32(r.GetValue(0), CultureInfo.InvariantCulture), r.GetString(1),
                Convert.ToInt64(r.GetValue(2), CultureInfo.InvariantCulture), values));
        }
    }
}
