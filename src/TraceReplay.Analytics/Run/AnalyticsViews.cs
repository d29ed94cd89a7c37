namespace TraceReplay.Analytics.Run;

/// <summary>
/// The analytics views, created as TEMP views each time a run database is opened
/// (<see cref="RunDatabase"/>), so `tracereplay query` sees them too; the README lists them. Plain SQL
/// over the stored tables, in the vocabulary of the replay's own summary: a drop's cause is the rule
/// as "table:chain:rule:N" / "table:chain:policy" (ip6tables rules prefixed "ip6:"), or the drop_reason
/// ("routing:NoRoute", "conntrack:TableFull", "nat:DropNoFreeTuple" …) when no rule decided.
/// </summary>
public static class AnalyticsViews
{
    /// <summary>
    /// A flow is the connection (ct_id with the connection's start, since the simulated table reuses
    /// entry slots as the kernel does) or, for packets conntrack never confirmed — a dropped SYN dies
    /// before nf_conntrack_confirm — the 5-tuple as captured. The connection is joined by ct_id and
    /// time with coalesce(last_ts, infinity) rather than an OR for live ones: with the OR, DuckDB
    /// falls back to a nested-loop join (minutes instead of seconds on 10 million packets).
    /// </summary>
    private const string FlowKey = """
        CASE WHEN c.ct_id IS NOT NULL THEN 'ct:' || c.ct_id || '@' || epoch_us(c.first_ts)
             ELSE coalesce(p.family::VARCHAR, '-') || ' ' || coalesce(p.proto::VARCHAR, '-') || ' ' || coalesce(p.src, '-') || ' ' || coalesce(p.sport::VARCHAR, '-')
                  || ' ' || coalesce(p.dst, '-') || ' ' || coalesce(p.dport::VARCHAR, '-') END
        """;

    public static readonly (string Name, string Comment, string Sql)[] Views =
    [
        ("v_drop_packets", "every dropped or rejected packet (its simulated sighting) with its cause and flow (src_key, dst_key: the stored address keys, for filters)",
            $"""
            SELECT p.id, p.packet_id, p.ts, p.capture_point, p.family, p.proto, p.src, p.sport, p.dst, p.dport, p.verdict, p.src_key, p.dst_key,
                   p.verdict_rule_id AS rule_id, r."table" AS rule_table, r.chain AS rule_chain, r.position AS rule_position,
                   r.is_policy AS rule_is_policy, r.text AS rule_text, p.drop_reason, p.depends_on_unknown, p.ct_id,
                   CASE WHEN r.id IS NOT NULL
                        THEN CASE r.family WHEN 'ipv6' THEN 'ip6:' WHEN 'bridge' THEN 'eb:' ELSE '' END || r."table" || ':' || r.chain || ':'
                             || CASE WHEN r.is_policy THEN 'policy' ELSE 'rule:' || r.position END
                        ELSE coalesce(p.drop_reason, 'unknown') END AS cause,
                   {FlowKey} AS flow
            FROM packets_keyed p
            LEFT JOIN rules r ON r.id = p.verdict_rule_id
            LEFT JOIN connections c ON c.ct_id = p.ct_id AND p.ts >= c.first_ts AND p.ts <= coalesce(c.last_ts, 'infinity'::TIMESTAMPTZ)
            WHERE p.verdict IN ('DROP', 'REJECT')
            """),
        ("v_drop_flows", "dropped flows: per cause and flow, the packets, time range and the flow's first tuple",
            """
            SELECT cause, any_value(rule_id) AS rule_id, flow, arg_min(family, id) AS family, arg_min(proto, id) AS proto,
                   arg_min(src, id) AS src, arg_min(sport, id) AS sport, arg_min(dst, id) AS dst, arg_min(dport, id) AS dport,
                   count(DISTINCT packet_id) AS packets, min(ts) AS first_ts, max(ts) AS last_ts, min(packet_id) AS first_packet_id,
                   string_agg(DISTINCT verdict::VARCHAR, ',') AS verdicts
            FROM v_drop_packets GROUP BY cause, flow
            """),
        ("v_drops_by_cause", "per rule or reason: dropped flows and packets, first and last time",
            """
            SELECT cause, any_value(rule_id) AS rule_id, count(*) AS flows, sum(packets) AS packets, min(first_ts) AS first_ts, max(last_ts) AS last_ts
            FROM v_drop_flows GROUP BY cause ORDER BY packets DESC, cause
            """),
        ("v_rule_usage", "every rule and policy with its simulated counters and the packets it dropped, rejected or queued",
            """
            SELECT r.id, r.family, r."table", r.chain, r.position, r.is_policy, r.text, r.packets, r.bytes,
                   coalesce(d.dropped, 0) AS dropped, r.packets > 0 AS matched
            FROM rules r LEFT JOIN (SELECT verdict_rule_id, count(DISTINCT packet_id) AS dropped FROM packets WHERE verdict_rule_id IS NOT NULL GROUP BY ALL) d
              ON d.verdict_rule_id = r.id
            WHERE r.position > 0 OR r.is_policy
            """),
        ("v_rule_reach", "with --trace: per rule, the packets that reached it (were checked against it) and that it matched",
            """
            SELECT rule_id, count(DISTINCT packet_id) AS reached,
                   count(DISTINCT packet_id) FILTER (WHERE matched) AS matched,
                   count(DISTINCT packet_id) FILTER (WHERE matched IS NULL) AS unknown
            FROM rule_trace WHERE rule_id IS NOT NULL GROUP BY rule_id
            """),
        ("v_nat_live", "NAT bindings with their protocol name and life in microseconds (removed_us NULL while live at the end)",
            """
            SELECT manip, nat_addr, proto, CASE proto WHEN 6 THEN 'tcp' WHEN 17 THEN 'udp' WHEN 1 THEN 'icmp' WHEN 58 THEN 'icmpv6' WHEN 132 THEN 'sctp' ELSE proto::VARCHAR END AS protocol,
                   nat_port, orig_src, orig_sport, orig_dst, orig_dport, reply_src, reply_sport, rule_id,
                   epoch_us(setup_ts) AS setup_us, epoch_us(removed_ts) AS removed_us
            FROM nat_mappings
            """),
    ];
}
