using TraceReplay.Capture.Decode;

namespace TraceReplay.Host.Network;

/// <summary>Address and route scope, the kernel's enum rt_scope_t: smaller is wider.</summary>
public enum RtScope : byte
{
    Universe = 0,
    Site = 200,
    Link = 253,
    Host = 254,
    Nowhere = 255,
}

/// <summary>The kernel's IFA_F_* address flags (include/uapi/linux/if_addr.h), as `ip addr` prints them.</summary>
[Flags]
public enum IfaFlags
{
    None = 0,
    /// <summary>IFA_F_SECONDARY; for IPv6 the same bit is IFA_F_TEMPORARY.</summary>
    Secondary = 0x01,
    NoDad = 0x02,
    Optimistic = 0x04,
    DadFailed = 0x08,
    HomeAddress = 0x10,
    Deprecated = 0x20,
    Tentative = 0x40,
    /// <summary>IFA_F_PERMANENT: ip prints `dynamic` when this bit is clear.</summary>
    Permanent = 0x80,
    ManageTempAddr = 0x100,
    NoPrefixRoute = 0x200,
    McAutoJoin = 0x400,
    StablePrivacy = 0x800,
}

/// <summary>One address of an interface: the kernel's struct in_ifaddr / inet6_ifaddr as `ip addr` shows it.</summary>
public sealed record IfAddress(
    string Dev,
    bool IsV6,
    IpAddr Local,
    int PrefixLength,
    IpAddr? Peer,
    IpAddr? Broadcast,
    RtScope Scope,
    string? Label,
    IfaFlags Flags)
{
    public bool IsSecondary => (Flags & IfaFlags.Secondary) != 0;

    /// <summary>The subnet the address covers: of the peer for a point-to-point address, as inet_ifa_match uses ifa_address.</summary>
    public TraceReplay.Host.Net.IpNetwork Subnet => NetParse.Prefix(Peer ?? Local, PrefixLength, IsV6);

    public override string ToString() =>
        $"{(IsV6 ? "inet6" : "inet")} {Local}{(Peer is { } p ? $" peer {p}" : "")}/{PrefixLength} scope {Scope} {Flags} dev {Dev}";
}

/// <summary>
/// A network device: the parts of struct net_device that `ip -d link` prints and the simulator needs —
/// bridge membership (master), VLAN id, veth peer / lower device (link), device group (devgroup match).
/// </summary>
public sealed record NetDevice
{
    public required int IfIndex { get; init; }
    public required string Name { get; init; }
    public MacAddr? Mac { get; init; }
    public int Mtu { get; init; }
    /// <summary>linkinfo.info_kind: bridge, veth, vlan, bond, dummy, …; null for a plain NIC or loopback.</summary>
    public string? Kind { get; init; }
    /// <summary>linkinfo.info_slave_kind: bridge for a bridge port, bond for a bond slave.</summary>
    public string? SlaveKind { get; init; }
    /// <summary>The bridge (or bond, VRF) this device is a port of.</summary>
    public string? Master { get; init; }
    /// <summary>A bridge port's hairpin mode (linkinfo.info_slave_data.hairpin, BR_HAIRPIN_MODE): Docker turns it on without the userland proxy.</summary>
    public bool BridgeHairpin { get; init; }
    public int? VlanId { get; init; }
    /// <summary>The peer (veth) or lower device (vlan, macvlan): `link` in JSON, `NAME@LINK` in text.</summary>
    public string? Link { get; init; }
    public int? LinkIndex { get; init; }
    /// <summary>IFF_* flags as printed: UP, LOWER_UP, BROADCAST, LOOPBACK, NO-CARRIER, …</summary>
    public IReadOnlyList<string> Flags { get; init; } = [];
    public string? OperState { get; init; }
    /// <summary>Device group (devgroup match); `default` is 0. Null when the group is a name this host's /etc/iproute2/group defines.</summary>
    public uint? Group { get; init; }
    public string? GroupName { get; init; }
    public string? LinkType { get; init; }
    /// <summary>Addresses in the kernel's list order (primaries before their secondaries), which source selection depends on.</summary>
    public IReadOnlyList<IfAddress> Addresses { get; init; } = [];

    public bool IsUp => Flags.Contains("UP");
    public bool IsLoopback => Flags.Contains("LOOPBACK") || LinkType == "loopback";
    public bool IsBridge => Kind == "bridge";
}
