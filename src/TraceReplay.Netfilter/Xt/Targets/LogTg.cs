using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Targets;

/// <summary>`-j LOG` (net/netfilter/xt_LOG.c log_tg): a record to the context's log sink; continue.</summary>
public sealed class LogTg(LogTarget t, XtCompileContext c) : XtTargetEvaluator<LogTarget>
{
    public LogTarget Module { get; } = t;
    public XtCompileContext Context { get; } = c;

    public override XtVerdict Target(ref XtActionParam p)
    {
        p.LogSink?.Log(new XtLogRecord(p.Entry, false, Module.Prefix, Module.Level, 0, p.TimeNs), in p.Packet);
        return XtVerdict.Continue;
    }
}
