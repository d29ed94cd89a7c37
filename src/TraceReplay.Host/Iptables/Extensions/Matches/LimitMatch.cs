using System.Globalization;

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
                if (!TryParseRate(text, Scale, out ulong period, out _) || period > uint.MaxValue)
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
        w.Opt("--limit", FormatRate(Average, Scale, out _));
        if (Burst != 5)
            w.Opt("--limit-burst", Burst);
    }

    /// <summary>
    /// parse_rate of libxt_limit / libxt_hashlimit: `N[/second|/minute|/hour|/day]` (any prefix of the
    /// unit, case-insensitive; atoi for N) into the interval between packets in 1/<paramref name="scale"/> s.
    /// </summary>
    internal static bool TryParseRate(string rate, ulong scale, out ulong period, out uint mult)
    {
        period = 0;
        mult = 1;
        int slash = rate.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            string unit = rate[(slash + 1)..];
            if (unit.Length == 0)
                return false;
            if ("second".StartsWith(unit, StringComparison.OrdinalIgnoreCase))
                mult = 1;
            else if ("minute".StartsWith(unit, StringComparison.OrdinalIgnoreCase))
                mult = 60;
            else if ("hour".StartsWith(unit, StringComparison.OrdinalIgnoreCase))
                mult = 60 * 60;
            else if ("day".StartsWith(unit, StringComparison.OrdinalIgnoreCase))
                mult = 24 * 60 * 60;
            else
                return false;
        }
        ulong r = XtValues.Atoull(slash >= 0 ? rate[..slash] : rate);
        if (r == 0)
            return false;
        period = scale * mult / r;
        return true;
    }

    /// <summary>print_rate: the largest unit in which the rate is still a whole-ish number (`3/hour`).</summary>
    internal static string FormatRate(ulong period, ulong scale, out ulong unitScaled)
    {
        (string Name, ulong Mult)[] rates = [("day", scale * 24 * 60 * 60), ("hour", scale * 60 * 60), ("min", scale * 60), ("sec", scale)];
        unitScaled = 0;
        if (period == 0)
            return "inf";
        int i;
        for (i = 1; i < rates.Length; i++)
        {
            if (period > rates[i].Mult || rates[i].Mult / period < rates[i].Mult % period)
                break;
        }
        unitScaled = rates[i - 1].Mult;
        return (rates[i - 1].Mult / period).ToString(CultureInfo.InvariantCulture) + "/" + rates[i - 1].Name;
    }
}
