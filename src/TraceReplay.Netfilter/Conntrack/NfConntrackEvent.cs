namespace TraceReplay.Netfilter.Conntrack;

/// <summary>What `conntrack -E` prints in front of an event: enum nf_ct_ecache / NFCT_T_*.</summary>
public enum NfctEventType : byte
{
    New,
    Update,
    Destroy,
}

/// <summary>The IPCT_* bits of enum ip_conntrack_events that the simulation raises.</summary>
[Flags]
public enum NfctEventMask : ushort
{
    None = 0,
    New = 1 << 0,
    Related = 1 << 1,
    Destroy = 1 << 2,
    Reply = 1 << 3,
    Assured = 1 << 4,
    ProtoInfo = 1 << 5,
    Mark = 1 << 8,
    NatInfo = 1 << 9,
}

/// <summary>
/// One conntrack event with a copy of the connection as it was then (the ctnetlink event message):
/// a value so the stream can be drained without allocating. <see cref="Time"/> is capture time in ns;
/// for an expiry it is the deadline the entry passed. <see cref="Deadline"/> is the entry's timeout then
/// (printed as seconds left); <see cref="HasAcct"/> says whether DESTROY carries counters.
/// </summary>
public readonly record struct NfConntrackEvent(
    NfctEventType Type,
    NfctEventMask Mask,
    long Time,
    int Entry,
    NfConntrackTuple Orig,
    NfConntrackTuple Reply,
    ushort Zone,
    CtStatus Status,
    TcpConntrack TcpState,
    uint Mark,
    ulong OrigPackets,
    ulong OrigBytes,
    ulong ReplyPackets,
    ulong ReplyBytes,
    long Deadline,
    bool HasAcct)
{
    /// <summary>The entry's <see cref="NfConn.StartNs"/>: when it was confirmed; 0 for an entry of the starting table.</summary>
    public long StartNs { get; init; }
}
