using TraceReplay.Host.Parsing;

namespace TraceReplay.Netfilter.Tables;

/// <summary>
/// What the iptables (<see cref="XtTableInfo"/>) and ebtables (<see cref="Bridge.EbtTableInfo"/>) compiled
/// tables share about their layout, as x_tables and ebtables share translate_table's layout: each chain's
/// rules stand back to back from the chain's start, followed by one policy (built-in chain) or chain-end
/// (user chain) entry; and check_chainloops / mark_source_chains walk the jumps the same way.
/// </summary>
internal static class XtChainLayout
{
    /// <summary>One jump of a chain's rule as the loop walk sees it: the chain it calls and how many stack levels it adds.</summary>
    internal readonly record struct Call(int Callee, int Levels, SourceLocation Location, string Jump);

    /// <summary>The entry of rule <paramref name="ruleNum"/> (1-based) of a chain; rules + 1 is the policy or chain end.</summary>
    internal static int EntryOf(string[] chainNames, int[] chainStart, int entryCount, string table, string chain, int ruleNum)
    {
        var (start, last) = Bounds(chainNames, chainStart, entryCount, table, chain);
        int entry = start + ruleNum - 1;
        if (ruleNum < 1 || entry >= last)
            throw new ArgumentOutOfRangeException(nameof(ruleNum), $"chain {chain} has {last - start - 1} rules");
        return entry;
    }

    /// <summary>The policy (built-in chain) or chain-end (user chain) entry of a chain: the last of its entries.</summary>
    internal static int PolicyEntry(string[] chainNames, int[] chainStart, int entryCount, string table, string chain) =>
        Bounds(chainNames, chainStart, entryCount, table, chain).Last - 1;

    /// <summary>A chain's first entry and the entry past its policy or chain end.</summary>
    private static (int Start, int Last) Bounds(string[] chainNames, int[] chainStart, int entryCount, string table, string chain)
    {
        int c = Array.IndexOf(chainNames, chain);
        if (c < 0)
            throw new ArgumentException($"no chain {chain} in table {table}", nameof(chain));
        return (chainStart[c], c + 1 < chainStart.Length ? chainStart[c + 1] : entryCount);
    }

    /// <summary>
    /// The depth-first walk of check_chainloops (ebtables) and mark_source_chains (x_tables): the deepest
    /// nesting of calls from any chain (the size of the jump stack), refusing a loop (ELOOP) with the
    /// location of the jump that closes it. <paramref name="calls"/> yields a chain's jumps in rule order;
    /// what counts as a jump, and what a jump to a missing chain means, is the caller's.
    /// </summary>
    internal static int MaxCallDepth(int chainCount, Func<int, IEnumerable<Call>> calls, Func<int, string> chainName)
    {
        var depth = new int[chainCount];
        var state = new byte[chainCount]; // 0 unvisited, 1 on the path, 2 done
        int max = 0;
        for (int c = 0; c < chainCount; c++)
            max = Math.Max(max, Visit(c));
        return max;

        int Visit(int c)
        {
            if (state[c] == 2)
                return depth[c];
            state[c] = 1;
            int d = 0;
            foreach (var call in calls(c))
            {
                if (state[call.Callee] == 1)
                {
                    throw new HostParseException(call.Location, $"chain loop: {chainName(c)} reaches itself again through {call.Jump} (the kernel refuses the table: ELOOP)",
                        call.Jump, "a jump that does not lead back to a chain on the path");
                }
                d = Math.Max(d, Visit(call.Callee) + call.Levels);
            }
            state[c] = 2;
            depth[c] = d;
            return d;
        }
    }
}
