using System.Data.Common;
using System.Globalization;

namespace TraceReplay.Analytics.Diff;

public static partial class RunDiff
{
    /// <summary>
    /// The summary: changed flows per kind and the rule that makes the difference, which is B's
    /// deciding rule, except for flows now accepted, where it is the rule in A that no longer drops
    /// them (B's accept is usually a policy or a broad rule and says little).
    /// </summary>
    private const string SummarySql =
        """
        WITH s AS (
            SELECT kind, packets,
                   CASE WHEN kind = 'now_accepted' THEN verdict_a ELSE verdict_b END AS s_verdict,
                   CASE WHEN kind = 'now_accepted' THEN rule_family_a WHEN kind IN ('now_dropped', 'verdict', 'rule') THEN rule_family_b END AS s_family,
                   CASE WHEN kind = 'now_accepted' THEN rule_table_a WHEN kind IN ('now_dropped', 'verdict', 'rule') THEN rule_table_b END AS s_table,
                   CASE WHEN kind = 'now_accepted' THEN rule_chain_a WHEN kind IN ('now_dropped', 'verdict', 'rule') THEN rule_chain_b END AS s_chain,
                   CASE WHEN kind = 'now_accepted' THEN rule_position_a WHEN kind IN ('now_dropped', 'verdict', 'rule') THEN rule_position_b END AS s_position,
                   CASE WHEN kind = 'now_accepted' THEN rule_policy_a WHEN kind IN ('now_dropped', 'verdict', 'rule') THEN rule_policy_b END AS s_policy,
                   CASE WHEN kind = 'now_accepted' THEN rule_text_a WHEN kind IN ('now_dropped', 'verdict', 'rule') THEN rule_text_b END AS s_text,
                   CASE WHEN kind = 'now_accepted' THEN reason_a WHEN kind IN ('now_dropped', 'verdict') THEN reason_b END AS s_reason
            FROM diff_flows
        )
        SELECT kind, count(*) AS flows, sum(packets)::BIGINT AS packets, s_verdict, s_family, s_table, s_chain, min(s_position), bool_or(s_policy), s_text, s_reason
        FROM s
        GROUP BY kind, s_verdict, s_family, s_table, s_chain, s_text, s_reason
        ORDER BY CASE kind WHEN 'now_dropped' THEN 0 WHEN 'now_accepted' THEN 1 WHEN 'verdict' THEN 2 WHEN 'rule' THEN 3 WHEN 'nat' THEN 4 ELSE 5 END, flows DESC, s_table, s_chain, min(s_position)
        """;

    private static DiffKind Kind(string s) => s switch
    {
        "now_dropped" => DiffKind.NowDropped,
        "now_accepted" => DiffKind.NowAccepted,
        "verdict" => DiffKind.Verdict,
        "rule" => DiffKind.Rule,
        "nat" => DiffKind.Nat,
        _ => DiffKind.Path,
    };

    private static DiffSummaryLine ReadSummary(DbDataReader r)
    {
        var kind = Kind(r.GetString(0));
        long flows = r.GetInt64(1);
        long packets = Convert.ToInt64(r.GetValue(2), CultureInfo.InvariantCulture);
        string? verdict = Str(r, 3);
        DiffRule? rule = r.IsDBNull(5) ? null : new DiffRule(Str(r, 4) ?? "ipv4", r.GetString(5), r.GetString(6), Int(r, 7) ?? 0, !r.IsDBNull(8) && r.GetBoolean(8), Str(r, 9) ?? string.Empty);
        string? reason = Str(r, 10);
        string by = rule is not null ? $"{rule.Label} `{rule.Line}`" : reason ?? "no rule recorded";
        string verb = (verdict ?? "?") switch { "DROP" => "dropped", "REJECT" => "rejected", "ACCEPT" => "accepted", var v => v.ToLowerInvariant() };
        string n = Count(flows, "flow") + " (" + Count(packets, "packet") + ")";
        string text = kind switch
        {
            DiffKind.NowDropped => $"{n} now {verb} by {by}",
            DiffKind.NowAccepted => $"{n} newly accepted: were {verb} by {by}",
            DiffKind.Verdict => $"{n} now {verb} by {by}",
            DiffKind.Rule => $"{n} still {verb}, now by {by}",
            DiffKind.Nat => $"{n} translated differently (NAT)",
            _ => $"{n} take another path through the hooks",
        };
        return new DiffSummaryLine(kind, flows, packets, rule, text);
    }

    private static string Count(long n, string what) => n.ToString(CultureInfo.InvariantCulture) + " " + what + (n == 1 ? string.Empty : "s");

    private static DiffFlow ReadFlow(DbDataReader r)
    {
        int o = r.GetOrdinal("verdict_a");
        int ob = r.GetOrdinal("verdict_b");
        DiffSide Side(int at, string s) => new(
            Str(r, at),
            r.IsDBNull(at + 2) ? null : new DiffRule(Str(r, at + 1) ?? "ipv4", r.GetString(at + 2), r.GetString(at + 3), Int(r, at + 4) ?? 0, !r.IsDBNull(at + 5) && r.GetBoolean(at + 5), Str(r, at + 6) ?? string.Empty),
            Str(r, r.GetOrdinal("reason_" + s)),
            new DiffNat(Str(r, r.GetOrdinal("nat_src_" + s)), Int(r, r.GetOrdinal("nat_sport_" + s)), Str(r, r.GetOrdinal("nat_dst_" + s)), Int(r, r.GetOrdinal("nat_dport_" + s))),
            Str(r, r.GetOrdinal("path_" + s)),
            Long(r, r.GetOrdinal("example_" + s)));
        return new DiffFlow(
            Kind(r.GetString(r.GetOrdinal("kind"))),
            Str(r, r.GetOrdinal("family")),
            Int(r, r.GetOrdinal("proto")),
            Str(r, r.GetOrdinal("f_src")),
            Int(r, r.GetOrdinal("f_sport")),
            Str(r, r.GetOrdinal("f_dst")),
            Int(r, r.GetOrdinal("f_dport")),
            Long(r, r.GetOrdinal("conn")),
            Us(r.GetInt64(r.GetOrdinal("first_us"))),
            Us(r.GetInt64(r.GetOrdinal("last_us"))),
            r.GetInt64(r.GetOrdinal("packets")),
            Side(o, "a"),
            Side(ob, "b"));
    }

    private static DateTimeOffset Us(long us) => DateTimeOffset.UnixEpoch.AddTicks(us * 10);

    private static string? Str(DbDataReader r, int i) => r.IsDBNull(i) ? null : Convert.ToString(r.GetValue(i), CultureInfo.InvariantCulture);

    private static int? Int(DbDataReader r, int i) => r.IsDBNull(i) ? null : Convert.ToInt32(r.GetValue(i), CultureInfo.InvariantCulture);

    private static long? Long(DbDataReader r, int i) => r.IsDBNull(i) ? null : Convert.ToInt64(r.GetValue(i), CultureInfo.InvariantCulture);
}
