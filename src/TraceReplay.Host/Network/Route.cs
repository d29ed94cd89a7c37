using TraceReplay.Capture.Decode;
using TraceReplay.Host.Net;

namespace TraceReplay.Host.Network;

/// <summary>Route types, the kernel's RTN_* (include/uapi/linux/rtnetlink.h); ip prints no type for unicast.</summary>
public enum RouteType : byte
{
    Unspec = 0,
    Unicast = 1,
    Local = 2,
    Broadcast = 3,
    Anycast = 4,
    Multicast = 5,
    Blackhole = 6,
    Unreachable = 7,
    Prohibit = 8,
    Throw = 9,
    Nat = 10,
    XResolve = 11,
}

/// <summary>One path of a route: struct fib_nh / fib6_nh. A single-path route has exactly one.</summary>
public sealed record NextHop(IpAddr? Gateway, string? Dev, int Weight, bool OnLink, IReadOnlyList<string> Flags);

/// <summary>
/// A route as `ip route show table all` prints it: the kernel's fib_alias + fib_info (IPv4) or fib6_info.
/// <see cref="Table"/> is the canonical table name: local, main, default, or the number (or a name only the
/// host's /etc/iproute2/rt_tables knows).
/// </summary>
public sealed record Route
{
    public required string Table { get; init; }
    public RouteType Type { get; init; } = RouteType.Unicast;
    public required IpNetwork Dst { get; init; }
    public bool IsV6 => Dst.IsV6;
    /// <summary>IPv4 routes without `metric` have priority 0; IPv6 ones always print it.</summary>
    public uint Metric { get; init; }
    public IpAddr? PrefSrc { get; init; }
    public RtScope Scope { get; init; } = RtScope.Universe;
    public string? Protocol { get; init; }
    public byte Tos { get; init; }
    public string? Pref { get; init; }
    /// <summary>The errno an unreachable/prohibit IPv6 route returns (`error -101`).</summary>
    public int? Error { get; init; }
    public IReadOnlyList<string> Flags { get; init; } = [];
    /// <summary>The paths; empty for blackhole/unreachable/prohibit/throw routes without a device.</summary>
    public IReadOnlyList<NextHop> NextHops { get; init; } = [];

    public IpAddr? Gateway => NextHops.Count > 0 ? NextHops[0].Gateway : null;
    public string? Dev => NextHops.Count > 0 ? NextHops[0].Dev : null;
    public bool IsMultipath => NextHops.Count > 1;

    public override string ToString() =>
        $"{(Type == RouteType.Unicast ? "" : Type.ToString().ToLowerInvariant() + " ")}{Dst}{(Gateway is { } g ? $" via {g}" : "")}{(Dev is { } d ? $" dev {d}" : "")} table {Table} metric {Metric}";
}

/// <summary>Routing table ids and names as iproute2's rt_tables file has them (rtnl_rttable_n2a).</summary>
public static class RtTables
{
    public const uint Unspec = 0;
    public const uint Default = 253;
    public const uint Main = 254;
    public const uint Local = 255;

    /// <summary>local/main/default for the reserved ids, else the number, so "254" and "main" name one table.</summary>
    public static string Canonical(string name) => name switch
    {
        "255" => "local",
        "254" => "main",
        "253" => "default",
        _ => TextNumbers.TryParseUInt(name, out uint n) && !name.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? n.ToString(System.Globalization.CultureInfo.InvariantCulture) : name,
    };

    public static uint? Id(string name) => name switch
    {
        "local" => Local,
        "main" => Main,
        "default" => Default,
        "unspec" => Unspec,
        _ => TextNumbers.TryParseUInt(name, out uint n) ? n : null,
    };

    internal static bool TryRouteType(string s, out RouteType type)
    {
        type = s switch
        {
            "unicast" => RouteType.Unicast,
            "local" => RouteType.Local,
            "broadcast" => RouteType.Broadcast,
            "anycast" => RouteType.Anycast,
            "multicast" => RouteType.Multicast,
            "blackhole" => RouteType.Blackhole,
            "unreachable" => RouteType.Unreachable,
            "prohibit" => RouteType.Prohibit,
            "throw" => RouteType.Throw,
            "nat" => RouteType.Nat,
            "xresolve" => RouteType.XResolve,
            _ => RouteType.Unspec,
        };
        return type != RouteType.Unspec;
    }
}
