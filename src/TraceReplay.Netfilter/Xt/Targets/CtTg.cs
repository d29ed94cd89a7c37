using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Targets;

/// <summary>`-j CT` (net/netfilter/xt_CT.c xt_ct_target): records the template (--notrack, --zone, --helper, --timeout) for the hook layer to attach. Continue.</summary>
public sealed class CtTg(CtTarget t, XtCompileContext c) : XtTargetEvaluator<CtTarget>
{
    public CtTarget Module { get; } = t;
    public XtCompileContext Context { get; } = c;

    public override XtVerdict Target(ref XtActionParam p)
    {
        p.CtRequest = new XtCtRequest(Module.Flags, Module.Zone, Module.Helper, Module.Timeout, p.Entry);
        return XtVerdict.Continue;
    }
}
