using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Targets;

/// <summary>
/// `-j REJECT` (net/ipv4/netfilter/ipt_REJECT.c reject_tg, ip6t_REJECT.c reject_tg6): NF_DROP, and
/// a record of the TCP RST or ICMP error the host sends back (the hook layer builds the packet).
/// </summary>
public sealed class RejectTg(RejectTarget t, XtCompileContext c) : XtTargetEvaluator<RejectTarget>
{
    public RejectTarget Module { get; } = t;
    public XtCompileContext Context { get; } = c;

    public override XtVerdict Target(ref XtActionParam p)
    {
        p.Reject = new XtRejectRecord(Module.With, p.Entry);
        return XtVerdict.Drop;
    }
}
