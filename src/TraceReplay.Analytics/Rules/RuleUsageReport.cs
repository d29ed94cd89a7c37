using TraceReplay.Analytics.Run;
using TraceReplay.Host.Iptables;

namespace TraceReplay.Analytics.Rules;

/// <summary>One rule or policy of the run with its simulated counters and, where known, the trace's reach and the host's own counters.</summary>
public sealed record RuleUsage(
    int Id, string Family, string Table, string Chain, int Position, bool IsPolicy, string Text, long Packets, long Bytes, long Dropped,
    long? Reached, long? Matched, long? HostPackets, long? HostBytes)
{
    /// <summary>"filter:INPUT:rule:3" / "filter:INPUT:policy" (ip6tables prefixed "ip6:"), as the drops report names it.</summary>
    public string Name => (Family == "ipv6" ? "ip6:" : Family == "bridge" ? "eb:" : string.Empty) + $"{Table}:{Chain}:" + (IsPolicy ? "policy" : "rule:" + Position.ToString(System.Globalization.CultureInfo.InvariantCulture));
}

/// <summary>A rule no packet reached although packets entered its chain: everything was decided before it, by <see cref="Before"/>.</summary>
public sealed record ShadowedRule(RuleUsage Rule, long ChainPackets, IReadOnlyList<RuleUsage> Before);

/// <summary>The snapshot's own counters (iptables-save -c) set against the simulated ones.</summary>
public sealed record HostCounterComparison(string? Snapshot, string? Note, int Compared, int Equal, IReadOnlyList<RuleUsage> Differ);

public sealed record RuleUsageReport(
    string Run, IReadOnlyList<RuleUsage> Rules, IReadOnlyList<RuleUsage> NeverMatched, IReadOnlyList<RuleUsage>? ReachedNeverMatched,
    IReadOnlyList<ShadowedRule>? Shadowed, string? ShadowNote, IReadOnlyList<RuleUsage> Hottest, HostCounterComparison Host);

/// <summary>
/// `tracereplay rules usage`: which rules this traffic never matched, which it never even reached
/// because earlier rules decided every packet (needs rule_trace, written by `replay --trace`), the
/// hottest rules, and the simulated counters against the host's own (`iptables-save -c` in the
/// snapshot named by run_info).
/// </summary>
public static class RuleUsageReports
{
    public static RuleUsageReport Build(RunDatabase run, string? snapshotOverride = null, int top = 10)
    {
        ArgumentNullException.ThrowIfNull(run);
        bool traced = run.HasRows("rule_trace");
        string reach = traced ? "LEFT JOIN v_rule_reach t ON t.rule_id = u.id" : string.Empty;
        string cols = traced ? "coalesce(t.reached, 0), coalesce(t.matched, 0)" : "NULL, NULL";
        var rows = run.Rows($"""
            SELECT u.id, u.family::VARCHAR, u."table", u.chain, u.position, u.is_policy, u.text, u.packets, u.bytes, u.dropped, {cols}
            FROM v_rule_usage u {reach} ORDER BY u.id
            """);
        var rules = rows.Select(r => new RuleUsage(
            Convert.ToInt32(r[0], System.Globalization.CultureInfo.InvariantCulture), (string)r[1]!, (string)r[2]!, (string)r[3]!,
            Convert.ToInt32(r[4], System.Globalization.CultureInfo.InvariantCulture), (bool)r[5]!, (string)r[6]!, RunDatabase.ToLong(r[7]), RunDatabase.ToLong(r[8]), RunDatabase.ToLong(r[9]),
            r[10] is null ? null : RunDatabase.ToLong(r[10]), r[11] is null ? null : RunDatabase.ToLong(r[11]), null, null)).ToList();

        var host = CompareHost(run, rules, snapshotOverride);
        var never = rules.Where(r => !r.IsPolicy && r.Packets == 0).ToList();
        List<RuleUsage>? reachedNever = null;
        List<ShadowedRule>? shadowed = null;
        string? note = null;
        if (traced)
        {
            reachedNever = [.. never.Where(r => r.Reached > 0)];
            shadowed = [];
            foreach (var chain in rules.Where(r => !r.IsPolicy).GroupBy(r => (r.Family, r.Table, r.Chain)))
            {
                var list = chain.OrderBy(r => r.Position).ToList();
                // Packets that entered the chain reached its first rule (every walk starts there).
                long entered = list[0].Reached ?? 0;
                if (entered == 0)
                    continue;
                foreach (var r in list.Where(r => r.Reached == 0))
                    shadowed.Add(new ShadowedRule(r, entered, [.. list.Where(b => b.Position < r.Position && b.Matched > 0)]));
            }
        }
        else
        {
            note = "rule_trace is empty (the run was replayed without --trace): a rule that never matched may have been reached and not matched, or never reached because earlier rules decided every packet; only a traced run tells them apart.";
        }
        var hottest = rules.Where(r => !r.IsPolicy && r.Packets > 0).OrderByDescending(r => r.Packets).ThenBy(r => r.Id).Take(top).ToList();
        return new RuleUsageReport(run.Path, host.Rules, never, reachedNever, shadowed, note, hottest, host.Comparison);
    }

