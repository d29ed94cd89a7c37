using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Targets;

/// <summary>`-j TRACE` (net/netfilter/xt_TRACE.c trace_tg): sets skb->nf_trace; continue.</summary>
public sealed class TraceTg(TraceTarget t, XtCompileContext c) : XtTargetEvaluator<TraceTarget>
{
    public TraceTarget Module { get; } = t;
    public XtCompileContext Context { get; } = c;

    public override XtVerdict Target(ref XtActionParam p)
    {
        p.NfTrace = true;
        return XtVerdict.Continue;
    }
}
