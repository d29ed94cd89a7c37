using System.Globalization;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m time` (extensions/libxt_time.c; kernel xt_time.c time_mt): packet arrival time within a date
/// range (seconds since the epoch, UTC), a daytime window (seconds since midnight), month days and
/// week days (bit n for day n, Monday = 1), in UTC unless --kerneltz.
/// </summary>
[XtMatch("time")]
public sealed class TimeMatch : XtMatch
{
    public const uint AllMonthDays = 0xFFFFFFFE, AllWeekDays = 0xFE, MaxDaytime = (24 * 60 * 60) - 1;
    private static readonly string[] WeekDays = ["", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    private XtOptionSet _seen;

    public uint DateStart { get; private set; }

    /// <summary>INT_MAX by default (time_init), which iptables-save prints as 2038-01-19T03:14:07 on 64-bit hosts.</summary>
    public uint DateStop { get; private set; } = int.MaxValue;
    public uint DaytimeStart { get; private set; }
    public uint DaytimeStop { get; private set; } = MaxDaytime;
    public uint MonthDays { get; private set; } = AllMonthDays;
    public byte WeekDaysMask { get; private set; } = (byte)AllWeekDays;
    public bool KernelTimeZone { get; private set; }
    public bool Contiguous { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--datestart":
                _seen.TakeNoInvert(o, 1u << 0);
                DateStart = ParseDate(o, o.Arg("YYYY[-MM[-DD[Thh[:mm[:ss]]]]]"));
                return true;
            case "--datestop":
                _seen.TakeNoInvert(o, 1u << 1);
                DateStop = ParseDate(o, o.Arg("YYYY[-MM[-DD[Thh[:mm[:ss]]]]]"));
                return true;
            case "--timestart":
                _seen.TakeNoInvert(o, 1u << 2);
                DaytimeStart = ParseDaytime(o, o.Arg("hh:mm[:ss]"));
                return true;
            case "--timestop":
                _seen.TakeNoInvert(o, 1u << 3);
                DaytimeStop = ParseDaytime(o, o.Arg("hh:mm[:ss]"));
                return true;
            case "--monthdays":
            {
                _seen.Take(o, 1u << 4);
                uint days = 0;
                string text = o.Arg("day numbers 1-31 separated by commas");
                foreach (var part in text.Split(','))
                {
                    if (!XtValues.TryParseUInt(part, out ulong d) || d > 31)
                        throw o.Fail("not a valid day for --monthdays", part, "1-31");
                    days |= 1u << (int)d;
                }
                MonthDays = o.Invert ? days ^ AllMonthDays : days;
                return true;
            }
            case "--weekdays":
            {
                _seen.Take(o, 1u << 5);
                uint days = 0;
                string text = o.Arg("Mon, Tue, … or 1-7 separated by commas");
                foreach (var part in text.Split(','))
                {
                    if (XtValues.TryParseUInt(part, out ulong d))
                    {
                        if (d is 0 or > 7)
                            throw o.Fail("not a valid week day (the week begins with Monday = 1)", part, "1-7");
                        days |= 1u << (int)d;
                        continue;
                    }
                    int k = part.Length >= 2 ? Array.FindIndex(WeekDays, 1, 7, n => n.StartsWith(part[..2], StringComparison.Ordinal)) : -1;
                    if (k < 0)
                        throw o.Fail("not a valid day specifier", part, "Mon, Tue, Wed, Thu, Fri, Sat, Sun or 1-7");
                    days |= 1u << k;
                }
                WeekDaysMask = (byte)(o.Invert ? days ^ AllWeekDays : days);
                return true;
            }
            case "--kerneltz":
            case "--localtz":
                _seen.TakeNoInvert(o, 1u << 6);
                KernelTimeZone = true;
                return true;
            case "--utc":
                _seen.TakeNoInvert(o, 1u << 7);
                return true;
            case "--contiguous":
                _seen.TakeNoInvert(o, 1u << 8);
                Contiguous = true;
                return true;
            default:
                return false;
        }
    }

    /// <summary>time_parse_date: YYYY[-MM[-DD[Thh[:mm[:ss]]]]], years 1970-2038, taken as UTC.</summary>
    private static uint ParseDate(XtOption o, string text)
    {
        int[] v = [0, 1, 1, 0, 0, 0];
        int[] max = [2038, 12, 31, 23, 59, 59];
        char[] seps = ['-', '-', 'T', ':', ':'];
        int pos = 0;
        for (int k = 0; k < 6; k++)
        {
            int start = pos;
            while (pos < text.Length && char.IsAsciiDigit(text[pos]))
                pos++;
            int n = pos > start && int.TryParse(text.AsSpan(start, pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out int x) ? x : 0;
            bool atEnd = pos == text.Length;
            if ((!atEnd && (k == 5 || text[pos] != seps[k])) || n > max[k] || (k == 0 && n < 1970))
                throw o.Fail("invalid date", text, "YYYY[-MM[-DD[Thh[:mm[:ss]]]]] between 1970 and 2038");
            v[k] = n;
            if (atEnd)
                break;
            pos++;
        }
        // mktime normalises out-of-range days (Feb 31 → Mar 3) as DateTime does not: add the parts.
        var t = new DateTime(v[0], 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(Math.Max(v[1], 1) - 1).AddDays(v[2] - 1).AddHours(v[3]).AddMinutes(v[4]).AddSeconds(v[5]);
        long secs = (long)(t - DateTime.UnixEpoch).TotalSeconds;
        if (secs < 0 || secs > uint.MaxValue)
            throw o.Fail("date out of range", text, "a date between 1970 and 2106");
        return (uint)secs;
    }

    /// <summary>time_parse_minutes: hh:mm[:ss].</summary>
    private static uint ParseDaytime(XtOption o, string text)
    {
        string[] p = text.Split(':');
        if (p.Length is < 2 or > 3 || !uint.TryParse(p[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint h) || h > 23
            || !uint.TryParse(p[1], NumberStyles.None, CultureInfo.InvariantCulture, out uint m) || m > 59)
            throw o.Fail("invalid time", text, "hh:mm[:ss] within a day");
        uint s = 0;
        if (p.Length == 3 && (!uint.TryParse(p[2], NumberStyles.None, CultureInfo.InvariantCulture, out s) || s > 59))
            throw o.Fail("invalid time", text, "hh:mm[:ss] within a day");
        return (h * 3600) + (m * 60) + s;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (Contiguous && DaytimeStart < DaytimeStop)
            throw check.Fail("--contiguous only makes sense when stoptime is smaller than starttime", "--timestart after --timestop");
    }

    /// <summary>time_save.</summary>
    public override void Save(SaveWriter w)
    {
        if (DaytimeStart != 0 || DaytimeStop != MaxDaytime)
            w.Opt("--timestart", Daytime(DaytimeStart)).Opt("--timestop", Daytime(DaytimeStop));
        if (MonthDays != AllMonthDays)
            w.Opt("--monthdays", string.Join(',', Enumerable.Range(1, 31).Where(i => (MonthDays & (1u << i)) != 0)));
        if (WeekDaysMask != AllWeekDays)
            w.Opt("--weekdays", string.Join(',', Enumerable.Range(1, 7).Where(i => (WeekDaysMask & (1 << i)) != 0).Select(i => WeekDays[i])));
        Date("--datestart", DateStart);
        Date("--datestop", DateStop);
        if (KernelTimeZone)
            w.Opt("--kerneltz");
        if (Contiguous)
            w.Opt("--contiguous");

        // time_print_date skips 0 and LONG_MAX; the default stop (INT_MAX) is not LONG_MAX, so it prints.
        void Date(string name, uint date)
        {
            if (date != 0)
                w.Opt(name, DateTime.UnixEpoch.AddSeconds(date).ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture));
        }
    }

    private static string Daytime(uint t) => $"{t / 3600:00}:{t / 60 % 60:00}:{t % 60:00}";
}
