using System.Globalization;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>How a rate estimator is compared (enum xt_rateest_match_mode).</summary>
public enum RateestMode : byte
{
    None,
    Eq,
    Lt,
    Gt,
}

/// <summary>
/// `-m rateest` (extensions/libxt_rateest.c; kernel xt_rateest.c): compares the rate measured by an
/// estimator that a `-j RATEEST` rule feeds, either with a fixed rate (absolute, --rateest) or with a
/// second estimator (relative, --rateest1/--rateest2); with --rateest-delta the comparison is of the
/// rate minus the given one. Rates are bytes per second (bps) or packets per second (pps).
/// </summary>
[XtMatch("rateest")]
public sealed class RateestMatch : XtMatch
{
    private XtOptionSet _seen;
    private const int OName1 = 0, OName2 = 1, OBps1 = 2, OPps1 = 3, OBps2 = 4, OPps2 = 5, ODelta = 6, OMode = 7;

    public string Name1 { get; private set; } = string.Empty;
    public string? Name2 { get; private set; }
    public bool Delta { get; private set; }
    public bool Bps { get; private set; }
    public bool Pps { get; private set; }
    public RateestMode Mode { get; private set; }
    public bool Invert { get; private set; }

    /// <summary>Rates in bytes/s (bps) and packets/s (pps), as xt_rateest_match_info holds them.</summary>
    public uint Bps1 { get; private set; }
    public uint Pps1 { get; private set; }
    public uint Bps2 { get; private set; }
    public uint Pps2 { get; private set; }

    /// <summary>Relative mode: the second value comes from estimator <see cref="Name2"/>.</summary>
    public bool Relative => Name2 is not null;

