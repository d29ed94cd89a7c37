using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>`-m ttl` / `-m hl` (net/ipv4/netfilter/ipt_ttl.c ttl_mt, net/ipv6/netfilter/ip6t_hl.c hl_mt): eq, ne, lt, gt.</summary>
public sealed class TtlMt(TtlMatch m, XtCompileContext c) : XtMatchEvaluator<TtlMatch>
{
    public TtlMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        byte ttl = p.Packet.Ttl, v = Module.Value;
        bool hit = Module.Mode switch
        {
            TtlMode.Equal => ttl == v,
            TtlMode.NotEqual => ttl != v,
            TtlMode.Less => ttl < v,
            _ => ttl > v,
        };
        return hit ? Tristate.True : Tristate.False;
    }
}
