using System.Globalization;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Net;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Network;

/// <summary>
/// Reads `ip -j route show table all` (either family; iproute2 6.x prints both for table all) and the text of
/// `ip route`, `ip route show table all`, `ip -6 route` — iproute2's ip/iproute.c print_route read backwards.
/// </summary>
public static class RouteParser
{
    /// <param name="defaultV6">The family of a `default` route with nothing else saying which (route6.json).</param>
    public static List<Route> ParseJson(string text, string file, bool defaultV6 = false)
    {
        var input = JsonInput.Parse(text, file, "ip -j route show table all");
        var list = new List<Route>(input.Elements.Count);
        for (int i = 0; i < input.Elements.Count; i++)
            list.Add(FromJson(new JsonFields(input.Elements[i], input.Locations[i], ""), defaultV6));
        return list;
    }

    private static Route FromJson(JsonFields f, bool defaultV6)
    {
        var type = RouteType.Unicast;
        if (f.String("type") is { } t && !RtTables.TryRouteType(t, out type))
            throw f.Error("type", "not a route type", t, "unicast, local, broadcast, anycast, multicast, blackhole, unreachable, prohibit, throw or nat");
        string dstText = f.RequiredString("dst");
        var nexthops = new List<NextHop>();
        var flags = f.StringArray("flags");
        var gateway = Gateway(f);
        string? dev = f.String("dev");
        if (gateway is not null || dev is not null)
            nexthops.Add(new NextHop(gateway, dev, 1, flags.Contains("onlink"), flags));
        foreach (var nh in f.Objects("nexthops"))
        {
            var nhFlags = nh.StringArray("flags");
            nexthops.Add(new NextHop(Gateway(nh), nh.String("dev"), (int)(nh.Number("weight", 1, 256) ?? 1), nhFlags.Contains("onlink"), nhFlags));
        }
        var prefsrc = f.Address("prefsrc");
        bool v6 = Family(dstText, gateway ?? nexthops.FirstOrDefault()?.Gateway ?? prefsrc, f.Has("pref"), defaultV6);
        var dst = ParseDst(dstText, v6) ?? throw f.Error("dst", "not a destination", dstText, "default, ADDRESS or ADDRESS/PREFIXLEN");
        if (dst.IsV6 != v6)
            throw f.Error("dst", "the destination's family differs from its gateway's", dstText, "one address family per route");
        string? scopeText = f.String("scope");
        RtScope scope = RtScope.Universe; // print_route omits the scope when it is universe
        if (scopeText is not null && !DeviceParser.TryScope(scopeText, out scope))
            throw f.Error("scope", "not a scope", scopeText, "global, site, link, host, nowhere or a number");
        byte tos = 0;
        if (f.String("tos") is { } tosText && tosText != "default")
            tos = TextNumbers.TryParseUInt(tosText, out uint tv) && tv <= 255 ? (byte)tv : throw f.Error("tos", "not a TOS value", tosText, "0x00..0xff");
        return new Route
        {
            Table = RtTables.Canonical(f.String("table") ?? "main"),
            Type = type,
            Dst = dst,
            Metric = (uint)(f.Number("metric") ?? 0),
            PrefSrc = prefsrc,
            Scope = scope,
            Protocol = f.String("protocol"),
            Tos = tos,
            Pref = f.String("pref"),
            Error = (int?)f.Number("error", int.MinValue, int.MaxValue),
            Flags = flags,
            NextHops = nexthops,
        };
    }

    private static IpAddr? Gateway(JsonFields f)
    {
        if (f.Address("gateway") is { } g)
            return g;
        // `via inet6 ADDR` on an IPv4 route (RFC 5549) prints "via": {"family": "inet6", "host": ADDR}.
        return f.Child("via") is { } via ? via.Address("host") : null;
    }

    private static bool Family(string dst, IpAddr? hint, bool hasPref, bool defaultV6)
    {
        if (dst != "default")
            return dst.Contains(':', StringComparison.Ordinal);
        if (hint is { } h)
            return !h.IsV4;
        return hasPref || defaultV6; // iproute2 prints `pref` only for IPv6 routes
    }