    /// <summary>Reads the snapshot's iptables.rules / ip6tables.rules and fills in the host's counters where the rule is the same rule.</summary>
    private static (List<RuleUsage> Rules, HostCounterComparison Comparison) CompareHost(RunDatabase run, List<RuleUsage> rules, string? snapshotOverride)
    {
        string? snapshot = snapshotOverride ?? run.InfoValue("snapshot");
        if (snapshot is null)
            return (rules, new HostCounterComparison(null, "run_info names no snapshot; give --host DIR to compare with the host's counters", 0, 0, []));
        if (!Directory.Exists(snapshot))
            return (rules, new HostCounterComparison(snapshot, $"the snapshot folder {snapshot} (run_info) is not here; give --host DIR to compare with the host's counters", 0, 0, []));
        var hostCounters = new Dictionary<(string, string, string, int), (string Text, XtCounters Counters)>();
        bool anyCounters = false, anyFile = false;
        foreach (var (file, family, name) in new[] { ("iptables.rules", IptFamily.IPv4, "ipv4"), ("ip6tables.rules", IptFamily.IPv6, "ipv6") })
        {
            string path = Path.Combine(snapshot, file);
            if (!File.Exists(path))
                continue;
            anyFile = true;
            var rs = IptablesParser.Parse(File.ReadAllText(path), path, family);
            anyCounters |= rs.HasCounters;
            foreach (var t in rs.Tables)
            {
                foreach (var c in t.Chains)
                {
                    if (c.IsBuiltin)
                        hostCounters[(name, t.Name, c.Name, 0)] = (c.Policy.ToString().ToUpperInvariant(), c.PolicyCounters);
                    for (int i = 0; i < c.Rules.Count; i++)
                        hostCounters[(name, t.Name, c.Name, i + 1)] = (c.Rules[i].Text, c.Rules[i].Counters);
                }
            }
        }
        if (!anyFile)
            return (rules, new HostCounterComparison(snapshot, "the snapshot has no iptables.rules or ip6tables.rules", 0, 0, []));
        if (!anyCounters)
            return (rules, new HostCounterComparison(snapshot, "the snapshot's rules carry no counters (iptables-save without -c): nothing to compare", 0, 0, []));
        int compared = 0, equal = 0;
        var differ = new List<RuleUsage>();
        var filled = new List<RuleUsage>(rules.Count);
        foreach (var r in rules)
        {
            if (hostCounters.TryGetValue((r.Family, r.Table, r.Chain, r.Position), out var h) && (r.IsPolicy || h.Text == r.Text))
            {
                var withHost = r with { HostPackets = (long)h.Counters.Packets, HostBytes = (long)h.Counters.Bytes };
                filled.Add(withHost);
                compared++;
                if (withHost.HostPackets == r.Packets && withHost.HostBytes == r.Bytes)
                    equal++;
                else
                    differ.Add(withHost);
            }
            else
            {
                filled.Add(r);
            }
        }
        string? note = compared < rules.Count(r => r.Family != "bridge")
            ? $"{rules.Count(r => r.Family != "bridge") - compared} rules of the run are not in the snapshot as they are (replayed with --rules?) and were not compared"
            : null;
        return (filled, new HostCounterComparison(snapshot, note, compared, equal, differ));
    }
}
