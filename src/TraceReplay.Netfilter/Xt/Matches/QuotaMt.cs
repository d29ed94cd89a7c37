using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m quota --quota BYTES` (net/netfilter/xt_quota.c quota_mt): the rule's remaining byte budget
/// (what iptables-save printed) shrinks by skb->len per match; once a packet does not fit, the
/// budget is zeroed ("we do not allow even small packets from now on").
/// </summary>
public sealed class QuotaMt(QuotaMatch m, XtCompileContext c) : XtMatchEvaluator<QuotaMatch>
{
    private ulong _quota = m.Quota;

    public QuotaMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    /// <summary>The bytes left.</summary>
    public ulong Remaining => _quota;

    public override bool HasState => true;

    public override Tristate Match(ref XtActionParam p)
    {
        bool ret = Module.Invert;
        ulong len = (ulong)Math.Max(p.Packet.IpTotalLength, 0);
        if (_quota >= len)
        {
            _quota -= len;
            ret = !ret;
        }
        else
        {
            _quota = 0;
        }
        return ret ? Tristate.True : Tristate.False;
    }
}
