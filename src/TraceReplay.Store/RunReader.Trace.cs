namespace TraceReplay.Store;

/// <summary>A row of <c>v_packets</c> read back: one sighting of a packet with its simulated path, verdict and deciding rule.</summary>
public sealed record RunPacket(
    long Id, long PacketId, long TimestampUs, string CapturePoint, string? Direction, string? Family, int Protocol,
    string? Src, string? Dst, int SrcPort, int DstPort, string? NatSrc, string? NatDst, int NatSrcPort, int NatDstPort,
    int Length, string? CtState, string? CtDir, string? Path, string Verdict,
    string? RuleTable, string? RuleChain, int RulePosition, string? RuleText, string? DropReason, bool DependsOnUnknown);

/// <summary>A row of <c>rule_trace</c> with the rule's text (null for a policy or a chain end).</summary>
public sealed record RunTraceStep(int Seq, string Family, string Hook, string Table, string Chain, int RuleNum, int RuleId, string Type, bool? Matched, string? Verdict, string? RuleText);

public sealed partial class RunReader
{
    /// <summary>Every sighting of the real packet <paramref name="packetId"/> (packets.packet_id), in capture order.</summary>
    public IReadOnlyList<RunPacket> Packet(long packetId) => Query(
        """
        SELECT id, packet_id, epoch_us(ts), capture_point, direction, family, proto, src, dst, sport, dport,
               nat_src, nat_dst, nat_sport, nat_dport, len, ct_state, ct_dir, path, verdict,
               rule_table, rule_chain, rule_position, rule_text, drop_reason, depends_on_unknown
        FROM v_packets WHERE packet_id = $1 ORDER BY id
        """,
        r => new RunPacket(I64(r, 0), I64(r, 1), I64(r, 2), Str(r, 3), StrOrNull(r, 4), StrOrNull(r, 5), (int)I64(r, 6),
            StrOrNull(r, 7), StrOrNull(r, 8), (int)I64(r, 9), (int)I64(r, 10), StrOrNull(r, 11), StrOrNull(r, 12), (int)I64(r, 13), (int)I64(r, 14),
            (int)I64(r, 15), StrOrNull(r, 16), StrOrNull(r, 17), StrOrNull(r, 18), Str(r, 19),
            StrOrNull(r, 20), StrOrNull(r, 21), (int)I64(r, 22), StrOrNull(r, 23), StrOrNull(r, 24), !r.IsDBNull(25) && r.GetBoolean(25)),
        packetId);

    /// <summary>The number of real packets in the run (the largest packet_id).</summary>
    public long PacketCount() => Query("SELECT coalesce(max(packet_id), 0) FROM packets", r => I64(r, 0))[0];

    /// <summary>Whether the run was made with --trace (any rule_trace rows, or run_info says so).</summary>
    public bool HasTrace() => Info("trace") is not null || Query("SELECT count(*) FROM rule_trace", r => I64(r, 0))[0] > 0;

    /// <summary>The packet's rule_trace steps in order.</summary>
    public IReadOnlyList<RunTraceStep> Trace(long packetId) => Query(
        """
        SELECT t.seq, t.family, t.hook, t."table", t.chain, t.rulenum, t.rule_id, t.type, t.matched, t.verdict,
               CASE WHEN r.position > 0 THEN r.text END
        FROM rule_trace t LEFT JOIN rules r ON r.id = t.rule_id
        WHERE t.packet_id = $1 ORDER BY t.seq
        """,
        r => new RunTraceStep((int)I64(r, 0), Str(r, 1), Str(r, 2), Str(r, 3), Str(r, 4), (int)I64(r, 5), (int)I64(r, 6), Str(r, 7),
            r.IsDBNull(8) ? null : r.GetBoolean(8), StrOrNull(r, 9), StrOrNull(r, 10)),
        packetId);
}
