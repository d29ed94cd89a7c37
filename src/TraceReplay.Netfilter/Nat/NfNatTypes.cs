using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Netfilter.Nat;

/// <summary>enum nf_nat_manip_type (include/net/netfilter/nf_nat.h): which end of the original direction a binding rewrites.</summary>
public enum NfNatManipType : byte
{
    /// <summary>NF_NAT_MANIP_SRC: SNAT, MASQUERADE, NETMAP at POSTROUTING and INPUT.</summary>
    Src = 0,

    /// <summary>NF_NAT_MANIP_DST: DNAT, REDIRECT, NETMAP at PREROUTING and OUTPUT.</summary>
    Dst = 1,
}

/// <summary>The IPv4/IPv6 netfilter hooks (enum nf_inet_hooks, include/uapi/linux/netfilter.h), same numbers.</summary>
public enum NfInetHook : byte
{
    PreRouting = 0,
    LocalIn = 1,
    Forward = 2,
    LocalOut = 3,
    PostRouting = 4,
}

/// <summary>What NAT decided for a packet: accept it (rewritten or not), or drop it and why.</summary>
public enum NatVerdict : byte
{
    Accept,

    /// <summary>
    /// get_unique_tuple found no free tuple in the range (every port tried was taken): the kernel
    /// goes on with a clashing reply tuple and __nf_conntrack_confirm drops the packet
    /// (insert_failed). Reported as "drop: no free NAT port".
    /// </summary>
    DropNoFreeTuple,

    /// <summary>MASQUERADE found no source address on the output device ("%s ate my IP address"), or REDIRECT none on the input device.</summary>
    DropNoAddress,

    /// <summary>nf_nat_setup_info on a connection whose binding for that manip type is already set up (WARN_ON, NF_DROP).</summary>
    DropAlreadyInitialized,

    /// <summary>nf_nat_icmp_reply_translation refuses an ICMP redirect about a connection that is NATed or not fully bound.</summary>
    DropIcmpRedirect,

    /// <summary>A header the rewrite needs is not in the captured bytes (skb_ensure_writable failing is the kernel's equivalent).</summary>
    DropHeaderMissing,
}

/// <summary>
/// nf_conntrack_tuple_taken(tuple, ignored_conntrack) as get_unique_tuple asks it through
/// nf_nat_used_tuple: is the reply tuple already the tuple (either direction) of a
/// connection other than the one being set up? The conntrack table implements it; a struct
/// implementation is called without boxing or allocation.
/// </summary>
public interface INfConntrackTupleTaken
{
    bool IsTaken(in NfConntrackTuple reply);
}

/// <summary>An <see cref="INfConntrackTupleTaken"/> over a delegate, for callers that have one (tests, tools).</summary>
public readonly struct TupleTakenFunc(Func<NfConntrackTuple, bool> taken) : INfConntrackTupleTaken
{
    public bool IsTaken(in NfConntrackTuple reply) => taken(reply);
}

/// <summary>
/// One NAT binding over its life, the raw material for "NAT table usage over time": when the
/// connection got it and lost it (capture clock, ns; <see cref="long.MaxValue"/> while live), the
/// original tuple and the reply tuple after NAT, the rule that made it (an opaque id; -1 for a null
/// binding), the translated address and port, and the manip type. What `conntrack -L` shows of a NATed
/// entry, kept after the entry is gone.
/// </summary>
public readonly record struct NatMapping(
    long SetUpNs,
    long RemovedNs,
    NfConntrackTuple Original,
    NfConntrackTuple Reply,
    int RuleId,
    IpAddr NatAddress,
    ushort NatPort,
    NfNatManipType Manip)
{
    public const long Live = long.MaxValue;

    /// <summary>The binding's place in set-up order over the run (0, 1, …): bindings are handed on when they close, so this recovers the order they were made in.</summary>
    public long Sequence { get; init; }

    /// <summary>Whether the binding changed the tuple (a null binding does not, unless a clash forced a port change).</summary>
    public bool Translates
    {
        get
        {
            var expected = NfNatTuple.Invert(Original);
            return !expected.Equals(Reply);
        }
    }

    /// <summary>
    /// The record of a binding just set up: the NAT address and port are the source of the inverted
    /// reply tuple for SRC (what the far end sees), its destination for DST (where it really goes).
    /// </summary>
    public static NatMapping Create(long nowNs, in NfConntrackTuple original, in NfConntrackTuple reply, int ruleId, NfNatManipType manip)
    {
        var target = NfNatTuple.Invert(reply);
        return manip == NfNatManipType.Src
            ? new NatMapping(nowNs, Live, original, reply, ruleId, target.Src, target.SrcPort, manip)
            : new NatMapping(nowNs, Live, original, reply, ruleId, target.Dst, NfNatTuple.IsIcmp(target.Protocol) ? target.SrcPort : target.DstPort, manip);
    }

    public NatMapping Removed(long nowNs) => this with { RemovedNs = nowNs };
}
