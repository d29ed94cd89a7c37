namespace TraceReplay.Analytics.Diff;

/// <summary>
/// The diff as plain DuckDB SQL over two attached run databases (schemas <c>run_a</c> and
/// <c>run_b</c>), so it runs where the data is: one pass over each run's packets, only the changed
/// packets leave the engine. The benchmark (tests/TraceReplay.Benchmarks, bigrun) times the same text.
/// </summary>
public static class RunDiffSql
{
    /// <summary>
    /// One row per packet whose decision differs between the runs. A packet's decision is its first
    /// sighting (min(id) of its packet_id: later sightings only mirror it), and the two runs' first
    /// sightings are paired by sighting id, which is the capture position and so the same in two
    /// replays of the same captures. A packet that entered in one run only (the other correlated it
    /// as a later sighting of another packet, e.g. after a NAT change) is a change too. same_packet
    /// is false when the paired sightings are not the same packet (time or tuple differ), or the
    /// sighting is past the other run's last one: the runs are then not replays of the same captures.
    /// Rules are compared by family/table/chain/text, never by id: an inserted rule renumbers both.
    /// Only captured sightings (id ≥ 0) are paired: rows the simulated host made (REJECT's and the
    /// stack's replies, id &lt; 0) depend on the rules; their captured copies carry the difference.
    /// </summary>
    public const string Changes =
        """
        CREATE OR REPLACE TEMP TABLE diff_changes AS
        WITH fa AS (SELECT min(id) AS id FROM run_a.packets WHERE id >= 0 GROUP BY packet_id),
             fb AS (SELECT min(id) AS id FROM run_b.packets WHERE id >= 0 GROUP BY packet_id),
             pa AS (SELECT p.* FROM run_a.packets p SEMI JOIN fa ON p.id = fa.id),
             pb AS (SELECT p.* FROM run_b.packets p SEMI JOIN fb ON p.id = fb.id),
             j AS (
                SELECT coalesce(pa.id, pb.id) AS id, pa.packet_id AS packet_id_a, pb.packet_id AS packet_id_b,
                       coalesce(pa.ts, pb.ts) AS ts,
                       coalesce(pa.family, pb.family)::VARCHAR AS family, coalesce(pa.proto, pb.proto) AS proto,
                       coalesce(pa.src, pb.src) AS src, coalesce(pa.sport, pb.sport) AS sport,
                       coalesce(pa.dst, pb.dst) AS dst, coalesce(pa.dport, pb.dport) AS dport,
                       pa.ct_id AS ct_id_a,
                       pa.id IS NOT NULL AS in_a, pb.id IS NOT NULL AS in_b,
                       pa.verdict::VARCHAR AS verdict_a, pb.verdict::VARCHAR AS verdict_b,
                       pa.path AS path_a, pb.path AS path_b,
                       pa.drop_reason AS reason_a, pb.drop_reason AS reason_b,
                       pa.nat_src AS nat_src_a, pa.nat_sport AS nat_sport_a, pa.nat_dst AS nat_dst_a, pa.nat_dport AS nat_dport_a,
                       pb.nat_src AS nat_src_b, pb.nat_sport AS nat_sport_b, pb.nat_dst AS nat_dst_b, pb.nat_dport AS nat_dport_b,
                       ra.family::VARCHAR AS rule_family_a, ra."table" AS rule_table_a, ra.chain AS rule_chain_a, ra.position AS rule_position_a, ra.is_policy AS rule_policy_a, ra.text AS rule_text_a,
                       rb.family::VARCHAR AS rule_family_b, rb."table" AS rule_table_b, rb.chain AS rule_chain_b, rb.position AS rule_position_b, rb.is_policy AS rule_policy_b, rb.text AS rule_text_b,
                       CASE WHEN pa.id IS NULL THEN pb.id <= (SELECT max(id) FROM run_a.packets)
                            WHEN pb.id IS NULL THEN pa.id <= (SELECT max(id) FROM run_b.packets)
                            ELSE (pa.ts = pb.ts AND pa.capture_point = pb.capture_point AND pa.len = pb.len
                           AND pa.proto IS NOT DISTINCT FROM pb.proto AND pa.src IS NOT DISTINCT FROM pb.src AND pa.dst IS NOT DISTINCT FROM pb.dst
                           AND pa.sport IS NOT DISTINCT FROM pb.sport AND pa.dport IS NOT DISTINCT FROM pb.dport) END AS same_packet
                FROM pa FULL JOIN pb ON pa.id = pb.id
                LEFT JOIN run_a.rules ra ON ra.id = pa.verdict_rule_id
                LEFT JOIN run_b.rules rb ON rb.id = pb.verdict_rule_id
             )
        SELECT *,
               CASE
                 WHEN NOT same_packet THEN 'mismatch'
                 WHEN NOT in_a OR NOT in_b THEN 'path'
                 WHEN verdict_a = 'ACCEPT' AND verdict_b IN ('DROP', 'REJECT') THEN 'now_dropped'
                 WHEN verdict_a IN ('DROP', 'REJECT') AND verdict_b = 'ACCEPT' THEN 'now_accepted'
                 WHEN verdict_a <> verdict_b THEN 'verdict'
                 WHEN rule_family_a IS DISTINCT FROM rule_family_b OR rule_table_a IS DISTINCT FROM rule_table_b
                   OR rule_chain_a IS DISTINCT FROM rule_chain_b OR rule_text_a IS DISTINCT FROM rule_text_b THEN 'rule'
                 WHEN nat_src_a IS DISTINCT FROM nat_src_b OR nat_sport_a IS DISTINCT FROM nat_sport_b
                   OR nat_dst_a IS DISTINCT FROM nat_dst_b OR nat_dport_a IS DISTINCT FROM nat_dport_b THEN 'nat'
                 ELSE 'path'
               END AS kind
        FROM j
        WHERE NOT same_packet OR NOT in_a OR NOT in_b
           OR verdict_a <> verdict_b OR path_a IS DISTINCT FROM path_b OR reason_a IS DISTINCT FROM reason_b
           OR nat_src_a IS DISTINCT FROM nat_src_b OR nat_sport_a IS DISTINCT FROM nat_sport_b
           OR nat_dst_a IS DISTINCT FROM nat_dst_b OR nat_dport_a IS DISTINCT FROM nat_dport_b
           OR rule_family_a IS DISTINCT FROM rule_family_b OR rule_table_a IS DISTINCT FROM rule_table_b
           OR rule_chain_a IS DISTINCT FROM rule_chain_b OR rule_text_a IS DISTINCT FROM rule_text_b
        """;

