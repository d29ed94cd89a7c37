using System.Globalization;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j RATEEST --rateest-name NAME --rateest-interval TIME --rateest-ewmalog TIME`
/// (extensions/libxt_RATEEST.c; kernel xt_RATEEST.c xt_rateest_tg): feeds a named rate estimator
/// (read by `-m rateest`) and goes on. The times are reduced to the kernel's encoding — interval
/// 2^(n+2)/4 s for n = -2..3 and an EWMA log — and printed back from it, as iptables-save does.
/// </summary>
[XtTarget("RATEEST")]
public sealed class RateEstTarget : XtTarget
{
    private const uint FName = 1, FInterval = 2, FEwma = 4;
    private const double UnitsPerSecond = 1_000_000; // TIME_UNITS_PER_SEC: times are microseconds
    private const int NameMax = 15; // IFNAMSIZ - 1
    private XtOptionSet _seen;
    private uint _intervalUs, _ewmaUs;

    public string EstimatorName { get; private set; } = string.Empty;

    /// <summary>xt_rateest_target_info.interval: the measuring interval is 2^(Interval+2)/4 seconds (-2..3).</summary>
    public sbyte Interval { get; private set; }

    /// <summary>xt_rateest_target_info.ewma_log: the averaging time constant is interval × 2^EwmaLog.</summary>
    public byte EwmaLog { get; private set; }

    public override bool IsTerminating => false;

    /// <summary>The interval in microseconds, as __RATEEST_print computes it.</summary>
    public uint IntervalMicroseconds => (uint)(1_000_000 << (Interval + 2)) / 4;

    /// <summary>The EWMA time constant in microseconds; unsigned 32-bit arithmetic, wrapping as the C code does.</summary>
    public uint EwmaMicroseconds => unchecked(IntervalMicroseconds * (1u << EwmaLog));

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--rateest-name":
            {
                _seen.TakeNoInvert(o, FName);
                string name = o.Arg("an estimator name");
                if (name.Length == 0 || name.Length > NameMax)
                    throw o.Fail($"name is {name.Length} characters long", name, $"1 to {NameMax} characters");
                EstimatorName = name;
                return true;
            }
            case "--rateest-interval":
                _seen.TakeNoInvert(o, FInterval);
                _intervalUs = ParseTime(o, o.Arg("a time such as 250ms or 1s"));
                return true;
            case "--rateest-ewmalog":
                _seen.TakeNoInvert(o, FEwma);
                _ewmaUs = ParseTime(o, o.Arg("a time such as 500ms or 4s"));
                return true;
            default:
                return false;
        }
    }

    /// <summary>RATEEST_get_time: strtod and an optional unit s/sec/secs, ms/msec/msecs, us/usec/usecs; no unit is microseconds.</summary>
    private static uint ParseTime(XtOption o, string text)
    {
        int end = 0;
        while (end < text.Length && (char.IsAsciiDigit(text[end]) || text[end] is '.' or '+' or '-' or 'e' or 'E'))
            end++;
        if (end == 0 || !double.TryParse(text.AsSpan(0, end), NumberStyles.Float, CultureInfo.InvariantCulture, out double t) || t < 0)
            throw o.Fail("bad time value", text, "a number with an optional unit s, ms or us");
        string unit = text[end..].ToLowerInvariant();
        t *= unit switch
        {
            "" or "us" or "usec" or "usecs" => 1,
            "ms" or "msec" or "msecs" => UnitsPerSecond / 1000,
            "s" or "sec" or "secs" => UnitsPerSecond,
            _ => throw o.Fail("bad time unit", text, "a number with an optional unit s, ms or us"),
        };
        return t >= uint.MaxValue ? uint.MaxValue : (uint)t;
    }

    /// <summary>RATEEST_final_check: the smallest interval code covering the interval, then the EWMA log.</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_seen.Has(FName))
            throw check.Missing("no name specified", "--rateest-name NAME");
        if (!_seen.Has(FInterval))
            throw check.Missing("no interval specified", "--rateest-interval TIME");
        if (!_seen.Has(FEwma))
            throw check.Missing("no ewmalog specified", "--rateest-ewmalog TIME");
        int interval = 0;
        while (interval <= 5 && _intervalUs > (1u << interval) * (uint)(UnitsPerSecond / 4))
            interval++;
        if (interval > 5)
            throw check.Missing("interval value is too large", "an interval of at most 8s");
        int ewma = 1;
        for (; ewma < 32; ewma++)
        {
            double w = 1.0 - (1.0 / (1UL << ewma));
            if (_intervalUs / -Math.Log(w) > _ewmaUs)
                break;
        }
        ewma--;
        if (ewma == 0 || ewma >= 31)
            throw check.Missing("ewmalog value is out of range", "an ewmalog between 2 and 2^30 intervals");
        Interval = (sbyte)(interval - 2);
        EwmaLog = (byte)ewma;
    }

    /// <summary>__RATEEST_print with prefix `--rateest-`: the name with %s (unquoted), the times via RATEEST_print_time.</summary>
    public override void Save(SaveWriter w)
    {
        w.Opt("--rateest-name", EstimatorName);
        w.Opt("--rateest-interval", TimeText(IntervalMicroseconds));
        w.Opt("--rateest-ewmalog", TimeText(EwmaMicroseconds));
    }

    /// <summary>RATEEST_print_time: `%.1fs`, `%.1fms` or `%uus`.</summary>
    private static string TimeText(uint us)
    {
        if (us >= UnitsPerSecond)
            return (us / UnitsPerSecond).ToString("F1", CultureInfo.InvariantCulture) + "s";
        if (us >= UnitsPerSecond / 1000)
            return (us / (UnitsPerSecond / 1000)).ToString("F1", CultureInfo.InvariantCulture) + "ms";
        return us.ToString(CultureInfo.InvariantCulture) + "us";
    }
}
