namespace TraceReplay.Netfilter.Nat;

/// <summary>
/// Where a NAT binding's record goes when conntrack destroys its entry (nf_nat_cleanup_conntrack's
/// moment), so <see cref="NfNatHook"/> keeps only the open bindings and memory follows the live
/// connections, not every connection ever NATed. The run database's nat_mappings is one such sink;
/// <see cref="NatMappingLog"/> keeps them all for tests and small tools.
/// </summary>
public interface INfNatMappingSink
{
    /// <summary>A binding that just ended (<see cref="NatMapping.RemovedNs"/> set).</summary>
    void OnMappingClosed(in NatMapping mapping);
}

/// <summary>
/// Keeps every closed binding in memory: for tests and small captures only (it grows with the
/// connections ever NATed, which is what the hook itself no longer does).
/// </summary>
public sealed class NatMappingLog : INfNatMappingSink
{
    private readonly List<NatMapping> _closed = [];

    public IReadOnlyList<NatMapping> Closed => _closed;

    public void OnMappingClosed(in NatMapping mapping) => _closed.Add(mapping);

    /// <summary>Every binding so far, closed ones and those of <paramref name="hook"/> still open, in the order they were set up.</summary>
    public IReadOnlyList<NatMapping> All(NfNatHook hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return [.. _closed.Concat(hook.OpenMappings()).Select((m, i) => (m, i)).OrderBy(x => x.m.SetUpNs).ThenBy(x => x.m.Sequence).Select(x => x.m)];
    }
}
