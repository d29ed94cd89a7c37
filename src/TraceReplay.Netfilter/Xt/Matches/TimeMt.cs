using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m time` (net/netfilter/xt_time.c time_mt) on the capture clock: the date range, the daytime
/// range (wrapping past midnight, with --contiguous moving the early part to the day before), the
/// weekday (1 = Monday … 7 = Sunday) and month-day masks, all in UTC. --kerneltz needs the host's
/// time zone, which the snapshot does not hold: unknown.
/// </summary>
public sealed class TimeMt(TimeMatch m, XtCompileContext c) : XtMatchEvaluator<TimeMatch>
{
    private const long SecondsPerDay = 86400;

    public TimeMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override bool DependsOnClockOrRandom => true;

    public override Tristate Match(ref XtActionParam p)
    {
        var m = Module;
        if (m.KernelTimeZone)
            return Tristate.Unknown;
        long stamp = Math.DivRem(p.TimeNs, 1_000_000_000L, out long rem);
        if (rem < 0)
            stamp--;
        if (stamp < m.DateStart || stamp > m.DateStop)
            return Tristate.False;
        long packetTime = ((stamp % SecondsPerDay) + SecondsPerDay) % SecondsPerDay; // localtime_1
        if (m.DaytimeStart < m.DaytimeStop)
        {
            if (packetTime < m.DaytimeStart || packetTime > m.DaytimeStop)
                return Tristate.False;
        }
        else
        {
            if (packetTime < m.DaytimeStart && packetTime > m.DaytimeStop)
                return Tristate.False;
            if (m.Contiguous && packetTime <= m.DaytimeStop)
                stamp -= SecondsPerDay;
        }

        long dse = Math.DivRem(stamp, SecondsPerDay, out long r2) - (r2 < 0 ? 1 : 0); // localtime_2
        int weekday = (int)(((4 + dse - 1) % 7 + 7) % 7) + 1;
        if ((m.WeekDaysMask & (1 << weekday)) == 0)
            return Tristate.False;
        if (m.MonthDays != TimeMatch.AllMonthDays)
        {
            int monthday = DateTimeOffset.FromUnixTimeSeconds(stamp).Day; // localtime_3
            if ((m.MonthDays & (1u << monthday)) == 0)
                return Tristate.False;
        }
        return Tristate.True;
    }
}
