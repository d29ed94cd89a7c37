using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Replay.Pipeline;

/// <summary>
/// `replay --trace`: receives the table steps of the packets it chooses, as the TRACE target marks
/// a packet (nf_trace) and only marked packets are logged. <see cref="BeginPacket"/> comes before
/// each packet enters the simulated host; returning false leaves the hooks untraced (a null sink,
/// so an untraced packet costs one call and nothing per rule).
/// </summary>
public interface IReplayTraceSink : IIptTraceSink
{
    bool BeginPacket(long packetId);
}

/// <summary>Which hook a table step belongs to, as the TRACE log's chain names it.</summary>
public static class NfTraceHook
{
    /// <summary>
    /// The hook a built-in chain sits on (shared string constants), or null for a user chain. Every
    /// traversal starts in the built-in chain of its hook (hook_entry), so the last built-in chain
    /// seen is the hook of the user-chain steps that follow.
    /// </summary>
    public static string? Of(string chain) => chain switch
    {
        "PREROUTING" => "PREROUTING",
        "INPUT" => "INPUT",
        "FORWARD" => "FORWARD",
        "OUTPUT" => "OUTPUT",
        "POSTROUTING" => "POSTROUTING",
        _ => null,
    };
}
