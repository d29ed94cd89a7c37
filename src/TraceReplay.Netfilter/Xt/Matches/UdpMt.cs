using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>`-m udp` (net/netfilter/xt_tcpudp.c udp_mt): source and destination port ranges, each invertible.</summary>
public sealed class UdpMt(UdpMatch m, XtCompileContext c) : XtMatchEvaluator<UdpMatch>
{
    private readonly uint _spMin = m.SourcePorts.Min, _spMax = m.SourcePorts.Max, _dpMin = m.DestinationPorts.Min, _dpMax = m.DestinationPorts.Max;
    private readonly bool _spInv = m.InvertSourcePorts, _dpInv = m.InvertDestinationPorts;

    public UdpMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        ref var d = ref p.Packet;
        if (p.FragOff != 0)
            return Tristate.False;
        if (!d.HasTransport || d.Protocol is not (L4Protocol.Udp or L4Protocol.UdpLite))
            return p.MissingTransport();
        return TcpMt.InRange(d.SrcPort, _spMin, _spMax, _spInv) && TcpMt.InRange(d.DstPort, _dpMin, _dpMax, _dpInv) ? Tristate.True : Tristate.False;
    }
}
