namespace TraceReplay.Netfilter.Conntrack;

/// <summary>An entry of the snapshot's starting table as it went live at <paramref name="AtNs"/>: its slot, and the state and time left (whole seconds, as conntrack.txt gave them) it started with.</summary>
public readonly record struct NfStartedEntry(int Entry, long AtNs, byte Protocol, CtStatus Status, TcpConntrack TcpState, uint Mark, long SecondsLeft)
{
    /// <summary>Its original tuple, to tell it from a later entry of the same slot.</summary>
    public NfConntrackTuple Orig { get; init; }
}
