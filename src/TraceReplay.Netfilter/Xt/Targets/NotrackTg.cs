using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Targets;

/// <summary>`-j NOTRACK` (xt_CT.c notrack_tg): asks that conntrack leave the packet untracked; the hook layer applies it. Continue.</summary>
public sealed class NotrackTg(NotrackTarget t, XtCompileContext c) : XtTargetEvaluator<NotrackTarget>
{
    public NotrackTarget Module { get; } = t;
    public XtCompileContext Context { get; } = c;

    public override XtVerdict Target(ref XtActionParam p)
    {
        p.CtRequest = new XtCtRequest(NotrackTarget.Flags, 0, string.Empty, string.Empty, p.Entry);
        return XtVerdict.Continue;
    }
}
