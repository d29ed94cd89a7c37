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
        """ + "\n" + Compared;

    /// <summary>
    /// The fast first pass of the diff: the two runs' captured sightings (id ≥ 0) side by side in
    /// storage order (POSITIONAL JOIN: a lockstep scan, no hash table over ten million wide rows,
    /// which is where <see cref="Changes"/> spends its time), keeping only the rows where the two
    /// differ in anything the diff compares or in packet_id. When the runs replay the same captures
    /// every pair has the same id; a pair of different ids means the storage orders differ, and
    /// then the result says nothing and <see cref="Changes"/> must run instead (the caller checks
    /// with <see cref="Misaligned"/>). Rules are compared by family/table/chain/text, as in
    /// <see cref="Changes"/>, through the pairs of rule ids that are the same rule, so that a rule
    /// insertion, which renumbers the later rules, does not make every packet a candidate; the
    /// key packs the two INTEGER ids (NULL as -1) into one BIGINT to probe that small table.
    /// </summary>
    public const string Pairs =
        """
        CREATE OR REPLACE TEMP TABLE diff_pairs AS
        WITH same_rule AS (
            SELECT -4294967297 AS k
            UNION ALL
            SELECT ra.id::BIGINT * 4294967296 + rb.id
            FROM run_a.rules ra JOIN run_b.rules rb
              ON ra.family::VARCHAR = rb.family::VARCHAR AND ra."table" = rb."table" AND ra.chain = rb.chain AND ra.text = rb.text)
        SELECT a.id AS a_id, a.packet_id AS a_packet_id, a.ts AS a_ts, a.capture_point AS a_capture_point, a.len AS a_len,
               a.family::VARCHAR AS a_family, a.proto AS a_proto, a.src AS a_src, a.sport AS a_sport, a.dst AS a_dst,
               a.dport AS a_dport, a.ct_id AS a_ct_id, a.verdict::VARCHAR AS a_verdict, a.path AS a_path,
               a.drop_reason AS a_drop_reason, a.nat_src AS a_nat_src, a.nat_sport AS a_nat_sport, a.nat_dst AS a_nat_dst,
               a.nat_dport AS a_nat_dport, a.verdict_rule_id AS a_verdict_rule_id, b.id AS b_id, b.packet_id AS b_packet_id,
               b.ts AS b_ts, b.capture_point AS b_capture_point, b.len AS b_len, b.family::VARCHAR AS b_family,
               b.proto AS b_proto, b.src AS b_src, b.sport AS b_sport, b.dst AS b_dst, b.dport AS b_dport, b.ct_id AS b_ct_id,
               b.verdict::VARCHAR AS b_verdict, b.path AS b_path, b.drop_reason AS b_drop_reason, b.nat_src AS b_nat_src,
               b.nat_sport AS b_nat_sport, b.nat_dst AS b_nat_dst, b.nat_dport AS b_nat_dport,
               b.verdict_rule_id AS b_verdict_rule_id
        FROM (SELECT * FROM run_a.packets WHERE id >= 0) a POSITIONAL JOIN (SELECT * FROM run_b.packets WHERE id >= 0) b
        WHERE a.id IS DISTINCT FROM b.id OR a.packet_id <> b.packet_id
           OR NOT (a.ts = b.ts AND a.capture_point = b.capture_point AND a.len = b.len
                   AND a.proto IS NOT DISTINCT FROM b.proto AND a.src IS NOT DISTINCT FROM b.src AND a.dst IS NOT DISTINCT FROM b.dst
                   AND a.sport IS NOT DISTINCT FROM b.sport AND a.dport IS NOT DISTINCT FROM b.dport
                   AND a.verdict::VARCHAR = b.verdict::VARCHAR AND a.path IS NOT DISTINCT FROM b.path
                   AND a.drop_reason IS NOT DISTINCT FROM b.drop_reason
                   AND a.nat_src IS NOT DISTINCT FROM b.nat_src AND a.nat_sport IS NOT DISTINCT FROM b.nat_sport
                   AND a.nat_dst IS NOT DISTINCT FROM b.nat_dst AND a.nat_dport IS NOT DISTINCT FROM b.nat_dport
                   AND coalesce(a.verdict_rule_id, -1)::BIGINT * 4294967296 + coalesce(b.verdict_rule_id, -1) IN (SELECT k FROM same_rule))
        """;

    /// <summary>Pairs of <see cref="Pairs"/> whose ids differ: any, and its result cannot be used.</summary>
    public const string Misaligned = "SELECT count(*) FROM diff_pairs WHERE a_id IS DISTINCT FROM b_id";

    /// <summary>
    /// <see cref="Changes"/>, the same rows, from the candidates of <see cref="Pairs"/> when every
    /// pair had the same id. Whether a candidate is its packet's first sighting needs min(id) only
    /// over the packets of candidates. The one change the candidates can miss is a row equal in both
    /// runs whose first-sighting status differs, because another sighting joined or left its packet;
    /// that sighting changed packet_id and so is a candidate, and its packet (in either run: the
    /// unchanged row has the same packet_id in both) is among those whose first sightings are
    /// computed, which puts the row in <c>extra</c> and fetches it. Usually <c>extra</c> is empty
    /// and DuckDB skips those two scans.
    /// </summary>
    public const string ChangesAligned =
        """
        CREATE OR REPLACE TEMP TABLE diff_changes AS
        WITH g AS (SELECT a_packet_id AS packet_id FROM diff_pairs UNION SELECT b_packet_id FROM diff_pairs),
             fa AS (SELECT min(id) AS id FROM run_a.packets WHERE id >= 0 AND packet_id IN (SELECT packet_id FROM g) GROUP BY packet_id),
             fb AS (SELECT min(id) AS id FROM run_b.packets WHERE id >= 0 AND packet_id IN (SELECT packet_id FROM g) GROUP BY packet_id),
             extra AS ((SELECT id FROM fa UNION SELECT id FROM fb) EXCEPT SELECT a_id FROM diff_pairs),
             pa AS (SELECT a_id AS id, a_packet_id AS packet_id, a_ts AS ts, a_capture_point AS capture_point, a_len AS len,
                    a_family AS family, a_proto AS proto, a_src AS src, a_sport AS sport, a_dst AS dst, a_dport AS dport,
                    a_ct_id AS ct_id, a_verdict AS verdict, a_path AS path, a_drop_reason AS drop_reason, a_nat_src AS nat_src,
                    a_nat_sport AS nat_sport, a_nat_dst AS nat_dst, a_nat_dport AS nat_dport, a_verdict_rule_id AS verdict_rule_id
                    FROM diff_pairs WHERE a_id IN (SELECT id FROM fa)
                    UNION ALL
                    SELECT id, packet_id, ts, capture_point, len, family::VARCHAR, proto, src, sport, dst, dport, ct_id, verdict::VARCHAR,
                    path, drop_reason, nat_src, nat_sport, nat_dst, nat_dport, verdict_rule_id
                    FROM run_a.packets WHERE id IN (SELECT id FROM extra) AND id IN (SELECT id FROM fa)),
             pb AS (SELECT b_id AS id, b_packet_id AS packet_id, b_ts AS ts, b_capture_point AS capture_point, b_len AS len,
                    b_family AS family, b_proto AS proto, b_src AS src, b_sport AS sport, b_dst AS dst, b_dport AS dport,
                    b_ct_id AS ct_id, b_verdict AS verdict, b_path AS path, b_drop_reason AS drop_reason, b_nat_src AS nat_src,
                    b_nat_sport AS nat_sport, b_nat_dst AS nat_dst, b_nat_dport AS nat_dport, b_verdict_rule_id AS verdict_rule_id
                    FROM diff_pairs WHERE b_id IN (SELECT id FROM fb)
                    UNION ALL
                    SELECT id, packet_id, ts, capture_point, len, family::VARCHAR, proto, src, sport, dst, dport, ct_id, verdict::VARCHAR,
                    path, drop_reason, nat_src, nat_sport, nat_dst, nat_dport, verdict_rule_id
                    FROM run_b.packets WHERE id IN (SELECT id FROM extra) AND id IN (SELECT id FROM fb)),
        """ + "\n" + Compared;

    /// <summary>
    /// The common end of <see cref="Changes"/> and <see cref="ChangesAligned"/>: given pa and pb, the
    /// first sightings of each run (all of them, or at least all that can differ), pair them by id
    /// and keep those that differ. One text so that the two plans cannot drift apart in what counts
    /// as a change.
    /// </summary>
    private const string Compared =
        """
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
