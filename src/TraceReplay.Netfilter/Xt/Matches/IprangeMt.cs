using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>`-m iprange` (net/netfilter/xt_iprange.c iprange_mt4/iprange_mt6): the address between min and max (host order), invertible per side.</summary>
public sealed class IprangeMt(IprangeMatch m, XtCompileContext c) : XtMatchEvaluator<IprangeMatch>
{
    public IprangeMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        var m = Module;
        if (m.Source is { } s && s.Contains(p.Packet.Src) == m.InvertSource)
            return Tristate.False;
        if (m.Destination is { } d && d.Contains(p.Packet.Dst) == m.InvertDestination)
            return Tristate.False;
        return Tristate.True;
    }
}
