using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>`-m connmark --mark V[/M]` (net/netfilter/xt_connmark.c connmark_mt): false without a conntrack entry, else (ct->mark &amp; mask) == value, invertible.</summary>
public sealed class ConnmarkMt(ConnmarkMatch m, XtCompileContext c) : XtMatchEvaluator<ConnmarkMatch>
{
    public ConnmarkMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        if (!p.Ct.HasEntry)
            return Tristate.False;
        return Module.Mark.Matches(p.Ct.Mark) != Module.Invert ? Tristate.True : Tristate.False;
    }
}
