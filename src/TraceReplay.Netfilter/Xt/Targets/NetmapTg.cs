using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Targets;

/// <summary>
/// `-j NETMAP` (net/netfilter/xt_NETMAP.c netmap_tg4): a NAT request; the manip type follows the
/// hook as in the kernel (destination at PREROUTING/OUTPUT, source at POSTROUTING/INPUT). The hook
/// layer maps the address (NfNatTargets.Netmap) and calls the NAT core.
/// </summary>
public sealed class NetmapTg(NetmapTarget t, XtCompileContext c) : XtTargetEvaluator<NetmapTarget>
{
    public NetmapTarget Module { get; } = t;
    public XtCompileContext Context { get; } = c;

    public override XtVerdict Target(ref XtActionParam p)
    {
        var manip = p.Hook is NfInetHook.PreRouting or NfInetHook.LocalOut ? NfNatManipType.Dst : NfNatManipType.Src;
        p.Nat = new XtNatRequest(XtNatKind.Netmap, manip, Module.Range, p.Entry);
        return XtVerdict.Accept;
    }
}
