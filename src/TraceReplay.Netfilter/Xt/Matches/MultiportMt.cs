using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m multiport` (net/netfilter/xt_multiport.c multiport_mt, ports_match_v1): a port (or range) of
/// the list on the source, the destination or either side. Non-first fragments never match.
/// </summary>
public sealed class MultiportMt(MultiportMatch m, XtCompileContext c) : XtMatchEvaluator<MultiportMatch>
{
    private readonly uint[] _min = [.. m.Ports.Select(r => r.Min)];
    private readonly uint[] _max = [.. m.Ports.Select(r => r.Max)];

    public MultiportMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        ref var d = ref p.Packet;
        if (p.FragOff != 0)
            return Tristate.False;
        if (!d.HasTransport || d.Protocol is not (L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.UdpLite or L4Protocol.Sctp or 33))
            return p.MissingTransport();
        var dir = Module.Direction;
        for (int i = 0; i < _min.Length; i++)
        {
            bool src = dir != MultiportDirection.Destination && d.SrcPort >= _min[i] && d.SrcPort <= _max[i];
            bool dst = dir != MultiportDirection.Source && d.DstPort >= _min[i] && d.DstPort <= _max[i];
            if (src || dst)
                return Module.Invert ? Tristate.False : Tristate.True;
        }
        return Module.Invert ? Tristate.True : Tristate.False;
    }
}
