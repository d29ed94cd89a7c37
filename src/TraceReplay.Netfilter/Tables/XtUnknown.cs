using System.Runtime.CompilerServices;

namespace TraceReplay.Netfilter.Tables;

/// <summary>
/// How ipt_do_table and ebt_do_table, as simulated, carry an answer the replay cannot decide: the kernel
/// has no such answer, so both traversals mark the verdict and take the branch <see cref="UnknownMatchPolicy"/>
/// names, the same way.
/// </summary>
internal static class XtUnknown
{
    /// <summary>The verdict now depends on <paramref name="entry"/>; the first such entry is kept for the trace.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Mark(int entry, ref IptVerdictFlags flags, ref int firstUnknown)
    {
        flags |= IptVerdictFlags.DependsOnUnknown;
        if (firstUnknown < 0)
            firstUnknown = entry;
    }

    /// <summary>A rule's match result with an unknown answer marked and taken as the policy says; true and false pass unchanged.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Tristate Resolve(Tristate r, UnknownMatchPolicy policy, int entry, ref IptVerdictFlags flags, ref int firstUnknown)
    {
        if (r != Tristate.Unknown)
            return r;
        Mark(entry, ref flags, ref firstUnknown);
        return policy == UnknownMatchPolicy.Match ? Tristate.True : Tristate.False;
    }
}
