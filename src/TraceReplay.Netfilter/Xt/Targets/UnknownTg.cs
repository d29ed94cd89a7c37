using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Targets;

/// <summary>
/// A target the simulator does not carry out (an unknown module, or one without an evaluator yet).
/// A non-terminating one (TCPMSS, SECMARK, …) lets traversal go on, its side effect unsimulated; a
/// terminating one ends it with <see cref="XtVerdict.Unknown"/>. Either way the verdict is marked.
/// </summary>
public sealed class UnknownTg(XtTarget target) : XtTargetEvaluator
{
    public XtTarget Module { get; } = target;

    public override bool IsUnknown => true;

    public override XtVerdict Target(ref XtActionParam p) => Module.IsTerminating ? XtVerdict.Unknown : XtVerdict.Continue;
}
