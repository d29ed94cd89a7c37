using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Targets;

/// <summary>
/// `-j MASQUERADE` (net/netfilter/xt_MASQUERADE.c masquerade_tg): a NAT request with the rule's range, carried out by the hook layer through
/// the NAT core (nf_nat_setup_info); the table's verdict is ACCEPT, which the NAT core may turn into a drop.
/// </summary>
public sealed class MasqueradeTg(MasqueradeTarget t, XtCompileContext c) : XtTargetEvaluator<MasqueradeTarget>
{
    public MasqueradeTarget Module { get; } = t;
    public XtCompileContext Context { get; } = c;

    public override XtVerdict Target(ref XtActionParam p)
    {
        p.Nat = new XtNatRequest(XtNatKind.Masquerade, NfNatManipType.Src, Module.Range, p.Entry);
        return XtVerdict.Accept;
    }
}
