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
    private bool _total, _node, _mask, _seed;

    public uint TotalNodes { get; private set; }
    public uint NodeMask { get; private set; }
    public uint HashSeed { get; private set; }
    public bool Invert { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--cluster-total-nodes":
                o.NoInvert();
                Once(o, ref _total);
                TotalNodes = o.UInt32(o.Arg("the number of nodes"), 1, MaxNodes);
                return true;
            case "--cluster-local-node":
                if (_mask)
                    throw o.Fail("cannot be combined with --cluster-local-nodemask", o.Name, "one of --cluster-local-node and --cluster-local-nodemask");
                Once(o, ref _node);
                NodeMask = 1u << (int)(o.UInt32(o.Arg("this node's number"), 1, MaxNodes) - 1);
                Invert = o.Invert;
                return true;
            case "--cluster-local-nodemask":
                if (_node)
                    throw o.Fail("cannot be combined with --cluster-local-node", o.Name, "one of --cluster-local-node and --cluster-local-nodemask");
                Once(o, ref _mask);
                NodeMask = o.UInt32(o.Arg("a node mask"));
                Invert = o.Invert;
                return true;
            case "--cluster-hash-seed":
                o.NoInvert();
                Once(o, ref _seed);
                HashSeed = o.UInt32(o.Arg("a hash seed"));
                return true;
            default:
                return false;
        }
    }

    private static void Once(XtOption o, ref bool given)
    {
        if (given)
            throw o.Fail("can only be used once", o.Name, "one " + o.Name);
        given = true;
    }

    /// <summary>cluster_check (all three settings required) and xt_cluster_mt_checkentry (mask within the node count).</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_total || !(_node || _mask) || !_seed)
            throw check.Fail("--cluster-total-nodes, --cluster-local-node(mask) and --cluster-hash-seed are all required", "--cluster-total-nodes N --cluster-local-node I --cluster-hash-seed S");
        if (NodeMask >= 1UL << (int)TotalNodes)
            throw check.Fail("node mask cannot exceed the total number of nodes (the kernel refuses it)", "--cluster-local-node at most --cluster-total-nodes");
    }

    /// <summary>cluster_save: always the nodemask form, 8 hex digits.</summary>
    public override void Save(SaveWriter w) =>
        w.Opt("--cluster-local-nodemask", "0x" + NodeMask.ToString("x8", System.Globalization.CultureInfo.InvariantCulture), Invert)
            .Opt("--cluster-total-nodes", TotalNodes)
            .Opt("--cluster-hash-seed", "0x" + HashSeed.ToString("x8", System.Globalization.CultureInfo.InvariantCulture));
}
