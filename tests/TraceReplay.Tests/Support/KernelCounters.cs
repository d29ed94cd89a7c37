using TraceReplay.Host.Iptables;
using TraceReplay.Netfilter.Hooks;

namespace TraceReplay.Tests.Support;

/// <summary>The simulated counters of every rule and policy set against the kernel's own (`iptables-save -c`).</summary>
public static class KernelCounters
{
    /// <summary>Each rule or policy whose counters differ, as "table:chain:rule:N kernel [p:b] simulated [p:b]"; and how many were compared.</summary>
    public static (List<string> Differ, int Compared) Compare(NfHost host, IptRuleset kernel)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(kernel);
        var differ = new List<string>();
        int compared = 0;
        foreach (var table in kernel.Tables)
        {
            foreach (var chain in table.Chains)
            {
                if (chain.IsBuiltin)
                {
                    compared++;
                    var s = host.Counters(kernel.Family, table.Name, chain.Name, -1);
                    if (s != chain.PolicyCounters)
                        differ.Add($"{table.Name}:{chain.Name}:policy kernel {chain.PolicyCounters} simulated {s}");
                }
                for (int i = 0; i < chain.Rules.Count; i++)
                {
                    compared++;
                    var s = host.Counters(kernel.Family, table.Name, chain.Name, i);
                    if (s != chain.Rules[i].Counters)
                        differ.Add($"{table.Name}:{chain.Name}:rule:{i + 1} kernel {chain.Rules[i].Counters} simulated {s}");
                }
            }
        }
        return (differ, compared);
    }
}
