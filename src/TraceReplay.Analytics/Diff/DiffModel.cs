namespace TraceReplay.Analytics.Diff;

/// <summary>What changed for a flow between run A and run B; the order is the order of the summary.</summary>
public enum DiffKind
{
    /// <summary>Accepted in A, dropped or rejected in B.</summary>
    NowDropped,

    /// <summary>Dropped or rejected in A, accepted in B.</summary>
    NowAccepted,

    /// <summary>Another verdict change (DROP and REJECT, QUEUE, STOLEN).</summary>
    Verdict,

    /// <summary>Same verdict, decided by another rule.</summary>
    Rule,

    /// <summary>Same verdict and rule, translated differently (nat_* tuple).</summary>
    Nat,

    /// <summary>Only the hooks traversed (or the drop reason) differ, or the packet entered in one run only.</summary>
    Path,
}

/// <summary>The rule (or policy) that decided a packet, as the run's rules table has it; identified across runs by family/table/chain/text.</summary>
public sealed record DiffRule(string Family, string Table, string Chain, int Position, bool IsPolicy, string Text)
{
    /// <summary>table:chain:position, or table:chain:policy; bridge rules say so (ebtables tables share names with iptables').</summary>
    public string Label => (Family == "bridge" ? "eb:" : string.Empty) + Table + ":" + Chain + ":" + (IsPolicy ? "policy" : Position.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The rule as iptables-save prints it: "-A CHAIN ...", or "policy DROP".</summary>
    public string Line => IsPolicy ? "policy " + Text : "-A " + Chain + (Text.Length > 0 ? " " + Text : string.Empty);
}

/// <summary>A NAT tuple (nat_src:nat_sport -> nat_dst:nat_dport); null members where NAT left the packet alone.</summary>
public sealed record DiffNat(string? Src, int? Sport, string? Dst, int? Dport)
{
    public bool IsNone => Src is null && Dst is null && Sport is null && Dport is null;

    public override string ToString() => IsNone ? "-" : $"{Src}:{Sport} -> {Dst}:{Dport}";
}

/// <summary>One run's decision for the flow's first changed packet. Verdict is null when the packet did not enter in this run (a later sighting of another packet here).</summary>
public sealed record DiffSide(string? Verdict, DiffRule? Rule, string? DropReason, DiffNat Nat, string? Path, long? PacketId)
{
    /// <summary>What decided: the rule's label, the drop reason, or "-" (an accept no rule recorded).</summary>
    public string Decider => Rule?.Label ?? DropReason ?? "-";
}

/// <summary>A flow whose decision changed: a run-A connection (by its original tuple) or a 5-tuple, with one kind of change.</summary>
public sealed record DiffFlow(
    DiffKind Kind,
    string? Family,
    int? Proto,
    string? Src,
    int? Sport,
    string? Dst,
    int? Dport,
    long? CtIdA,
    DateTimeOffset FirstTs,
    DateTimeOffset LastTs,
    long Packets,
    DiffSide A,
    DiffSide B)
{
    public string Tuple => Family is null ? "(not IP)" : $"{ProtoName(Proto)} {Src}:{Sport} -> {Dst}:{Dport}";

    internal static string ProtoName(int? proto) => proto switch
    {
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        58 => "icmpv6",
        132 => "sctp",
        null => "-",
        _ => proto.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>One line of the summary: the flows and packets of one kind of change through one rule.</summary>
public sealed record DiffSummaryLine(DiffKind Kind, long Flows, long Packets, DiffRule? Rule, string Text);

/// <summary>The result of <see cref="RunDiff.Compare"/>.</summary>
public sealed record RunDiffResult(
    string RunA,
    string RunB,
    long PacketsA,
    long PacketsB,
    long PacketsChanged,
    long FlowsChanged,
    IReadOnlyList<DiffSummaryLine> Summary,
    IReadOnlyList<DiffFlow> Flows,
    IReadOnlyList<string> Warnings);

/// <summary>Options of <see cref="RunDiff.Compare"/>.</summary>
public sealed record RunDiffOptions
{
    /// <summary>Compare runs whose captures differ (a warning instead of a refusal); packets that are not the same in both are left out.</summary>
    public bool Force { get; init; }

    /// <summary>At most this many flows in <see cref="RunDiffResult.Flows"/> (the summary counts all).</summary>
    public int Limit { get; init; } = int.MaxValue;
}
