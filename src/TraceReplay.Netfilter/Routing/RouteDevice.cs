using TraceReplay.Capture.Decode;
using TraceReplay.Host.Net;
using TraceReplay.Host.Network;

namespace TraceReplay.Netfilter.Routing;

/// <summary>
/// What routing reads of one device, resolved once from the snapshot: the kernel's struct in_device
/// conf (IN_DEV_FORWARD, IN_DEV_RPFILTER, …) and its IPv4 address list (in_dev->ifa_list), held in arrays
/// so a decision reads them without allocating.
/// </summary>
internal sealed class RouteDevice
{
    public required string Name { get; init; }
    public bool Known { get; init; } = true;
    public bool IsLoopback { get; init; }
    public bool IsUp { get; init; } = true;
    public uint Group { get; init; }
    /// <summary>IN_DEV_FORWARD: the device's own `forwarding` (set for every device by writing ip_forward).</summary>
    public bool Forwarding { get; init; }
    /// <summary>IN_DEV_RPFILTER = IN_DEV_MAXCONF(rp_filter): 0 off, 1 strict, 2 loose.</summary>
    public int RpFilter { get; init; }
    public bool AcceptLocal { get; init; }
    public bool SrcValidMark { get; init; }
    public bool RouteLocalnet { get; init; }
    public bool SendRedirects { get; init; }
    /// <summary>IN_DEV_SHARED_MEDIA (default 1): redirects need not check that source and gateway share a subnet.</summary>
    public bool SharedMedia { get; init; }
    /// <summary>IN_DEV_BFORWARD = IN_DEV_ANDCONF(bc_forwarding): forward directed broadcasts instead of receiving them.</summary>
    public bool BcForwarding { get; init; }
    /// <summary>Primary and secondary IPv4 addresses in the kernel's list order.</summary>
    public V4Address[] V4 { get; init; } = [];

    /// <summary>One in_ifaddr: ifa_local, the subnet inet_ifa_match tests, ifa_scope and IFA_F_SECONDARY.</summary>
    internal readonly record struct V4Address(uint Local, IpNetwork Subnet, RtScope Scope, bool Secondary);

    public static RouteDevice From(NetDevice? d, string name, Sysctls s)
    {
        // A device the snapshot lacks got conf.default's values when it was created.
        string key = d is null ? "default" : name;
        bool ipForward = s.IpForward;
        long? all = s["net.ipv4.conf.all.forwarding"] is { } a && long.TryParse(a, out long av) ? av : null;
        long? own = s[Sysctls.ConfKey("ipv4", key, "forwarding")] is { } o && long.TryParse(o, out long ov) ? ov : null;
        // Writing ip_forward rewrites every device's forwarding (inet_forward_change) and conf.all mirrors
        // it; an ip_forward that disagrees with conf.all was set after the snapshot (--sysctl) and wins.
        bool forwarding = own is null || (all is not null && (all != 0) != ipForward) ? ipForward : own != 0;
        return new RouteDevice
        {
            Name = name,
            Known = d is not null,
            IsLoopback = d?.IsLoopback ?? false,
            IsUp = d is null || d.IsUp || d.Flags.Count == 0,
            Group = d?.Group ?? 0,
            Forwarding = forwarding,
            RpFilter = s.RpFilter(key),
            AcceptLocal = s.Ipv4ConfMax(key, "accept_local", 0) != 0,
            SrcValidMark = s.Ipv4ConfMax(key, "src_valid_mark", 0) != 0,
            RouteLocalnet = s.RouteLocalnet(key),
            SendRedirects = s.Ipv4ConfMax(key, "send_redirects", 1) != 0,
            SharedMedia = s.Ipv4ConfMax(key, "shared_media", 1) != 0,
            BcForwarding = s.Int("net.ipv4.conf.all.bc_forwarding", 0) != 0 && s.Int(Sysctls.ConfKey("ipv4", key, "bc_forwarding"), 0) != 0,
            V4 = d is null ? [] : [.. d.Addresses.Where(x => !x.IsV6).Select(x => new V4Address(x.Local.V4, x.Subnet, x.Scope, x.IsSecondary))],
        };
    }

    /// <summary>
    /// net/ipv4/devinet.c inet_select_addr on this device only: the first primary address of scope no wider
    /// than <paramref name="scope"/> whose subnet holds <paramref name="dst"/> (any when dst is 0), else the
    /// first such primary. 0 when there is none.
    /// </summary>
    public uint SelectAddr(uint dst, RtScope scope)
    {
        var localnetScope = RouteLocalnet ? RtScope.Link : RtScope.Host;
        uint first = 0;
        foreach (var a in V4)
        {
            if (a.Secondary || (RtScope)Math.Min((byte)a.Scope, (byte)localnetScope) > scope)
                continue;
            if (dst == 0 || a.Subnet.Contains(IpAddr.FromV4(dst)))
                return a.Local;
            if (first == 0)
                first = a.Local;
        }
        return first;
    }

    /// <summary>inet_addr_onlink: one address of the device has a subnet holding both <paramref name="a"/> and <paramref name="b"/> (b 0: any).</summary>
    public bool OnLink(uint a, uint b)
    {
        foreach (var x in V4)
        {
            if (x.Subnet.Contains(IpAddr.FromV4(a)) && (b == 0 || x.Subnet.Contains(IpAddr.FromV4(b))))
                return true;
        }
        return false;
    }

    /// <summary>in_dev_select_addr: the fallback over other devices takes no link-scope address.</summary>
    public uint SelectAnyAddr(RtScope scope)
    {
        foreach (var a in V4)
        {
            if (!a.Secondary && a.Scope != RtScope.Link && a.Scope <= scope)
                return a.Local;
        }
        return 0;
    }
}
