using System.Globalization;
using TraceReplay.Host.Iptables;
using TraceReplay.Netfilter.Hooks;

namespace TraceReplay.Replay.Pipeline;

/// <summary>
/// The simulated counters of every rule and policy set against a rule set's own (`iptables-save -c`
/// of the host): the replay's first check that it saw what the kernel saw.
/// </summary>
public static class CounterComparison
{
    /// <summary>Each rule or policy whose counters differ, as "table:chain:rule:N host [p:b] simulated [p:b]", and how many were compared.</summary>
    public static (List<string> Differ, int Compared) Compare(NfHost host, IptRuleset ruleset)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(ruleset);
        var differ = new List<string>();
        int compared = 0;
        foreach (var t in ruleset.Tables)
        {
            foreach (var c in t.Chains)
            {
                for (int i = c.IsBuiltin ? -1 : 0; i < c.Rules.Count; i++)
                {
                    compared++;
                    var kernel = i < 0 ? c.PolicyCounters : c.Rules[i].Counters;
                    var sim = host.Counters(ruleset.Family, t.Name, c.Name, i);
                    if (kernel != sim)
                        differ.Add($"{t.Name}:{c.Name}:{(i < 0 ? "policy" : "rule:" + (i + 1).ToString(CultureInfo.InvariantCulture))} host {kernel} simulated {sim}");
                }
            }
        }
        return (differ, compared);
    }
}
