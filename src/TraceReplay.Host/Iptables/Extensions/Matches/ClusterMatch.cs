namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m cluster` (extensions/libxt_cluster.c; kernel xt_cluster.c): a node of a cluster handles a
/// connection when the jhash of its original source address, seeded with --cluster-hash-seed, modulo
/// --cluster-total-nodes falls in the node mask (bit n-1 for node n).
/// </summary>
[XtMatch("cluster")]
public sealed class ClusterMatch : XtMatch
{
    private const uint MaxNodes = 32; // XT_CLUSTER_NODES_MAX
    private const uint FTotal = 1, FNode = 2, FMask = 4, FSeed = 8;
    private XtOptionSet _options;

    public uint TotalNodes { get; private set; }
    public uint NodeMask { get; private set; }
    public uint HashSeed { get; private set; }
    public bool Invert { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--cluster-total-nodes":
                _options.TakeNoInvert(o, FTotal);
                TotalNodes = o.UInt32(o.Arg("the number of nodes"), 1, MaxNodes);
                return true;
            case "--cluster-local-node":
                _options.Take(o, FNode, excl: FMask);
                NodeMask = 1u << (int)(o.UInt32(o.Arg("this node's number"), 1, MaxNodes) - 1);
                Invert = o.Invert;
                return true;
            case "--cluster-local-nodemask":
                _options.Take(o, FMask, excl: FNode);
                NodeMask = o.UInt32(o.Arg("a node mask"));
                Invert = o.Invert;
                return true;
            case "--cluster-hash-seed":
                _options.TakeNoInvert(o, FSeed);
                HashSeed = o.UInt32(o.Arg("a hash seed"));
                return true;
            default:
                return false;
        }
    }

    /// <summary>cluster_check (all three settings required) and xt_cluster_mt_checkentry (mask within the node count).</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_options.Has(FTotal) || !_options.Has(FNode | FMask) || !_options.Has(FSeed))
            throw check.Fail("--cluster-total-nodes, --cluster-local-node(mask) and --cluster-hash-seed are all required", "--cluster-total-nodes N --cluster-local-node I --cluster-hash-seed S");
        if (NodeMask >= 1UL << (int)TotalNodes)
            throw check.Fail("node mask cannot exceed the total number of nodes (the kernel refuses it)", "--cluster-local-node at most --cluster-total-nodes");
    }

    /// <summary>cluster_save: always the nodemask form, 8 hex digits.</summary>
    public override void Save(SaveWriter w) =>
        w.Opt("--cluster-local-nodemask", XtValues.Hex(NodeMask, 8), Invert)
            .Opt("--cluster-total-nodes", TotalNodes)
            .Opt("--cluster-hash-seed", XtValues.Hex(HashSeed, 8));
}
