using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Targets;

/// <summary>`-j MARK --set-xmark V/M` (net/netfilter/xt_mark.c mark_tg): skb->mark = (mark &amp; ~mask) ^ value; continue.</summary>
public sealed class MarkTg(MarkTarget t, XtCompileContext c) : XtTargetEvaluator<MarkTarget>
{
    public MarkTarget Module { get; } = t;
    public XtCompileContext Context { get; } = c;

    public override XtVerdict Target(ref XtActionParam p)
    {
        p.Mark = Module.Apply(p.Mark);
        return XtVerdict.Continue;
    }
}
