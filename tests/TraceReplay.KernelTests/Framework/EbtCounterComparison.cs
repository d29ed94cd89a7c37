using System.Globalization;
using TraceReplay.Host.Ebtables;
using TraceReplay.Netfilter.Bridge;
using TraceReplay.Netfilter.Hooks;

namespace TraceReplay.KernelTests.Framework;

/// <summary>
/// The ebtables side of the counter comparison: every rule of the kernel's `ebtables-save -c` against
/// the simulated table's struct ebt_counter (ebt_do_table's ADD_COUNTER: one per frame, skb->len
/// bytes, i.e. without the Ethernet header). Policies are not compared: ebtables-nft keeps no
/// counters on a base chain's policy and ebtables-save prints none (`:FORWARD DROP`).
/// </summary>
public static class EbtCounterComparison
{
    /// <summary>Each rule whose counters differ, as "table:chain:rule:N host [p:b] simulated [p:b]", and how many were compared.</summary>
    public static (List<string> Differ, int Compared) Compare(NfHost host, EbtablesRuleset kernel)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(kernel);
        var differ = new List<string>();
        int compared = 0;
        foreach (var t in kernel.Tables)
        {
            var sim = t.Kind switch
            {
                EbtTableKind.Filter => host.Bridges.Filter,
                EbtTableKind.Nat => host.Bridges.Nat,
                _ => host.Bridges.Broute,
            };
            foreach (var c in t.Chains)
            {
                for (int i = 0; i < c.Rules.Count; i++)
                {
                    compared++;
                    var k = c.Rules[i].Counters;
                    var s = sim is null ? default : sim.Counters(sim.EntryOf(c.Name, i + 1));
                    if (k != s)
                    {
                        differ.Add(string.Create(CultureInfo.InvariantCulture,
                            $"{t.Name}:{c.Name}:rule:{i + 1} host [{k.Packets}:{k.Bytes}] simulated [{s.Packets}:{s.Bytes}]"));
                    }
                }
            }
        }
        return (differ, compared);
    }
}