    // rateest_get_rate's suffixes (from iproute2's tc), in bits per second per unit.
    private static readonly (string Name, double Scale)[] Suffixes =
    [
        ("bit", 1), ("kibit", 1024), ("kbit", 1000), ("mibit", 1024 * 1024), ("mbit", 1e6), ("gibit", 1024.0 * 1024 * 1024), ("gbit", 1e9),
        ("tibit", 1024.0 * 1024 * 1024 * 1024), ("tbit", 1e12), ("bps", 8), ("kibps", 8 * 1024), ("kbps", 8000), ("mibps", 8.0 * 1024 * 1024), ("mbps", 8e6),
        ("gibps", 8.0 * 1024 * 1024 * 1024), ("gbps", 8e9), ("tibps", 8.0 * 1024 * 1024 * 1024 * 1024), ("tbps", 8e12),
    ];

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--rateest1":
            case "--rateest":
                _seen.TakeNoInvert(o, 1u << OName1);
                Name1 = EstimatorName(o);
                return true;
            case "--rateest2":
                _seen.TakeNoInvert(o, 1u << OName2);
                Name2 = EstimatorName(o);
                return true;
            case "--rateest-bps1":
                _seen.TakeNoInvert(o, 1u << OBps1);
                Bps = true;
                if (o.OptionalArg() is { } b1)
                    Bps1 = Rate(o, b1);
                return true;
            case "--rateest-pps1":
                _seen.TakeNoInvert(o, 1u << OPps1);
                Pps = true;
                if (o.OptionalArg() is { } p1)
                    Pps1 = o.UInt32(p1);
                return true;
            case "--rateest-bps2":
            case "--rateest-bps":
                _seen.TakeNoInvert(o, 1u << OBps2);
                Bps = true;
                if (o.OptionalArg() is { } b2)
                    Bps2 = Rate(o, b2);
                return true;
            case "--rateest-pps2":
            case "--rateest-pps":
                _seen.TakeNoInvert(o, 1u << OPps2);
                Pps = true;
                if (o.OptionalArg() is { } p2)
                    Pps2 = o.UInt32(p2);
                return true;
            case "--rateest-delta":
                _seen.TakeNoInvert(o, 1u << ODelta);
                Delta = true;
                return true;
            case "--rateest-lt":
            case "--rateest-gt":
            case "--rateest-eq":
                _seen.Take(o, 1u << OMode); // the three share one id: one of them ("can't specify lt/gt/eq twice")
                Mode = o.Name[^2..] switch { "lt" => RateestMode.Lt, "gt" => RateestMode.Gt, _ => RateestMode.Eq };
                Invert = o.Invert;
                return true;
            default:
                return false;
        }
    }

    private static string EstimatorName(XtOption o)
    {
        string name = o.Arg("an estimator name");
        if (name.Length is 0 or > 15)
            throw o.Fail("bad estimator name length", name, "1 to 15 characters (IFNAMSIZ)");
        return name;
    }

    /// <summary>rateest_get_rate: a number with a tc rate suffix (bit, kbit, Bps, …); no suffix means bytes/s.</summary>
    private static uint Rate(XtOption o, string text)
    {
        int end = 0;
        while (end < text.Length && (char.IsAsciiDigit(text[end]) || text[end] is '.' or 'e' or 'E' or '+' or '-') && !(text[end] is 'e' or 'E' && end + 1 < text.Length && char.IsAsciiLetter(text[end + 1])))
            end++;
        if (end == 0 || !double.TryParse(text.AsSpan(0, end), NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
            throw o.Fail("could not parse rate", text, "a rate such as 8bit, 5kbit or 100Bps");
        string suffix = text[end..];
        double bitScale = 8; // no suffix: bytes per second
        if (suffix.Length > 0)
        {
            int k = Array.FindIndex(Suffixes, s => s.Name.Equals(suffix, StringComparison.OrdinalIgnoreCase));
            if (k < 0)
                throw o.Fail("unknown rate unit", text, "bit, kbit, mbit, gbit, Bps, KBps, … (tc units)");
            bitScale = Suffixes[k].Scale;
        }
        double bytes = v * bitScale / 8;
        if (!(bytes >= 0 && bytes <= uint.MaxValue))
            throw o.Fail("rate out of range", text, "at most 4294967295 bytes per second");
        return (uint)bytes;
    }

    /// <summary>xt_rateest_mt_checkentry: one name mode, bps or pps, and a comparison.</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (Name1.Length == 0)
            throw check.Fail("needs --rateest NAME (or --rateest1 NAME --rateest2 NAME)", "--rateest NAME");
        if (!Bps && !Pps)
            throw check.Fail("needs --rateest-bps or --rateest-pps", "--rateest-bps or --rateest-pps");
        if (Mode == RateestMode.None)
            throw check.Fail("needs --rateest-lt, --rateest-gt or --rateest-eq", "--rateest-lt, --rateest-gt or --rateest-eq");
    }

    /// <summary>rateest_save (iptables 1.8): delta, name, per kind the values around the comparison, then the second estimator.</summary>
    public override void Save(SaveWriter w)
    {
        if (Delta)
            w.Opt("--rateest-delta");
        w.Opt(Relative ? "--rateest1" : "--rateest", Name1);
        if (Bps)
        {
            if (Delta)
            {
                w.Opt("--rateest-bps1", RateText(Bps1));
                SaveMode(w);
                w.Opt("--rateest-bps2", RateText(Bps2));
            }
            else
            {
                SaveMode(w);
                w.Opt("--rateest-bps");
                if (!Relative)
                    w.Raw(" ").Raw(RateText(Bps2));
            }
        }
        if (Pps)
        {
            if (Delta)
            {
                w.Opt("--rateest-pps1", Pps1);
                SaveMode(w);
                w.Opt("--rateest-pps2", Pps2);
            }
            else
            {
                SaveMode(w);
                w.Opt("--rateest-pps");
                if (!Relative)
                    w.Raw(" ").Raw(XtValues.Dec(Pps2));
            }
        }
        if (Name2 is { } n2)
            w.Opt("--rateest2", n2);
    }

    private void SaveMode(SaveWriter w) =>
        w.Opt(Mode switch { RateestMode.Lt => "--rateest-lt", RateestMode.Gt => "--rateest-gt", _ => "--rateest-eq" }, Invert);

    /// <summary>rateest_print_rate: bits per second, in Mbit/Kbit above a million/billion.</summary>
    private static string RateText(uint bytesPerSecond)
    {
        double bits = bytesPerSecond * 8.0;
        return bits >= 1e9 ? (bits / 1e6).ToString("F0", CultureInfo.InvariantCulture) + "Mbit"
            : bits >= 1e6 ? (bits / 1e3).ToString("F0", CultureInfo.InvariantCulture) + "Kbit"
            : bits.ToString("F0", CultureInfo.InvariantCulture) + "bit";
    }
}
