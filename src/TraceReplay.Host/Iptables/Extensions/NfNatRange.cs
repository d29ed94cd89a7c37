using TraceReplay.Capture.Decode;

namespace TraceReplay.Host.Iptables.Extensions;

/// <summary>The `flags` of `struct nf_nat_range2` (include/uapi/linux/netfilter/nf_nat.h), same bit values.</summary>
[Flags]
public enum NfNatRangeFlags : uint
{
    None = 0,

    /// <summary>NF_NAT_RANGE_MAP_IPS: rewrite the address into MinAddr..MaxAddr.</summary>
    MapIps = 1 << 0,

    /// <summary>NF_NAT_RANGE_PROTO_SPECIFIED: rewrite the port into MinProto..MaxProto.</summary>
    ProtoSpecified = 1 << 1,

    /// <summary>NF_NAT_RANGE_PROTO_RANDOM (`--random`).</summary>
    ProtoRandom = 1 << 2,

    /// <summary>NF_NAT_RANGE_PERSISTENT (`--persistent`).</summary>
    Persistent = 1 << 3,

    /// <summary>NF_NAT_RANGE_PROTO_RANDOM_FULLY (`--random-fully`).</summary>
    ProtoRandomFully = 1 << 4,

    /// <summary>NF_NAT_RANGE_PROTO_OFFSET (`:MIN-MAX/BASE`): shift the port by (port - BaseProto) into the range.</summary>
    ProtoOffset = 1 << 5,

    /// <summary>NF_NAT_RANGE_NETMAP (set by nft only; kept for completeness).</summary>
    Netmap = 1 << 6,
}

/// <summary>
/// A NAT mapping as the kernel's NAT core reads it, mirroring `struct nf_nat_range2`: addresses are
/// IPv4-mapped for iptables, ports are in host order. Without <see cref="NfNatRangeFlags.MapIps"/> the
/// address is left alone (MASQUERADE and REDIRECT fill it from the interface at packet time).
/// </summary>
public readonly record struct NfNatRange2(NfNatRangeFlags Flags, IpAddr MinAddr, IpAddr MaxAddr, ushort MinProto, ushort MaxProto, ushort BaseProto)
{
    public bool MapsIps => (Flags & NfNatRangeFlags.MapIps) != 0;

    public bool ProtoSpecified => (Flags & NfNatRangeFlags.ProtoSpecified) != 0;

    public bool Has(NfNatRangeFlags flag) => (Flags & flag) == flag;
}
