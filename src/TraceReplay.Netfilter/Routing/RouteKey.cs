using TraceReplay.Capture.Decode;

namespace TraceReplay.Netfilter.Routing;

/// <summary>
/// The link-layer packet type the receive path saw, the kernel's skb->pkt_type (PACKET_HOST, …,
/// include/uapi/linux/if_packet.h). ip_forward / ip6_forward refuse anything but <see cref="Host"/>.
/// </summary>
public enum PacketType : byte
{
    Host = 0,
    Broadcast = 1,
    Multicast = 2,
    OtherHost = 3,
}

/// <summary>
/// What a routing decision looks at: the kernel's struct flowi4 / flowi6 as ip_route_input_slow,
/// ip_route_output_key_hash and their IPv6 counterparts fill it from the packet. A plain value so a
/// decision allocates nothing. <see cref="Dev"/> is the input device for input routes and the device
/// the socket was bound to (SO_BINDTODEVICE, flowi4_oif) for output routes — usually null there.
/// </summary>
public readonly record struct RouteKey
{
    public IpAddr Src { get; init; }
    public IpAddr Dst { get; init; }
    /// <summary>Which family the addresses are: an IPv6 packet to ::ffff:a.b.c.d is still IPv6.</summary>
    public bool IsV6 { get; init; }
    /// <summary>The IPv4 TOS byte or the IPv6 traffic class, as in the header.</summary>
    public byte Tos { get; init; }
    /// <summary>The L4 protocol (IPv6: the upper-layer next header), for `ipproto` rules.</summary>
    public byte Protocol { get; init; }
    /// <summary>TTL / hop limit as it arrived; ip_forward refuses ≤ 1. Zero means "not known" and skips the check.</summary>
    public byte Ttl { get; init; }
    /// <summary>skb->mark, as mangle PREROUTING / OUTPUT left it.</summary>
    public uint Mark { get; init; }
    /// <summary>Input device (input routes) or bound device (output routes).</summary>
    public string? Dev { get; init; }
    public PacketType PacketType { get; init; }
    /// <summary>The socket's uid for `uidrange` rules; unknown (null) for captured host traffic. Input routes use uid 0 as the kernel does.</summary>
    public uint? Uid { get; init; }
}
