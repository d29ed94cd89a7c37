using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt;

/// <summary>What a module's evaluator is built with: the rule's family, table and location, and the host-wide <see cref="XtNet"/>.</summary>
public sealed class XtCompileContext(XtNet net, IptFamily family, string table, string chain, IptRule rule)
{
    public XtNet Net { get; } = net;
    public IptFamily Family { get; } = family;
    public string Table { get; } = table;
    public string Chain { get; } = chain;
    public IptRule Rule { get; } = rule;
}

/// <summary>
/// A match module's run-time half (struct xt_match's .match): one instance per rule, created when
/// the table is compiled, holding what the kernel keeps in the rule's private data (limit buckets,
/// nth counters). Found by the Host option type it evaluates (<see cref="XtMatchEvaluator{TMatch}"/>).
/// </summary>
public abstract class XtMatchEvaluator
{
    public abstract Tristate Match(ref XtActionParam p);

    /// <summary>Whether evaluating changes state (limit tokens, recent lists, nth counters): such a match is not run speculatively past an unknown one.</summary>
    public virtual bool HasState => false;

    /// <summary>Whether the answer depends on the clock or on chance (the verdict says so).</summary>
    public virtual bool DependsOnClockOrRandom => false;
}

/// <summary>The evaluator of one Host match type; subclasses need a constructor (TMatch, XtCompileContext).</summary>
public abstract class XtMatchEvaluator<TMatch> : XtMatchEvaluator
    where TMatch : XtMatch
{
}

/// <summary>
/// A target module's run-time half (struct xt_target's .target): returns a verdict and may change
/// the packet's state on the <see cref="XtActionParam"/> (mark, ct mark, NAT/CT/REJECT requests).
/// </summary>
public abstract class XtTargetEvaluator
{
    public abstract XtVerdict Target(ref XtActionParam p);

    /// <summary>Whether the simulator carries the target out only partly (its side effect is not simulated): the verdict is marked as depending on unknowns.</summary>
    public virtual bool IsUnknown => false;
}

/// <summary>The evaluator of one Host target type; subclasses need a constructor (TTarget, XtCompileContext).</summary>
public abstract class XtTargetEvaluator<TTarget> : XtTargetEvaluator
    where TTarget : XtTarget
{
}
