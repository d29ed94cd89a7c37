using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;
using HostCtState = TraceReplay.Host.Iptables.Extensions.Matches.CtState;
using NfCtState = TraceReplay.Netfilter.Conntrack.CtState;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>`-m state --state` (net/netfilter/xt_state.c state_mt): the ctinfo's state bit (XT_STATE_BIT) against the mask.</summary>
public sealed class StateMt(StateMatch m, XtCompileContext c) : XtMatchEvaluator<StateMatch>
{
    public StateMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        bool hit = (StateBit(p.Ct.State) & Module.States) != 0;
        return hit != Module.Invert ? Tristate.True : Tristate.False;
    }

    /// <summary>XT_STATE_BIT(ctinfo) for a tracked packet (reply direction folded in, as ctinfo % IP_CT_IS_REPLY), else UNTRACKED or INVALID.</summary>
    internal static HostCtState StateBit(NfCtState s) => s switch
    {
        NfCtState.New => HostCtState.New,
        NfCtState.Established => HostCtState.Established,
        NfCtState.Related => HostCtState.Related,
        NfCtState.Untracked => HostCtState.Untracked,
        _ => HostCtState.Invalid,
    };
}
