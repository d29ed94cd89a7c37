namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j NFQUEUE` revision 3 (extensions/libxt_NFQUEUE.c NFQUEUE_parse_v3/NFQUEUE_save_v3; kernel
/// xt_NFQUEUE.c nfqueue_tg_v3): hands the packet to a userspace listener on one queue or a range of
/// queues — a verdict (NF_QUEUE) the simulator cannot know offline. With `--queue-bypass` the packet
/// is accepted when no listener is bound.
/// </summary>
[XtTarget("NFQUEUE")]
public sealed class NfQueueTarget : XtTarget
{
    private const uint Num = 1, Balance = 2, Bypass = 4, CpuFanout = 8;
    private XtOptionSet _seen;

    /// <summary>The queue, or the first queue of the balanced range (xt_NFQ_info_v3.queuenum).</summary>
    public ushort QueueNum { get; private set; }

    /// <summary>How many queues flows are spread over (1: just <see cref="QueueNum"/>).</summary>
    public ushort QueuesTotal { get; private set; } = 1;

    /// <summary>NFQ_FLAG_BYPASS: accept instead of drop when no program listens on the queue.</summary>
    public bool QueueBypass { get; private set; }

    /// <summary>NFQ_FLAG_CPU_FANOUT: pick the queue by CPU instead of by flow hash.</summary>
    public bool QueueCpuFanout { get; private set; }

    public uint LastQueue => QueueNum + (uint)QueuesTotal - 1;

    public override bool IsTerminating => true;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--queue-num":
                _seen.TakeNoInvert(o, Num, excl: Balance);
                QueueNum = (ushort)o.UInt32(o.Arg("a queue number 0-65535"), 0, 65535);
                return true;
            case "--queue-balance":
            {
                _seen.TakeNoInvert(o, Balance, excl: Num);
                string text = o.Arg("FIRST:LAST, queue numbers 0-65534");
                // XTTYPE_UINT16RC with .max = UINT16_MAX - 1; NFQUEUE_parse_v3 wants both ends and FIRST < LAST.
                if (!text.Contains(':', StringComparison.Ordinal))
                    throw o.Fail("bad range (both ends are needed)", text, "FIRST:LAST");
                var r = o.Range(text, 65534);
                if (r.Min >= r.Max)
                    throw o.Fail($"{r.Min} should be less than {r.Max}", text, "FIRST:LAST with FIRST < LAST");
                QueueNum = (ushort)r.Min;
                QueuesTotal = (ushort)(r.Max - r.Min + 1);
                return true;
            }
            case "--queue-bypass":
                _seen.TakeNoInvert(o, Bypass);
                QueueBypass = true;
                return true;
            case "--queue-cpu-fanout":
                _seen.TakeNoInvert(o, CpuFanout);
                QueueCpuFanout = true;
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        // `.also = F_QUEUE_BALANCE`: fan-out picks among several queues.
        if (QueueCpuFanout && !_seen.Has(Balance))
            throw check.Missing("--queue-cpu-fanout needs --queue-balance", "--queue-balance FIRST:LAST with --queue-cpu-fanout");
    }

    public override void Save(SaveWriter w)
    {
        if (QueuesTotal > 1)
            w.Opt("--queue-balance", $"{QueueNum}:{LastQueue}");
        else
            w.Opt("--queue-num", QueueNum);
        if (QueueBypass)
            w.Opt("--queue-bypass");
        if (QueueCpuFanout)
            w.Opt("--queue-cpu-fanout");
    }
}
