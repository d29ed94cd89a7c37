using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m limit` (net/netfilter/xt_limit.c limit_mt): a token bucket per rule on the jiffies clock,
/// with the kernel's integer arithmetic — credits are u32, CREDITS_PER_JIFFY the power of two
/// below 0xFFFFFFFF / (HZ·86400), user2credits scaling avg by HZ·CREDITS_PER_JIFFY / XT_LIMIT_SCALE.
/// The bucket starts full (limit_mt_check) at the first packet's time. The capture clock stands
/// in for jiffies, so the verdict is marked as clock-dependent.
/// </summary>
public sealed class LimitMt : XtMatchEvaluator<LimitMatch>
{
    private readonly XtNet _net;
    private bool _started;
    private long _prev;
    private uint _credit;

    public LimitMt(LimitMatch m, XtCompileContext c)
    {
        Module = m;
        _net = c.Net;
        CreditsPerJiffy = CreditsPerJiffyFor(_net.Hz);
        CreditCap = User2Credits((ulong)m.Average * m.Burst);
        Cost = User2Credits(m.Average);
    }

    public LimitMatch Module { get; }

    /// <summary>CREDITS_PER_JIFFY for this HZ.</summary>
    public uint CreditsPerJiffy { get; }

    /// <summary>r->credit_cap = user2credits(avg * burst).</summary>
    public uint CreditCap { get; }

    /// <summary>r->cost = user2credits(avg).</summary>
    public uint Cost { get; }

    /// <summary>priv->credit now.</summary>
    public uint Credit => _credit;

    public override bool HasState => true;
    public override bool DependsOnClockOrRandom => true;

    /// <summary>POW2_BELOW32(0xFFFFFFFF / (HZ*60*60*24)).</summary>
    public static uint CreditsPerJiffyFor(int hz)
    {
        uint maxCpj = 0xFFFFFFFFu / (uint)(hz * 60 * 60 * 24);
        return maxCpj == 0 ? 0 : 1u << (31 - System.Numerics.BitOperations.LeadingZeroCount(maxCpj));
    }

    /// <summary>user2credits: divide first when multiplying would overflow 32 bits (the avg·burst product is truncated to u32 as the kernel's is).</summary>
    private uint User2Credits(ulong user)
    {
        uint u = (uint)user;
        uint hzCpj = (uint)_net.Hz * CreditsPerJiffy;
        if (u > 0xFFFFFFFFu / hzCpj)
            return (uint)(u / (uint)LimitMatch.Scale * hzCpj);
        return (uint)(u * hzCpj / (uint)LimitMatch.Scale);
    }

    public override Tristate Match(ref XtActionParam p)
    {
        long now = _net.Jiffies(p.TimeNs);
        if (!_started)
        {
            _started = true;
            _prev = now;
            _credit = CreditCap;
        }

        // priv->credit is u32: the sum wraps as the kernel's does after a long idle.
        _credit = unchecked(_credit + (uint)((ulong)(now - _prev) * CreditsPerJiffy));
        _prev = now;
        if (_credit > CreditCap)
            _credit = CreditCap;
        if (_credit >= Cost)
        {
            _credit -= Cost;
            return Tristate.True;
        }
        return Tristate.False;
    }
}
