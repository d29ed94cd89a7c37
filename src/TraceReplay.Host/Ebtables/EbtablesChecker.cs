using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Ebtables;

/// <summary>A rule set problem the kernel would refuse at load time, with the rule's location.</summary>
public sealed record EbtablesProblem(SourceLocation Location, string Message)
{
    public override string ToString() => $"{Location}: {Message}";
}

/// <summary>
/// Load-time checks of a parsed rule set, as translate_table() / ebt_check_entry() and each target's
/// checkentry do them in net/bridge/netfilter/ebtables.c: jumps must name a chain of the same table,
/// chains must not loop, and each target and interface option only works on the hooks it serves.
/// A user chain is checked against every built-in chain that reaches it.
/// </summary>
public static class EbtablesChecker
{
    public static IReadOnlyList<EbtablesProblem> Check(EbtablesRuleset ruleset)
    {
        ArgumentNullException.ThrowIfNull(ruleset);
        var problems = new List<EbtablesProblem>();
        foreach (var table in ruleset.Tables)
            CheckTable(table, problems);
        return problems;
    }

    private static void CheckTable(EbtablesTable table, List<EbtablesProblem> problems)
    {
        // Which built-in chains (hooks) reach each chain, the kernel's hook mask of a user chain.
        var reach = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var c in table.Chains)
            reach[c.Name] = c.IsBuiltin ? [c.Name] : [];
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (var c in table.Chains)
            {
                foreach (var r in c.Rules)
                {
                    if (r.Target is EbtJumpTarget j && reach.TryGetValue(j.Chain, out var to))
                    {
                        foreach (var h in reach[c.Name])
                            changed |= to.Add(h);
                    }
                }
            }
        }

        foreach (var c in table.Chains)
        {
            if (c.IsBuiltin && c.Policy == EbtVerdict.Return)
                problems.Add(new(c.Location, $"built-in chain {c.Name} cannot have policy RETURN"));
            foreach (var r in c.Rules)
                CheckRule(table, c, r, reach[c.Name], problems);
        }
        CheckLoops(table, problems);
    }

    private static void CheckRule(EbtablesTable table, EbtablesChain chain, EbtablesRule r, HashSet<string> hooks, List<EbtablesProblem> problems)
    {
        string where = $"table {table.Name} chain {chain.Name}";
        if (r.Target is EbtJumpTarget j)
        {
            var to = table.Chain(j.Chain);
            if (to is null)
                problems.Add(new(r.Location, $"jump to missing chain '{j.Chain}' in table {table.Name}"));
            else if (to.IsBuiltin)
                problems.Add(new(r.Location, $"jump to built-in chain '{j.Chain}' ({where}); only user chains can be jumped to"));
        }
        if (chain.IsBuiltin && RuleVerdicts(r).Contains(EbtVerdict.Return))
            problems.Add(new(r.Location, $"RETURN in built-in chain {chain.Name} ({where}); RETURN only in user chains"));

        // ebt_{dnat,snat,redirect,arpreply}_tg_check: the table and hooks each target serves.
        var (allowed, rule) = r.Target switch
        {
            EbtDnatTarget => (table.Kind == EbtTableKind.Broute ? ["BROUTING"] : table.Kind == EbtTableKind.Nat ? new[] { "PREROUTING", "OUTPUT" } : [], "dnat only in nat PREROUTING/OUTPUT and broute BROUTING"),
            EbtSnatTarget => (table.Kind == EbtTableKind.Nat ? ["POSTROUTING"] : Array.Empty<string>(), "snat only in nat POSTROUTING"),
            EbtRedirectTarget => (table.Kind == EbtTableKind.Broute ? ["BROUTING"] : table.Kind == EbtTableKind.Nat ? new[] { "PREROUTING" } : [], "redirect only in nat PREROUTING and broute BROUTING"),
            EbtArpReplyTarget => (table.Kind == EbtTableKind.Nat ? ["PREROUTING"] : Array.Empty<string>(), "arpreply only in nat PREROUTING"),
            _ => ((string[]?)null, string.Empty),
        };
        if (allowed is not null)
        {
            if (allowed.Length == 0)
                problems.Add(new(r.Location, $"target {r.Target.Name} not allowed in table {table.Name}: {rule}"));
            else
            {
                foreach (var h in hooks)
                {
                    if (!allowed.Contains(h))
                        problems.Add(new(r.Location, $"target {r.Target.Name} reached from {h} ({where}): {rule}"));
                }
            }
        }

        // Interface options on hooks without that device (the parser checks built-in chains itself).
        if (!chain.IsBuiltin)
        {
            var e = r.Entry;
            foreach (var h in hooks)
            {
                if ((e.In.Length > 0 || e.LogicalIn.Length > 0) && !EbtablesTables.HasInDevice(h))
                    problems.Add(new(r.Location, $"-i/--logical-in in a chain reached from {h} ({where}), which has no input device"));
                if ((e.Out.Length > 0 || e.LogicalOut.Length > 0) && !EbtablesTables.HasOutDevice(h))
                    problems.Add(new(r.Location, $"-o/--logical-out in a chain reached from {h} ({where}), which has no output device"));
            }
        }
    }

    private static IEnumerable<EbtVerdict> RuleVerdicts(EbtablesRule r)
    {
        switch (r.Target)
        {
            case EbtStandardTarget s: yield return s.Verdict; break;
            case EbtRedirectTarget t: yield return t.Verdict; break;
            case EbtSnatTarget t: yield return t.Verdict; break;
            case EbtDnatTarget t: yield return t.Verdict; break;
            case EbtMarkTarget t: yield return t.Verdict; break;
            case EbtArpReplyTarget t: yield return t.Verdict; break;
        }
    }

    /// <summary>check_chainloops: a chain may not reach itself through jumps.</summary>
    private static void CheckLoops(EbtablesTable table, List<EbtablesProblem> problems)
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 0 unseen, 1 on stack, 2 done
        foreach (var c in table.Chains)
            Visit(c);

        void Visit(EbtablesChain c)
        {
            state[c.Name] = 1;
            foreach (var r in c.Rules)
            {
                if (r.Target is not EbtJumpTarget j || table.Chain(j.Chain) is not { } to)
                    continue;
                state.TryGetValue(to.Name, out int s);
                if (s == 1)
                    problems.Add(new(r.Location, $"jump from {c.Name} to {to.Name} closes a loop of chains in table {table.Name}"));
                else if (s == 0)
                    Visit(to);
            }
            state[c.Name] = 2;
        }
    }
}
