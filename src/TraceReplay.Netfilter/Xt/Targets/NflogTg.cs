using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Targets;

/// <summary>`-j NFLOG` (net/netfilter/xt_NFLOG.c nflog_tg): a record for the netlink group to the context's log sink; continue.</summary>
public sealed class NflogTg(NflogTarget t, XtCompileContext c) : XtTargetEvaluator<NflogTarget>
{
    public NflogTarget Module { get; } = t;
    public XtCompileContext Context { get; } = c;

    public override XtVerdict Target(ref XtActionParam p)
    {
        p.LogSink?.Log(new XtLogRecord(p.Entry, true, Module.Prefix, 0, Module.Group, p.TimeNs), in p.Packet);
        return XtVerdict.Continue;
    }
}
