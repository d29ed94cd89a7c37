namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>What a hashlimit bucket is keyed by, and its flags (XT_HASHLIMIT_* of xt_hashlimit.h).</summary>
[Flags]
public enum HashlimitMode : uint
{
    None = 0,
    DestinationIp = 1 << 0,
    DestinationPort = 1 << 1,
    SourceIp = 1 << 2,
    SourcePort = 1 << 3,

    /// <summary>--hashlimit-above: match when over the rate.</summary>
    Invert = 1 << 4,

    /// <summary>The rate is in bytes per second, not packets.</summary>
    Bytes = 1 << 5,
    RateMatch = 1 << 6,
}

/// <summary>
/// `-m hashlimit` (extensions/libxt_hashlimit.c revision 3; kernel xt_hashlimit.c): a token bucket per
/// key (address/port tuple), named for /proc/net/ipt_hashlimit/NAME. Values are held as the kernel's
/// struct hashlimit_cfg3 holds them: avg in 1/1000000 s per packet (XT_HASHLIMIT_SCALE_v2) or, in byte
/// mode, as a cost; expire and gcinterval in milliseconds.
/// </summary>
[XtMatch("hashlimit")]
public sealed class HashlimitMatch : XtMatch
{
    public const ulong Scale = 1000000;
    private const int ByteShift = 4; // XT_HASHLIMIT_BYTE_SHIFT
    private const int OUpto = 0, OAbove = 1, OMode = 3, OSrcMask = 4, ODstMask = 5, OName = 6, OBurst = 7, OSize = 8, OMax = 9, OGc = 10, OExpire = 11, ORateMatch = 12, OInterval = 13;
    private XtOptionSet _seen;
    private uint _mult = 1;
    private byte? _srcMask, _dstMask;

