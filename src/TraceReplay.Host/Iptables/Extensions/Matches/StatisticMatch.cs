using System.Globalization;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m statistic` (extensions/libxt_statistic.c; kernel xt_statistic.c): `--mode random --probability P`
/// (P held as the kernel does, a 31-bit fraction lround(P * 2^31)) or `--mode nth --every N --packet P`
/// (N held as every-1, as the kernel's counter runs 0..every).
/// </summary>
[XtMatch("statistic")]
public sealed class StatisticMatch : XtMatch
{
    private const int OMode = 0, OProbability = 1, OEvery = 2, OPacket = 3;
    private XtOptionSet _seen;

    public bool IsNth { get; private set; }
    public bool Invert { get; private set; }

    /// <summary>xt_statistic_info.u.random.probability: P * 0x80000000, rounded.</summary>
    public uint Probability { get; private set; }

    /// <summary>u.nth.every: --every minus one.</summary>
    public uint Every { get; private set; }
    public uint Packet { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--mode":
            {
                _seen.TakeNoInvert(o, 1u << OMode);
                string m = o.Arg("random or nth");
                IsNth = m == "nth" || (m == "random" ? false : throw o.Fail("bad mode", m, "random or nth"));
                return true;
            }
            case "--probability":
            {
                _seen.Take(o, 1u << OProbability, excl: (1u << OEvery) | (1u << OPacket));
                string text = o.Arg("a probability from 0 to 1");
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double p) || !(p >= 0 && p <= 1))
                    throw o.Fail("not a number from 0 to 1", text, "a probability from 0 to 1, e.g. 0.25");
                Probability = (uint)Math.Round(0x80000000 * p, MidpointRounding.AwayFromZero);
                Invert |= o.Invert;
                return true;
            }
            case "--every":
                _seen.Take(o, 1u << OEvery, excl: 1u << OProbability);
                Every = o.UInt32(o.Arg("a packet count from 1"), 1) - 1;
                Invert |= o.Invert;
                return true;
            case "--packet":
                _seen.TakeNoInvert(o, 1u << OPacket, excl: 1u << OProbability);
                Packet = o.UInt32(o.Arg("an initial counter value"));
                return true;
            default:
                return false;
        }
    }

    /// <summary>statistic_check plus the options' .also (--every needs --packet and back).</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_seen.Has(1u << OMode))
            throw check.Fail("--mode is required", "--mode random|nth");
        if (!IsNth && !_seen.Has(1u << OProbability))
            throw check.Fail("--probability must be specified when using random mode", "--probability P");
        if (IsNth && _seen.Has(1u << OProbability))
            throw check.Fail("--probability only works in random mode", "--mode random");
        if (!IsNth && _seen.Has((1u << OEvery) | (1u << OPacket)))
            throw check.Fail("--every and --packet only work in nth mode", "--mode nth");
        if (IsNth && (_seen.Bits & ((1u << OEvery) | (1u << OPacket))) != ((1u << OEvery) | (1u << OPacket)))
            throw check.Fail("--every and --packet must both be specified when using nth mode", "--every N --packet P");
        if (Packet > Every)
            throw check.Fail("the --packet p must be 0 <= p <= n-1", "--packet below --every");
    }

    /// <summary>print_match with prefix "--": probability with 11 decimals, --packet always in nth mode.</summary>
    public override void Save(SaveWriter w)
    {
        if (!IsNth)
        {
            w.Opt("--mode", "random").Opt("--probability", (1.0 * Probability / 0x80000000).ToString("F11", CultureInfo.InvariantCulture), Invert);
            return;
        }
        w.Opt("--mode", "nth").Opt("--every", (ulong)Every + 1, Invert).Opt("--packet", Packet);
    }
}
