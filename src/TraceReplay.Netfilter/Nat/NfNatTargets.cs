using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Netfilter.Nat;

/// <summary>
/// The nat-table targets that compute their range from the packet and the host before handing it to
/// <see cref="NfNatCore.SetupInfo"/> (SNAT and DNAT hand their <see cref="NfNatRange2"/> as parsed,
/// xt_nat.c). Each returns the range to set up, or a verdict without one. Called once per
/// connection, on its first packet, so reading the network model here is not on the per-packet path.
/// </summary>
public static class NfNatTargets
{
    private static readonly IpAddr Loopback4 = IpAddr.FromV4(0x7F00_0001);
    private static readonly IpAddr Loopback6 = new(0, 1);

    /// <summary>
    /// nf_nat_masquerade_ipv4 / nf_nat_masquerade_ipv6: SNAT to the output device's address for the
    /// next hop (<paramref name="nextHop"/>: the route's gateway, else the destination —
    /// rt_nexthop), keeping the target's ports and flags.
    /// </summary>
    /// <returns>
    /// <see cref="NatVerdict.Accept"/> with <paramref name="newRange"/> mapping the address; Accept with
    /// a range that maps nothing when the original source is 0.0.0.0 (a local packet not meant to be
    /// masqueraded: no binding from this rule); <see cref="NatVerdict.DropNoAddress"/> when the device
    /// has no usable address ("ate my IP address").
    /// </returns>
    public static NatVerdict Masquerade(in NfNatRange2 range, in NfConntrackTuple original, NetworkConfig network, string outDev, IpAddr nextHop,
        out NfNatRange2 newRange)
    {
        ArgumentNullException.ThrowIfNull(network);
        newRange = default;
        IpAddr source;
        if (!original.IsV6)
        {
            if (original.Src == IpAddr.FromV4(0))
                return NatVerdict.Accept;
            if (network.SelectSourceAddressV4(outDev, nextHop) is not { } chosen)
                return NatVerdict.DropNoAddress;
            source = chosen;
        }
        else
        {
            // ipv6_dev_get_saddr's full RFC 6724 ranking is not modelled: the device's primary global address.
            if (network.PrimaryAddress(outDev, v6: true) is not { } primary)
                return NatVerdict.DropNoAddress;
            source = primary.Local;
        }
        newRange = new NfNatRange2(range.Flags | NfNatRangeFlags.MapIps, source, source, range.MinProto, range.MaxProto, 0);
        return NatVerdict.Accept;
    }

    /// <summary>
    /// nf_nat_redirect_ipv4 / nf_nat_redirect_ipv6: DNAT to the host itself — loopback for locally
    /// generated packets (OUTPUT), else the first address of the input device (IPv4: the head of
    /// ifa_list, whatever its scope; IPv6: the first address not IPv4-mapped, not tentative unless
    /// optimistic, of the destination's scope).
    /// </summary>
    /// <returns>Accept with the range, or <see cref="NatVerdict.DropNoAddress"/> when the input device has no address.</returns>
    public static NatVerdict Redirect(in NfNatRange2 range, bool v6, NfInetHook hook, NetworkConfig? network, string? inDev, IpAddr packetDst,
        out NfNatRange2 newRange)
    {
        newRange = default;
        IpAddr target = default;
        bool found = false;
        if (hook == NfInetHook.LocalOut)
        {
            target = v6 ? Loopback6 : Loopback4;
            found = true;
        }
        else if (network is not null && inDev is not null && network.Device(inDev) is { } dev)
        {
            bool wantLinkScope = v6 && (packetDst.Hi >> 54) == (0xfe80UL >> 6);
            foreach (var a in dev.Addresses)
            {
                if (a.IsV6 != v6)
                    continue;
                if (v6)
                {
                    if (a.Local.IsV4)
                        continue;
                    if ((a.Flags & IfaFlags.Tentative) != 0 && (a.Flags & IfaFlags.Optimistic) == 0)
                        continue;
                    bool linkScope = (a.Local.Hi >> 54) == (0xfe80UL >> 6);
                    if (linkScope != wantLinkScope)
                        continue;
                }
                target = a.Local;
                found = true;
                break;
            }
        }
        if (!found)
            return NatVerdict.DropNoAddress;
        newRange = new NfNatRange2(range.Flags | NfNatRangeFlags.MapIps, target, target, range.MinProto, range.MaxProto, 0);
        return NatVerdict.Accept;
    }

    /// <summary>
    /// netmap_tg4 / netmap_tg6: maps the destination (PREROUTING, OUTPUT) or source (POSTROUTING,
    /// INPUT) into the target network keeping the host bits; the mask is where MinAddr and MaxAddr agree.
    /// </summary>
    public static NfNatRange2 Netmap(in NfNatRange2 range, NfInetHook hook, IpAddr packetSrc, IpAddr packetDst)
    {
        var address = NfNatTuple.HookToManip(hook) == NfNatManipType.Dst ? packetDst : packetSrc;
        ulong maskHi = ~(range.MinAddr.Hi ^ range.MaxAddr.Hi);
        ulong maskLo = ~(range.MinAddr.Lo ^ range.MaxAddr.Lo);
        var mapped = new IpAddr((address.Hi & ~maskHi) | (range.MinAddr.Hi & maskHi), (address.Lo & ~maskLo) | (range.MinAddr.Lo & maskLo));
        return new NfNatRange2(range.Flags | NfNatRangeFlags.MapIps, mapped, mapped, range.MinProto, range.MaxProto, 0);
    }
}
