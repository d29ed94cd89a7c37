using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>`-m mark --mark V[/M]` (net/netfilter/xt_mark.c mark_mt): (skb->mark &amp; mask) == value, invertible.</summary>
public sealed class MarkMt(MarkMatch m, XtCompileContext c) : XtMatchEvaluator<MarkMatch>
{
    public MarkMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p) => Module.Mark.Matches(p.Mark) != Module.Invert ? Tristate.True : Tristate.False;
}
