using System.Reflection;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Netfilter.Xt.Matches;
using TraceReplay.Netfilter.Xt.Targets;

namespace TraceReplay.Netfilter.Xt;

/// <summary>
/// Finds the evaluator for a rule's match or target by the Host option type, as x_tables finds a
/// module by name (xt_find_match / xt_find_target): every non-abstract subclass of
/// <see cref="XtMatchEvaluator{TMatch}"/> / <see cref="XtTargetEvaluator{TTarget}"/> in this assembly is
/// registered at startup, so adding a module is adding one file. A module without an evaluator,
/// or one the Host marks offline-unknowable, gets the unknown evaluator.
/// </summary>
public static class XtEvaluatorRegistry
{
    private static readonly Dictionary<Type, ConstructorInfo> Matches = [];
    private static readonly Dictionary<Type, ConstructorInfo> Targets = [];

    static XtEvaluatorRegistry()
    {
        foreach (var t in typeof(XtEvaluatorRegistry).Assembly.GetTypes())
        {
            if (t.IsAbstract || t.BaseType is not { IsGenericType: true } b)
                continue;
            var def = b.GetGenericTypeDefinition();
            if (def != typeof(XtMatchEvaluator<>) && def != typeof(XtTargetEvaluator<>))
                continue;
            var option = b.GetGenericArguments()[0];
            var ctor = t.GetConstructor([option, typeof(XtCompileContext)])
                ?? throw new InvalidOperationException($"{t.Name} needs a constructor ({option.Name}, {nameof(XtCompileContext)})");
            (def == typeof(XtMatchEvaluator<>) ? Matches : Targets).Add(option, ctor);
        }
    }

    /// <summary>The Host match types that have an evaluator.</summary>
    public static IReadOnlyCollection<Type> MatchTypes => Matches.Keys;

    /// <summary>The Host target types that have an evaluator.</summary>
    public static IReadOnlyCollection<Type> TargetTypes => Targets.Keys;

    public static XtMatchEvaluator CreateMatch(XtMatch match, XtCompileContext context)
    {
        if (match.IsOfflineUnknowable || !Matches.TryGetValue(match.GetType(), out var ctor))
            return new UnknownMt(match);
        return (XtMatchEvaluator)Invoke(ctor, match, context);
    }

    public static XtTargetEvaluator CreateTarget(XtTarget target, XtCompileContext context)
    {
        if (!Targets.TryGetValue(target.GetType(), out var ctor))
            return new UnknownTg(target);
        return (XtTargetEvaluator)Invoke(ctor, target, context);
    }

    private static object Invoke(ConstructorInfo ctor, object option, XtCompileContext context)
    {
        try
        {
            return ctor.Invoke([option, context]);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }
}
