using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Targets;

/// <summary>
/// `-j NFQUEUE` (net/netfilter/xt_NFQUEUE.c nfqueue_tg_v3): NF_QUEUE to --queue-num, with
/// --queue-bypass. A --queue-balance range is spread by the flow hash in the kernel
/// (nfqueue_hash); here the first queue of the range stands for it.
/// </summary>
public sealed class NfQueueTg(NfQueueTarget t, XtCompileContext c) : XtTargetEvaluator<NfQueueTarget>
{
    public NfQueueTarget Module { get; } = t;
    public XtCompileContext Context { get; } = c;

    public override XtVerdict Target(ref XtActionParam p)
    {
        p.QueueNum = Module.QueueNum;
        p.QueueBypass = Module.QueueBypass;
        return XtVerdict.Queue;
    }
}
