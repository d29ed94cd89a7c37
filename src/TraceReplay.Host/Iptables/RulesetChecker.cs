using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables;

/// <summary>A problem the kernel would refuse the rule set for at load time (or a reference that cannot be resolved).</summary>
public sealed record RuleProblem(SourceLocation Location, string Table, string Chain, string Message)
{
    public override string ToString() => $"{Location}: {Table}/{Chain}: {Message}";
}

/// <summary>
/// What `iptables-restore` would refuse when the kernel checks the table (translate_table,
/// mark_source_chains, check_entry, xt_check_match/xt_check_target in x_tables.c): jumps to missing
/// chains, loops in the chain graph, extensions used in a table or hook they do not allow, and
/// `-m set`/`-j SET` naming sets that do not exist.
/// </summary>
public static class RulesetChecker
{
    public static List<RuleProblem> Check(IptRuleset ruleset, Func<string, bool>? setExists = null)
    {
        ArgumentNullException.ThrowIfNull(ruleset);
        var problems = new List<RuleProblem>();
        foreach (var table in ruleset.Tables)
        {
            var hooks = ReachingHooks(table, problems);
            foreach (var chain in table.Chains)
            {
                var chainHooks = hooks.GetValueOrDefault(chain.Name) ?? [];
                foreach (var rule in chain.Rules)
                {
                    foreach (var ext in rule.Matches.Cast<XtExtension>().Append(rule.Target))
                        CheckExtension(ext, table, chain, rule, chainHooks, problems);
                    switch (rule.Target)
                    {
                        case JumpTarget j when table.Chain(j.Chain) is null:
                            problems.Add(new RuleProblem(rule.Location, table.Name, chain.Name, $"{(j.IsGoto ? "-g" : "-j")} {j.Chain}: no such chain in table {table.Name}"));
                            break;
                        case JumpTarget j when table.Chain(j.Chain) is { IsBuiltin: true }:
                            problems.Add(new RuleProblem(rule.Location, table.Name, chain.Name, $"-j {j.Chain}: cannot jump to a built-in chain"));
                            break;
                        case UnknownTarget u when u.Options.Count == 0:
                            problems.Add(new RuleProblem(rule.Location, table.Name, chain.Name, $"-j {u.Name}: no chain of that name in table {table.Name}, and not a target this build knows"));
                            break;
                    }
                    if (setExists is not null)
                    {
                        foreach (var ext in rule.Matches.Cast<XtExtension>().Append(rule.Target))
                        {
                            if (ext is IUsesIpsets sets)
                            {
                                foreach (var name in sets.SetNames.Where(n => !setExists(n)))
                                    problems.Add(new RuleProblem(ext.Location, table.Name, chain.Name, $"{ext.Name}: set '{name}' does not exist (ipset save has no such set)"));
                            }
                        }
                    }
                }
            }
        }
        return problems;
    }

    private static void CheckExtension(XtExtension ext, IptTable table, IptChain chain, IptRule rule, HashSet<string> chainHooks, List<RuleProblem> problems)
    {
        if (ext.LoadProblem is { } refused)
            problems.Add(new RuleProblem(ext.Location, table.Name, chain.Name, refused));
        if (ext.Tables is { } tables && !tables.Contains(table.Name))
        {
            problems.Add(new RuleProblem(ext.Location, table.Name, chain.Name, $"{ext.Name} may only be used in table {string.Join("/", tables)} (the kernel refuses it in {table.Name})"));
            return;
        }
        if (ext.Hooks is { } allowed)
        {
            var bad = chainHooks.Where(h => !allowed.Contains(h)).Order(StringComparer.Ordinal).ToList();
            if (bad.Count > 0)
            {
                string from = chain.IsBuiltin ? chain.Name : $"{chain.Name}, reached from {string.Join(", ", bad)}";
                problems.Add(new RuleProblem(ext.Location, table.Name, chain.Name, $"{ext.Name} is only valid in {string.Join(", ", allowed)} (used in {from})"));
            }
        }
        _ = rule;
    }

    /// <summary>
    /// For every chain, the built-in chains (hooks) it is reachable from, and loops reported — what
    /// mark_source_chains computes before check_entry looks at hook masks.
    /// </summary>
    private static Dictionary<string, HashSet<string>> ReachingHooks(IptTable table, List<RuleProblem> problems)
    {
        var result = table.Chains.ToDictionary(c => c.Name, _ => new HashSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);
        var reported = new HashSet<string>(StringComparer.Ordinal);
        foreach (var builtin in table.Chains.Where(c => c.IsBuiltin))
        {
            var path = new List<string>();
            var onPath = new HashSet<string>(StringComparer.Ordinal);
            Visit(builtin);

            void Visit(IptChain chain)
            {
                if (onPath.Contains(chain.Name))
                {
                    int start = path.IndexOf(chain.Name);
                    string loop = string.Join(" -> ", path.Skip(start).Append(chain.Name));
                    if (reported.Add(loop))
                        problems.Add(new RuleProblem(chain.Location, table.Name, chain.Name, $"loop in the chain graph: {loop} (the kernel refuses the table: ELOOP)"));
                    return;
                }
                if (!result[chain.Name].Add(builtin.Name) && !chain.IsBuiltin)
                    return;
                path.Add(chain.Name);
                onPath.Add(chain.Name);
                foreach (var r in chain.Rules)
                {
                    if (r.Target is JumpTarget j && table.Chain(j.Chain) is { IsBuiltin: false } next)
                        Visit(next);
                }
                path.RemoveAt(path.Count - 1);
                onPath.Remove(chain.Name);
            }
        }
        return result;
    }
}

/// <summary>An extension that names ipsets (`-m set`, `-j SET`), so the checker can look them up.</summary>
public interface IUsesIpsets
{
    IEnumerable<string> SetNames { get; }
}
