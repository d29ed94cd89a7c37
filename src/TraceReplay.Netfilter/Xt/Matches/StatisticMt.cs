using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m statistic` (net/netfilter/xt_statistic.c statistic_mt): random mode draws
/// (get_random_u32() &amp; 0x7FFFFFFF) &lt; probability from the seeded <see cref="XtNet.Random"/>; nth
/// mode counts per rule (the kernel's info->master->count), from --packet, matching when the
/// counter wraps to 0 past --every − 1.
/// </summary>
public sealed class StatisticMt(StatisticMatch m, XtCompileContext c) : XtMatchEvaluator<StatisticMatch>
{
    private readonly XtRandom _random = c.Net.Random;
    private uint _count = m.Packet;

    public StatisticMatch Module { get; } = m;

    public override bool HasState => true;
    public override bool DependsOnClockOrRandom => !Module.IsNth;

    public override Tristate Match(ref XtActionParam p)
    {
        bool ret = Module.Invert;
        if (!Module.IsNth)
        {
            if ((_random.NextU32() & 0x7FFFFFFF) < Module.Probability)
                ret = !ret;
        }
        else
        {
            _count = _count == Module.Every ? 0 : _count + 1;
            if (_count == 0)
                ret = !ret;
        }
        return ret ? Tristate.True : Tristate.False;
    }
}
