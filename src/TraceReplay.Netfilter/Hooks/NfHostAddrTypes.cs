using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Hooks;

/// <summary>
/// xt_addrtype's question answered from the host's FIB: IPv4 as __inet_dev_addr_type
/// (net/ipv4/fib_frontend.c: 0/8 and 255.255.255.255 broadcast, 224/4 multicast, else the type of
/// the local table's route, unicast when there is none or — with --limit-iface — when the route is
/// on another device); IPv6 as match_type6 with the local table standing in for ip6_route_output's
/// RTF_LOCAL (:: unspec, ff00::/8 multicast, a local route local, else unicast).
/// </summary>
public sealed class NfHostAddrTypes(NetworkConfig network) : IXtAddrTypeResolver
{
    private readonly FibTable _local = network.Fib.Table("local");

    public AddrType TypeOf(IpAddr address, bool isV6, string? device)
    {
        if (!isV6)
        {
            uint a = address.V4;
            if ((a >> 24) == 0 || a == 0xFFFF_FFFF)
                return AddrType.Broadcast;
            if ((a >> 28) == 0xE)
                return AddrType.Multicast;
        }
        else
        {
            if (address.Hi == 0 && address.Lo == 0)
                return AddrType.Unspec;
            if ((address.Hi >> 56) == 0xFF)
                return AddrType.Multicast;
        }
        if (_local.Lookup(address) is not { } route)
            return AddrType.Unicast;
        if (device is not null && route.Dev is { } dev && !string.Equals(dev, device, StringComparison.Ordinal))
            return AddrType.Unicast;
        return (AddrType)(1 << (int)route.Type);
    }
}
