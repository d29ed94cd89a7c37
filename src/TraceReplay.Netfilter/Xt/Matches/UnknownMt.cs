using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// A match the simulator cannot decide: a module this build does not know (UnknownMatch), one with
/// no evaluator yet, or one whose answer needs what a capture does not hold (owner, socket, cgroup:
/// XtMatch.IsOfflineUnknowable). Always unknown — never silently true or false.
/// </summary>
public sealed class UnknownMt(XtMatch match) : XtMatchEvaluator
{
    public XtMatch Module { get; } = match;

    public override Tristate Match(ref XtActionParam p) => Tristate.Unknown;
}
