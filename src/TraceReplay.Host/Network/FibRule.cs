using TraceReplay.Host.Net;

namespace TraceReplay.Host.Network;

/// <summary>A policy rule's action, the kernel's FR_ACT_* (include/uapi/linux/fib_rules.h).</summary>
public enum FibRuleAction : byte
{
    Unspec = 0,
    /// <summary>FR_ACT_TO_TBL: `lookup TABLE`.</summary>
    ToTable = 1,
    Goto = 2,
    Nop = 3,
    Blackhole = 6,
    Unreachable = 7,
    Prohibit = 8,
}

/// <summary>
/// One policy routing rule, as `ip rule` prints it: the kernel's struct fib_rule (net/core/fib_rules.c)
/// plus the IPv4/IPv6 selectors (fib4_rule / fib6_rule). Selectors that are null match everything.
/// </summary>
public sealed record FibRule
{
    public required uint Priority { get; init; }
    public bool IsV6 { get; init; }
    /// <summary>FIB_RULE_INVERT: the selectors' match is negated (`not`).</summary>
    public bool Not { get; init; }
    public IpNetwork? Src { get; init; }
    public IpNetwork? Dst { get; init; }
    public byte? Tos { get; init; }
    public uint? FwMark { get; init; }
    /// <summary>The mark mask; the kernel uses 0xffffffff when a mark is given without one.</summary>
    public uint? FwMask { get; init; }
    public string? Iif { get; init; }
    public string? Oif { get; init; }
    public bool L3mdev { get; init; }
    public uint? UidStart { get; init; }
    public uint? UidEnd { get; init; }
    public string? IpProto { get; init; }
    public FibRuleAction Action { get; init; } = FibRuleAction.ToTable;
    /// <summary>Canonical table name (see <see cref="RtTables.Canonical"/>) for <see cref="FibRuleAction.ToTable"/>.</summary>
    public string? Table { get; init; }
    public uint? GotoTarget { get; init; }
    /// <summary>Reject a lookup result whose prefix is this long or shorter (`suppress_prefixlength`); -1 when unset, as in the kernel.</summary>
    public int SuppressPrefixLength { get; init; } = -1;
    public int? SuppressIfGroup { get; init; }

    public override string ToString() =>
        $"{Priority}: {(Not ? "not " : "")}from {(Src is { } s ? s.ToString() : "all")}{(Dst is { } d ? $" to {d}" : "")}"
        + $"{(FwMark is { } m ? $" fwmark 0x{m:x}/0x{FwMask ?? uint.MaxValue:x}" : "")}{(Iif is { } i ? $" iif {i}" : "")}{(Oif is { } o ? $" oif {o}" : "")}"
        + $" {Action switch { FibRuleAction.ToTable => $"lookup {Table}", FibRuleAction.Goto => $"goto {GotoTarget}", _ => Action.ToString().ToLowerInvariant() }}";
}
