namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m limit --limit RATE[/UNIT] --limit-burst N` (extensions/libxt_limit.c; kernel xt_limit.c, a token
/// bucket). The rate is held as the kernel holds it: the average interval between packets in
/// 1/10000 s (XT_LIMIT_SCALE); 3/hour and burst 5 by default.
/// </summary>
[XtMatch("limit")]
public sealed class LimitMatch : XtMatch
{
    public const ulong Scale = 10000;
    private const int OLimit = 0, OBurst = 1;
    private XtOptionSet _seen;

    /// <summary>xt_rateinfo.avg: interval between packets in 1/<see cref="Scale"/> seconds (3/hour: 12000000).</summary>
    public uint Average { get; private set; } = (uint)(Scale * 60 * 60 / 3);
    public uint Burst { get; private set; } = 5;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--limit":
            {
                _seen.TakeNoInvert(o, 1u << OLimit);
                string text = o.Arg("RATE[/second|/minute|/hour|/day]");
                if (!MbHelpers.TryParseRate(text, Scale, out ulong period, out _) || period > uint.MaxValue)
                    throw o.Fail("bad rate", text, "a rate such as 3/hour, 10/min or 5/sec");
                if (period == 0)
                    throw o.Fail("rate too fast", text, "at most 10000/sec");
                Average = (uint)period;
                return true;
            }
            case "--limit-burst":
                _seen.TakeNoInvert(o, 1u << OBurst);
                Burst = o.UInt32(o.Arg("a packet count"), 0, 10000);
                return true;
            default:
                return false;
        }
    }

    /// <summary>limit_mt_check refuses a burst of 0 ("Overflow, try lower").</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (Burst == 0)
            throw check.Fail("--limit-burst 0: the kernel refuses it (\"Overflow, try lower\")", "--limit-burst 1-10000");
    }

    /// <summary>limit_save: --limit always, --limit-burst when not 5.</summary>
    public override void Save(SaveWriter w)
    {
        w.Opt("--limit", MbHelpers.FormatRate(Average, Scale, out _));
        if (Burst != 5)
            w.Opt("--limit-burst", Burst);
    }
}