    public HashlimitMode Mode { get; private set; }
    public ulong Average { get; private set; }
    public ulong Burst { get; private set; } = 5;
    public string TableName { get; private set; } = string.Empty;
    public uint Size { get; private set; }
    public uint Max { get; private set; }
    public uint GcInterval { get; private set; } = 1000;
    public uint Expire { get; private set; }
    public byte SourceMask { get; private set; }
    public byte DestinationMask { get; private set; }
    public uint Interval { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--hashlimit-upto":
            case "--hashlimit":
                _seen.Take(o, 1u << OUpto, excl: 1u << OAbove);
                if (o.Invert)
                    Mode |= HashlimitMode.Invert;
                ParseAvg(o);
                return true;
            case "--hashlimit-above":
                _seen.Take(o, 1u << OAbove, excl: 1u << OUpto);
                if (!o.Invert)
                    Mode |= HashlimitMode.Invert;
                ParseAvg(o);
                return true;
            case "--hashlimit-mode":
            {
                _seen.TakeNoInvert(o, 1u << OMode);
                string text = o.Arg("srcip, srcport, dstip, dstport separated by commas");
                foreach (var part in text.Split(',', '|'))
                {
                    Mode |= part switch
                    {
                        "dstip" => HashlimitMode.DestinationIp,
                        "srcip" => HashlimitMode.SourceIp,
                        "srcport" => HashlimitMode.SourcePort,
                        "dstport" => HashlimitMode.DestinationPort,
                        "" => HashlimitMode.None,
                        _ => throw o.Fail("bad mode", part, "srcip, srcport, dstip or dstport"),
                    };
                }
                return true;
            }
            case "--hashlimit-srcmask":
                _seen.TakeNoInvert(o, 1u << OSrcMask);
                _srcMask = o.PrefixLength(o.Arg("a prefix length"));
                return true;
            case "--hashlimit-dstmask":
                _seen.TakeNoInvert(o, 1u << ODstMask);
                _dstMask = o.PrefixLength(o.Arg("a prefix length"));
                return true;
            case "--hashlimit-name":
            {
                _seen.TakeNoInvert(o, 1u << OName);
                string name = o.Arg("a table name");
                if (name.Length is 0 or > 15)
                    throw o.Fail("bad name length", name, "1 to 15 characters");
                TableName = name;
                return true;
            }
            case "--hashlimit-burst":
            {
                _seen.TakeNoInvert(o, 1u << OBurst);
                Burst = ParseBurst(o, o.Arg("a burst, packets or bytes with k/m"));
                return true;
            }
            case "--hashlimit-htable-size":
                Num(o, OSize, v => Size = v);
                return true;
            case "--hashlimit-htable-max":
                Num(o, OMax, v => Max = v);
                return true;
            case "--hashlimit-htable-gcinterval":
                Num(o, OGc, v => GcInterval = v);
                return true;
            case "--hashlimit-htable-expire":
                Num(o, OExpire, v => Expire = v);
                return true;
            case "--hashlimit-rate-match":
                _seen.TakeNoInvert(o, 1u << ORateMatch);
                Mode |= HashlimitMode.RateMatch;
                return true;
            case "--hashlimit-rate-interval":
            {
                _seen.TakeNoInvert(o, 1u << OInterval);
                string text = o.Arg("an interval in seconds");
                long r = (long)Math.Min(XtValues.Atoull(text), int.MaxValue);
                if (r <= 0)
                    throw o.Fail("bad interval", text, "a number of seconds above 0");
                Interval = (uint)r;
                return true;
            }
            default:
                return false;
        }
    }

    private void Num(XtOption o, int id, Action<uint> set)
    {
        _seen.TakeNoInvert(o, 1u << id);
        set(o.UInt32(o.Arg("a number")));
    }

    /// <summary>parse_bytes (`N[k|m]b/s`) or parse_rate.</summary>
    private void ParseAvg(XtOption o)
    {
        string text = o.Arg("RATE[/sec|/min|/hour|/day] or BYTES[k|m]b/s");
        int b = text.IndexOf("b/s", StringComparison.Ordinal);
        if (b > 0 && XtValues.Atoull(text) is var r and not 0)
        {
            ulong factor = text[b - 1] switch { 'm' => 1024 * 1024, 'k' => 1024, _ => 1 };
            ulong bytes = r * factor;
            ulong cost = BytesToCost(bytes);
            if (cost == 0)
                throw o.Fail("rate too high", text, "a lower byte rate");
            Average = cost;
            _mult = 15; // XT_HASHLIMIT_BYTE_EXPIRE
            Mode |= HashlimitMode.Bytes;
            return;
        }
        if (!LimitMatch.TryParseRate(text, Scale, out ulong period, out uint mult))
            throw o.Fail("bad rate", text, "a rate such as 10/sec or 4kb/s");
        if (period == 0)
            throw o.Fail("rate too fast", text, "a slower rate");
        Average = period;
        _mult = mult;
    }

    /// <summary>parse_burst (revision 2+): a number, optionally followed by k or m (bytes).</summary>
    private static ulong ParseBurst(XtOption o, string text)
    {
        int end = 0;
        while (end < text.Length && char.IsAsciiDigit(text[end]))
            end++;
        if (!XtValues.TryParseUInt(text[..end], out ulong v) || v < 1 || (end == text.Length && v > 1000000))
            throw o.Fail("bad burst or out of range", text, "1-1000000, or a byte size such as 400kb");
        ulong factor = end < text.Length ? text[end] switch { 'm' => 1024UL * 1024, 'k' => 1024UL, _ => 1UL } : 1UL;
        return v * factor;
    }

    private static ulong CostToBytes(ulong cost) => ((cost != 0 ? uint.MaxValue / cost : uint.MaxValue) - 1) << ByteShift;

    private static ulong BytesToCost(ulong bytes) => uint.MaxValue / ((uint)(bytes >> ByteShift) + 1UL);

    /// <summary>hashlimit_mt_check (userspace) and the kernel's hashlimit_mt_check_common.</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_seen.Has((1u << OUpto) | (1u << OAbove)))
            throw check.Fail("you have to specify --hashlimit-upto or --hashlimit-above", "--hashlimit-upto RATE");
        if (!_seen.Has(1u << OName))
            throw check.Fail("--hashlimit-name is required", "--hashlimit-name NAME");
        if (!_seen.Has(1u << OExpire))
            Expire = _mult * 1000;
        if ((Mode & HashlimitMode.Bytes) != 0)
        {
            ulong burst = 0;
            if (_seen.Has(1u << OBurst))
            {
                ulong unit = CostToBytes(Average);
                if (Burst < unit)
                    throw check.Fail($"burst cannot be smaller than {unit}b", $"--hashlimit-burst of at least {unit}b");
                burst = Burst / unit + (Burst % unit != 0 ? 1UL : 0);
                if (!_seen.Has(1u << OExpire))
                    Expire = 60 * 1000; // XT_HASHLIMIT_BYTE_EXPIRE_BURST
            }
            Burst = burst;
        }
        else if (Burst > 1000000)
        {
            throw check.Fail("--hashlimit-burst out of range", "1-1000000");
        }
        if ((Mode & HashlimitMode.RateMatch) != 0)
        {
            if ((Mode & HashlimitMode.Bytes) == 0)
                Average /= _mult;
            if (Interval == 0)
                Interval = (Mode & HashlimitMode.Bytes) != 0 ? 1 : _mult;
        }
        byte full = (byte)(rule.Family == IptFamily.IPv6 ? 128 : 32);
        SourceMask = _srcMask ?? full;
        DestinationMask = _dstMask ?? full;
        if (GcInterval == 0 || Expire == 0)
            throw check.Fail("the kernel refuses a zero gcinterval or expire", "--hashlimit-htable-gcinterval/--hashlimit-htable-expire above 0");
    }

    /// <summary>hashlimit_mt_save (revision 3).</summary>
    public override void Save(SaveWriter w)
    {
        w.Opt((Mode & HashlimitMode.Invert) != 0 ? "--hashlimit-above" : "--hashlimit-upto");
        ulong quantum;
        if ((Mode & HashlimitMode.Bytes) != 0)
        {
            quantum = SaveBytes(w);
        }
        else
        {
            w.Raw(" ").Raw(LimitMatch.FormatRate(Average, Scale, out ulong unit));
            quantum = unit / Scale * 1000;
            w.Opt("--hashlimit-burst", Burst);
        }
        const HashlimitMode keys = HashlimitMode.SourceIp | HashlimitMode.SourcePort | HashlimitMode.DestinationIp | HashlimitMode.DestinationPort;
        if ((Mode & keys) != 0)
        {
            var names = new List<string>();
            if ((Mode & HashlimitMode.SourceIp) != 0)
                names.Add("srcip");
            if ((Mode & HashlimitMode.SourcePort) != 0)
                names.Add("srcport");
            if ((Mode & HashlimitMode.DestinationIp) != 0)
                names.Add("dstip");
            if ((Mode & HashlimitMode.DestinationPort) != 0)
                names.Add("dstport");
            w.Opt("--hashlimit-mode", string.Join(',', names));
        }
        w.Opt("--hashlimit-name", TableName);
        if (Size != 0)
            w.Opt("--hashlimit-htable-size", Size);
        if (Max != 0)
            w.Opt("--hashlimit-htable-max", Max);
        if (GcInterval != 1000)
            w.Opt("--hashlimit-htable-gcinterval", GcInterval);
        if (Expire != quantum)
            w.Opt("--hashlimit-htable-expire", Expire);
        byte full = (byte)(w.Family == IptFamily.IPv6 ? 128 : 32);
        if (SourceMask != full)
            w.Opt("--hashlimit-srcmask", SourceMask);
        if (DestinationMask != full)
            w.Opt("--hashlimit-dstmask", DestinationMask);
        if ((Mode & HashlimitMode.RateMatch) != 0)
        {
            w.Opt("--hashlimit-rate-match");
            if (Interval != 1)
                w.Opt("--hashlimit-rate-interval", Interval);
        }
    }

    /// <summary>print_bytes: the byte rate in the largest unit that round-trips, then the burst in bytes.</summary>
    private ulong SaveBytes(SaveWriter w)
    {
        (string Name, ulong Thresh)[] units = [("m", 1024 * 1024), ("k", 1024), ("", 1)];
        ulong r = CostToBytes(Average);
        int i;
        for (i = 0; i < units.Length - 1; i++)
        {
            if (r >= units[i].Thresh && BytesToCost(r & ~(units[i].Thresh - 1)) == Average)
                break;
        }
        w.Raw(" ").Raw(XtValues.Dec(r / units[i].Thresh) + units[i].Name + "b/s");
        if (Burst == 0)
            return 15 * 1000;
        r *= Burst;
        for (i = 0; i < units.Length - 1; i++)
        {
            if (r >= units[i].Thresh)
                break;
        }
        w.Opt("--hashlimit-burst", XtValues.Dec(r / units[i].Thresh) + units[i].Name + "b");
        return 60 * 1000;
    }
}
