namespace TraceReplay.Netfilter.Tables;

/// <summary>
/// What a match says of a packet. Three-valued as in the Iptables_Semantics work: a match the
/// simulator cannot decide offline (owner, socket, an unknown module, a capture cut before the
/// header it reads) answers <see cref="Unknown"/> instead of guessing.
/// </summary>
public enum Tristate : byte
{
    False = 0,
    True = 1,
    Unknown = 2,
}

/// <summary>
/// A target's or a traversal's verdict, numbered as the kernel numbers them (NF_DROP … NF_QUEUE in
/// include/uapi/linux/netfilter.h; XT_CONTINUE and XT_RETURN in include/uapi/linux/netfilter/x_tables.h),
/// plus <see cref="Unknown"/> for a target the simulator cannot carry out.
/// </summary>
public enum XtVerdict : int
{
    Drop = 0,
    Accept = 1,

    /// <summary>NF_STOLEN: the target took the packet (nothing in this build returns it; kept for the hook layer).</summary>
    Stolen = 2,

    /// <summary>NF_QUEUE: to user space (QUEUE, NFQUEUE); the queue number and bypass flag are in the result.</summary>
    Queue = 3,

    /// <summary>XT_CONTINUE: a non-terminating target; traversal goes on with the next rule.</summary>
    Continue = -1,

    /// <summary>XT_RETURN (-NF_REPEAT - 1): back to the calling chain, or to the hook's policy.</summary>
    Return = -5,

    /// <summary>A terminating target the simulator does not carry out: the packet's fate is unknown.</summary>
    Unknown = -100,
}

/// <summary>Why a verdict is less than certain.</summary>
[Flags]
public enum IptVerdictFlags : byte
{
    None = 0,

    /// <summary>A match on the path answered unknown (taken as the policy in <see cref="XtNet.UnknownPolicy"/> says), or an unknown target was met.</summary>
    DependsOnUnknown = 1 << 0,

    /// <summary>A time- or chance-dependent match (limit, hashlimit, recent, statistic) decided a rule on the path: the capture clock and the seeded generator stand in for the kernel's.</summary>
    DependsOnClockOrRandom = 1 << 1,

    /// <summary>A match set the kernel's hotdrop (a header it needs is malformed): the verdict is DROP without a rule's target.</summary>
    HotDrop = 1 << 2,
}

/// <summary>
/// The outcome of one traversal of a table (ipt_do_table's return value and what a TRACE would
/// say of it): the verdict, the entry that gave it (a rule, or a chain's policy: see
/// <see cref="XtTableInfo.Describe"/>), the first unknown rule met, and the queue for NF_QUEUE.
/// </summary>
public readonly record struct IptVerdict(
    XtVerdict Verdict,
    int Entry,
    IptVerdictFlags Flags,
    int FirstUnknownEntry,
    ushort QueueNum,
    bool QueueBypass)
{
    public bool DependsOnUnknown => (Flags & IptVerdictFlags.DependsOnUnknown) != 0;
}
