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