    private static IpNetwork? ParseDst(string text, bool v6)
    {
        if (text == "default")
            return v6 ? IpNetwork.AnyV6 : IpNetwork.AnyV4;
        return NetParse.TryPrefix(text, out var n) ? n : null;
    }

    /// <summary>Parses the text of `ip route` / `ip -6 route` / `ip route show table all` (multipath `nexthop` lines included).</summary>
    public static List<Route> ParseText(string text, string file, bool defaultV6 = false, List<ParseWarning>? warnings = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var routes = new List<Route>();
        string[] lines = text.Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            string raw = lines[n].TrimEnd('\r');
            var line = new TextLine(file, n + 1, raw);
            if (line.Count == 0 || line[0].Text.StartsWith('#'))
                continue;
            if (line[0].Text == "nexthop")
            {
                if (routes.Count == 0)
                    throw line.Error(line[0], "a nexthop line before any route", "a route line");
                var last = routes[^1];
                var nh = TextNextHop(line);
                bool lastV6 = last.IsV6;
                if (nh.Gateway is { } g && last.Dst.IsAny && g.IsV4 == lastV6 && last.NextHops.Count == 0)
                    last = last with { Dst = g.IsV4 ? IpNetwork.AnyV4 : IpNetwork.AnyV6 }; // `default` followed by nexthops: family from the gateway
                routes[^1] = last with { NextHops = [.. last.NextHops, nh] };
                continue;
            }
            if (line[0].Text == "cache" || (char.IsWhiteSpace(raw[0]) && line[0].Text is "cache" or "ipid" or "expires"))
                continue; // route cache continuation lines of old kernels' `ip -6 route`
            routes.Add(TextRoute(line, defaultV6, warnings));
        }
        return routes;
    }

    private static NextHop TextNextHop(TextLine line)
    {
        // nexthop via 10.0.0.253 dev d0 weight 2 [onlink] [dead] [linkdown]
        line.Take("nexthop");
        IpAddr? gw = null;
        string? dev = null;
        int weight = 1;
        var flags = new List<string>();
        while (!line.AtEnd)
        {
            var k = line.Take("a keyword");
            switch (k.Text)
            {
                case "via":
                    gw = Via(line, k);
                    break;
                case "dev":
                    dev = line.Value(k, "the device").Text;
                    break;
                case "weight":
                    var w = line.Value(k, "the weight 1..256");
                    weight = line.Int(w, "the weight 1..256");
                    if (weight is < 1 or > 256)
                        throw line.Error(w, "weight out of range", "1..256");
                    break;
                case "realms" or "realm":
                    line.Value(k, "the realm");
                    break;
                case "onlink" or "dead" or "linkdown" or "pervasive" or "offload" or "trap" or "unresolved" or "rt_offload" or "rt_trap":
                    flags.Add(k.Text);
                    break;
                default:
                    throw line.Error(k, "not a nexthop keyword", "via, dev, weight, onlink, dead or linkdown");
            }
        }
        return new NextHop(gw, dev, weight, flags.Contains("onlink"), flags);
    }

    private static IpAddr Via(TextLine line, Word k)
    {
        var v = line.Value(k, "the gateway address");
        if (v.Text is "inet" or "inet6")
            v = line.Value(v, "the gateway address");
        return line.Address(v, "the gateway address");
    }

    /// <summary>Keys whose value ip prints after them and the simulator has no use for (route metrics and the like).</summary>
    private static readonly HashSet<string> IgnoredKeys = new(StringComparer.Ordinal)
    {
        "expires", "advmss", "hoplimit", "rtt", "rttvar", "rto_min", "window", "cwnd", "initcwnd", "initrwnd", "ssthresh",
        "reordering", "features", "realm", "realms", "nhid", "congctl", "fastopen_no_cookie", "ttl-propagate", "quickack",
        "age", "used", "users", "ipid", "mtu",
    };

    private static readonly HashSet<string> FlagWords = new(StringComparer.Ordinal)
    {
        "onlink", "pervasive", "linkdown", "dead", "offload", "trap", "notify", "rt_offload", "rt_trap", "rt_offload_failed",
        "unresolved", "cache", "cloned",
    };

    private static Route TextRoute(TextLine line, bool defaultV6, List<ParseWarning>? warnings)
    {
        var type = RouteType.Unicast;
        var first = line.Take("a destination");
        if (RtTables.TryRouteType(first.Text, out var t))
        {
            type = t;
            first = line.Take("a destination");
        }
        string dstText = first.Text;
        if (dstText != "default" && !NetParse.TryPrefix(dstText, out _))
            throw line.Error(first, "not a route destination", "default, ADDRESS or ADDRESS/PREFIXLEN, optionally after a route type");
        string table = "main";
        IpAddr? gw = null, src = null;
        string? dev = null, proto = null, pref = null;
        RtScope? scope = null;
        uint metric = 0;
        byte tos = 0;
        int? error = null;
        var flags = new List<string>();
        while (!line.AtEnd)
        {
            var k = line.Take("a keyword");
            switch (k.Text)
            {
                case "via":
                    gw = Via(line, k);
                    break;
                case "dev":
                    dev = line.Value(k, "the device").Text;
                    break;
                case "src":
                    src = line.Address(line.Value(k, "the preferred source address"), "the preferred source address");
                    break;
                case "table":
                    table = RtTables.Canonical(line.Value(k, "the table").Text);
                    break;
                case "proto":
                    proto = line.Value(k, "the protocol").Text;
                    break;
                case "scope":
                    var s = line.Value(k, "the scope");
                    scope = DeviceParser.TryScope(s.Text, out var sc) ? sc : throw line.Error(s, "not a scope", "global, site, link, host, nowhere or a number");
                    break;
                case "metric" or "priority":
                    metric = line.UInt(line.Value(k, "the metric"), "the metric 0..4294967295");
                    break;
                case "tos" or "dsfield":
                    var tw = line.Value(k, "the TOS");
                    tos = TextNumbers.TryParseUInt(tw.Text, out uint tv) && tv <= 255 ? (byte)tv
                        : uint.TryParse(tw.Text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out tv) && tv <= 255 ? (byte)tv
                        : throw line.Error(tw, "not a TOS value", "a hex TOS 00..ff");
                    break;
                case "pref":
                    pref = line.Value(k, "the router preference").Text;
                    break;
                case "error":
                    error = line.Int(line.Value(k, "the error number"), "the error number");
                    break;
                case "from":
                    // IPv6 source-specific routing (`from SRC/LEN`): the simulator does not use it, so say so.
                    var from = line.Value(k, "the source prefix");
                    line.Prefix(from, "the source prefix");
                    warnings?.Add(new ParseWarning(line.At(from), "source-specific route (from …): the source prefix is ignored"));
                    break;
                default:
                    if (FlagWords.Contains(k.Text))
                    {
                        flags.Add(k.Text);
                    }
                    else if (IgnoredKeys.Contains(k.Text))
                    {
                        var v = line.Value(k, "a value");
                        if (v.Text == "lock")
                            line.Value(v, "a value");
                    }
                    else
                    {
                        throw line.Error(k, "not a route keyword", "via, dev, src, table, proto, scope, metric, tos, pref, error, onlink or a route metric");
                    }
                    break;
            }
        }
        bool v6 = Family(dstText, gw ?? src, pref is not null, defaultV6);
        var dst = ParseDst(dstText, v6)!.Value;
        if (dst.IsV6 != v6)
            throw line.Error(first, "the destination's family differs from its gateway's", "one address family per route");
        var nexthops = new List<NextHop>();
        if (gw is not null || dev is not null)
            nexthops.Add(new NextHop(gw, dev, 1, flags.Contains("onlink"), flags));
        return new Route
        {
            Table = table,
            Type = type,
            Dst = dst,
            Metric = metric,
            PrefSrc = src,
            Scope = scope ?? RtScope.Universe,
            Protocol = proto,
            Tos = tos,
            Pref = pref,
            Error = error,
            Flags = flags,
            NextHops = nexthops,
        };
    }
}
