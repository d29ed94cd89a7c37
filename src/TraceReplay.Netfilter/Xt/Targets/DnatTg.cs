using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Targets;

/// <summary>
/// `-j DNAT` (net/netfilter/xt_nat.c xt_dnat_target_v2): a NAT request with the rule's range, carried out by the hook layer through
/// the NAT core (nf_nat_setup_info); the table's verdict is ACCEPT, which the NAT core may turn into a drop.
/// </summary>
public sealed class DnatTg(DnatTarget t, XtCompileContext c) : XtTargetEvaluator<DnatTarget>
{
    public DnatTarget Module { get; } = t;
    public XtCompileContext Context { get; } = c;

    public override XtVerdict Target(ref XtActionParam p)
    {
        p.Nat = new XtNatRequest(XtNatKind.Dnat, NfNatManipType.Dst, Module.Range, p.Entry);
        return XtVerdict.Accept;
    }
}
