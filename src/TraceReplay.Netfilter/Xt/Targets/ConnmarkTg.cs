using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Targets;

/// <summary>
/// `-j CONNMARK` (net/netfilter/xt_connmark.c connmark_tg_shift): --set-xmark on ct->mark,
/// --save-mark (skb → ct) and --restore-mark (ct → skb) under nfmask/ctmask with the optional shift.
/// Nothing happens without a conntrack entry. Continue.
/// </summary>
public sealed class ConnmarkTg(ConnmarkTarget t, XtCompileContext c) : XtTargetEvaluator<ConnmarkTarget>
{
    public ConnmarkTarget Module { get; } = t;
    public XtCompileContext Context { get; } = c;

    private uint Shift(uint v) => Module.ShiftBits >= 32 ? 0 : Module.ShiftRight ? v >> Module.ShiftBits : v << Module.ShiftBits;

    public override XtVerdict Target(ref XtActionParam p)
    {
        if (!p.Ct.HasEntry)
            return XtVerdict.Continue;
        var t = Module;
        uint ctmark = p.Ct.Mark;
        uint newmark;
        switch (t.Mode)
        {
            case ConnmarkMode.Set:
                newmark = Shift((ctmark & ~t.CtMask) ^ t.CtMark);
                SetCtMark(ref p, newmark);
                break;
            case ConnmarkMode.Save:
                newmark = (ctmark & ~t.CtMask) ^ Shift(p.Mark & t.NfMask);
                SetCtMark(ref p, newmark);
                break;
            default:
                p.Mark = (p.Mark & ~t.NfMask) ^ Shift(ctmark & t.CtMask);
                break;
        }
        return XtVerdict.Continue;
    }

    private static void SetCtMark(ref XtActionParam p, uint mark)
    {
        if (p.Ct.Mark != mark)
        {
            p.Ct.Mark = mark;
            p.CtMarkChanged = true;
        }
    }
}