    /// <summary>
    /// The changed packets grouped into flows: the run-A connection a packet belongs to (its original
    /// tuple: the entry live at the packet's time, as ct_id slots are reused), or for a packet without
    /// one its own 5-tuple; within a flow, one row per kind of change and deciding rule on each side.
    /// Needs <see cref="Changes"/> first.
    /// </summary>
    public const string Flows =
        """
        WITH c AS (
            SELECT d.*, cn.ct_id AS conn,
                   coalesce(cn.orig_src, d.src) AS f_src, coalesce(cn.orig_sport, d.sport) AS f_sport,
                   coalesce(cn.orig_dst, d.dst) AS f_dst, coalesce(cn.orig_dport, d.dport) AS f_dport
            FROM diff_changes d ASOF LEFT JOIN run_a.connections cn ON d.ct_id_a = cn.ct_id AND d.ts >= cn.first_ts
            WHERE d.kind <> 'mismatch'
        )
        SELECT kind, family, proto, f_src, f_sport, f_dst, f_dport, min(conn) AS conn,
               epoch_us(min(ts)) AS first_us, epoch_us(max(ts)) AS last_us, count(*) AS packets,
               arg_min(packet_id_a, id) AS example_a, arg_min(packet_id_b, id) AS example_b,
               verdict_a, rule_family_a, rule_table_a, rule_chain_a, rule_position_a, rule_policy_a, rule_text_a,
               verdict_b, rule_family_b, rule_table_b, rule_chain_b, rule_position_b, rule_policy_b, rule_text_b,
               arg_min(reason_a, id) AS reason_a, arg_min(reason_b, id) AS reason_b,
               arg_min(path_a, id) AS path_a, arg_min(path_b, id) AS path_b,
               arg_min(nat_src_a, id) AS nat_src_a, arg_min(nat_sport_a, id) AS nat_sport_a, arg_min(nat_dst_a, id) AS nat_dst_a, arg_min(nat_dport_a, id) AS nat_dport_a,
               arg_min(nat_src_b, id) AS nat_src_b, arg_min(nat_sport_b, id) AS nat_sport_b, arg_min(nat_dst_b, id) AS nat_dst_b, arg_min(nat_dport_b, id) AS nat_dport_b
        FROM c
        GROUP BY kind, family, proto, f_src, f_sport, f_dst, f_dport,
                 verdict_a, rule_family_a, rule_table_a, rule_chain_a, rule_position_a, rule_policy_a, rule_text_a,
                 verdict_b, rule_family_b, rule_table_b, rule_chain_b, rule_position_b, rule_policy_b, rule_text_b
        ORDER BY first_us, f_src, f_sport
        """;

    /// <summary>How many decisions were compared, and how many sightings of each run could not be paired with the same packet.</summary>
    public const string Totals =
        """
        SELECT (SELECT count(DISTINCT packet_id) FROM run_a.packets) AS packets_a,
               (SELECT count(DISTINCT packet_id) FROM run_b.packets) AS packets_b,
               (SELECT count(*) FROM diff_changes WHERE kind = 'mismatch') AS mismatched,
               (SELECT min(id) FROM diff_changes WHERE kind = 'mismatch') AS first_mismatch
        """;
}
