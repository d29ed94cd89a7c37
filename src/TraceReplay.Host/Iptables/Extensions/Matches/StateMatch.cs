namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m state --state LIST` (extensions/libxt_state.c; kernel xt_state.c): the connection state of
/// the packet, INVALID, NEW, RELATED, ESTABLISHED or UNTRACKED (no SNAT/DNAT, which only conntrack knows).
/// </summary>
[XtMatch("state")]
public sealed class StateMatch : XtMatch
{
    /// <summary>The states that match, in <see cref="CtState"/> bits (state_mt maps them the same way).</summary>
    public CtState States { get; private set; }
    public bool Invert { get; private set; }
    private XtOptionSet _given;

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--state")
            return false;
        _given.Take(o, 1);
        States = ConntrackMatch.ParseStates(o, o.Arg("a comma-separated list of INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED"), 5);
        Invert = o.Invert;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_given.None)
            throw check.Fail("needs --state", "--state STATE[,STATE...]");
    }

    public override void Save(SaveWriter w) => w.Opt("--state", ConntrackMatch.StateText(States), Invert);
}
