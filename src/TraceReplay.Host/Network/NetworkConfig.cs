using TraceReplay.Capture.Decode;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Network;

/// <summary>
/// The host's network configuration from a snapshot directory: devices with their addresses (link.json,
/// addr.json), all routing tables (route.json, route6.json), policy rules (rule.json) and sysctls
/// (sysctl.conf). Every file is optional; what is missing is empty (sysctls: kernel defaults).
/// </summary>
public sealed class NetworkConfig
{
    private readonly Dictionary<string, NetDevice> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<int, NetDevice> _byIndex = [];

    public NetworkConfig(IEnumerable<NetDevice> devices, IEnumerable<Route> routes, IEnumerable<FibRule> rules, Sysctls? sysctls = null,
        IEnumerable<ParseWarning>? warnings = null)
    {
        ArgumentNullException.ThrowIfNull(devices);
        ArgumentNullException.ThrowIfNull(routes);
        ArgumentNullException.ThrowIfNull(rules);
        Devices = [.. devices.OrderBy(d => d.IfIndex)];
        foreach (var d in Devices)
        {
            _byName.TryAdd(d.Name, d);
            if (d.IfIndex > 0)
                _byIndex.TryAdd(d.IfIndex, d);
        }
        Routes = [.. routes];
        // fib_nl_newrule keeps rules sorted by priority, equal priorities in insertion order (a stable sort).
        Rules = [.. rules.OrderBy(r => r.Priority)];
        Sysctls = sysctls ?? Sysctls.Empty;
        Fib = new Fib(Routes);
        Warnings = [.. warnings ?? []];
    }

    public IReadOnlyList<NetDevice> Devices { get; }
    public IReadOnlyList<Route> Routes { get; }
    public IReadOnlyList<FibRule> Rules { get; }
    public Sysctls Sysctls { get; }
    public Fib Fib { get; }
    public IReadOnlyList<ParseWarning> Warnings { get; }

    public IEnumerable<FibRule> RulesFor(bool v6) => Rules.Where(r => r.IsV6 == v6);

    public NetDevice? Device(string name) => _byName.GetValueOrDefault(name);

    public NetDevice? Device(int ifIndex) => _byIndex.GetValueOrDefault(ifIndex);

    /// <summary>The bridge a device is a port of, when its master is a bridge (a bond or VRF master is not).</summary>
    public NetDevice? BridgeOf(string port) =>
        Device(port) is { Master: { } m } d && Device(m) is { } master && (master.IsBridge || d.SlaveKind == "bridge") ? master : null;

    public IEnumerable<NetDevice> BridgePorts(string bridge) => Devices.Where(d => BridgeOf(d.Name)?.Name == bridge);

    /// <summary>
    /// The interface's primary address of a family: the first non-secondary address of global (universe)
    /// scope, in the kernel's list order. For IPv4 this is what inet_select_addr returns when no address
    /// shares the next hop's subnet; IPv6 additionally skips tentative, dadfailed and deprecated addresses.
    /// </summary>
    public IfAddress? PrimaryAddress(string dev, bool v6) =>
        Device(dev)?.Addresses.FirstOrDefault(a => a.IsV6 == v6 && !a.IsSecondary && a.Scope == RtScope.Universe
            && (!v6 || (a.Flags & (IfaFlags.Tentative | IfaFlags.DadFailed | IfaFlags.Deprecated)) == 0));

    /// <summary>
    /// The IPv4 source address the kernel picks on <paramref name="dev"/> toward <paramref name="dst"/>:
    /// net/ipv4/devinet.c inet_select_addr. Primary addresses only, scope no wider than asked; one whose
    /// subnet holds <paramref name="dst"/> wins, else the first such. If the device has none, the first
    /// primary non-link-scope address of any device in ifindex order (lo first) — in_dev_select_addr.
    /// nf_nat_masquerade_ipv4 calls it with the route's next hop (gateway, else the destination) and
    /// RT_SCOPE_UNIVERSE, and drops the packet when it returns nothing. VRF (l3mdev) masters are not modelled.
    /// </summary>
    public IpAddr? SelectSourceAddressV4(string dev, IpAddr dst, RtScope scope = RtScope.Universe)
    {
        var localnetScope = Sysctls.RouteLocalnet(dev) ? RtScope.Link : RtScope.Host;
        IpAddr? first = null;
        if (Device(dev) is { } d)
        {
            foreach (var a in d.Addresses)
            {
                if (a.IsV6 || a.IsSecondary || (RtScope)Math.Min((byte)a.Scope, (byte)localnetScope) > scope)
                    continue;
                if (dst == IpAddr.FromV4(0) || a.Subnet.Contains(dst))
                    return a.Local;
                first ??= a.Local;
            }
        }
        if (first is not null)
            return first;
        foreach (var other in Devices)
        {
            foreach (var a in other.Addresses)
            {
                if (!a.IsV6 && !a.IsSecondary && a.Scope != RtScope.Link && a.Scope <= scope)
                    return a.Local;
            }
        }
        return null;
    }

    /// <summary>Whether <paramref name="address"/> is one of the host's own (a `local` route in the local table), as ip_route_input decides RTN_LOCAL.</summary>
    public bool IsLocalAddress(IpAddr address) => Fib.Lookup("local", address) is { Type: RouteType.Local };

    public const string AddrFile = "addr.json";
    public const string LinkFile = "link.json";
    public const string RouteFile = "route.json";
    public const string Route6File = "route6.json";
    public const string RuleFile = "rule.json";

    /// <summary>`ip -j -6 rule`: IPv6 policy rules (an extension of DESIGN.md's table; without it IPv6 has the kernel's default rules).</summary>
    public const string Rule6File = "rule6.json";
    public const string SysctlFile = "sysctl.conf";

    /// <summary>Reads whichever of the snapshot's network files exist in <paramref name="snapshotDir"/>.</summary>
    /// <exception cref="HostParseException">A file has the wrong shape or an unreadable value; names file:line:column.</exception>
    /// <exception cref="InvalidDataException">A JSON file is not JSON; names file and line.</exception>
    public static NetworkConfig Load(string snapshotDir)
    {
        string? Read(string name)
        {
            string path = Path.Combine(snapshotDir, name);
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        string P(string name) => Path.Combine(snapshotDir, name);

        var links = Read(LinkFile) is { } l ? DeviceParser.ParseJson(l, P(LinkFile)) : null;
        var addrs = Read(AddrFile) is { } a ? DeviceParser.ParseJson(a, P(AddrFile)) : null;
        var routes = new List<Route>();
        if (Read(RouteFile) is { } r)
            routes.AddRange(RouteParser.ParseJson(r, P(RouteFile)));
        if (Read(Route6File) is { } r6)
            routes.AddRange(RouteParser.ParseJson(r6, P(Route6File), defaultV6: true));
        var rules = Read(RuleFile) is { } ru ? RuleParser.ParseJson(ru, P(RuleFile)) : [];
        if (Read(Rule6File) is { } ru6)
            rules.AddRange(RuleParser.ParseJson(ru6, P(Rule6File), v6: true));
        var sysctls = Read(SysctlFile) is { } s ? Sysctls.Parse(s, P(SysctlFile)) : null;
        return new NetworkConfig(MergeDevices(links, addrs), DistinctRoutes(routes), rules, sysctls);
    }

    /// <summary>link.json's devices (with -d detail) given addr.json's addresses; devices only addr.json knows are kept as it has them.</summary>
    public static List<NetDevice> MergeDevices(IReadOnlyList<NetDevice>? links, IReadOnlyList<NetDevice>? addrs)
    {
        if (links is null)
            return [.. addrs ?? []];
        if (addrs is null)
            return [.. links];
        var result = new List<NetDevice>(links.Count);
        var used = new HashSet<NetDevice>(ReferenceEqualityComparer.Instance);
        foreach (var l in links)
        {
            var a = addrs.FirstOrDefault(x => x.IfIndex == l.IfIndex && x.Name == l.Name) ?? addrs.FirstOrDefault(x => x.Name == l.Name);
            if (a is not null)
                used.Add(a);
            result.Add(a is null ? l : l with { Addresses = a.Addresses });
        }
        result.AddRange(addrs.Where(a => !used.Contains(a)));
        return result;
    }

    /// <summary>
    /// `ip route show table all` prints both families in iproute2 6.x, so route.json and route6.json overlap;
    /// a route the kernel would hold once is kept once.
    /// </summary>
    public static List<Route> DistinctRoutes(IEnumerable<Route> routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var list = new List<Route>();
        foreach (var r in routes)
        {
            string key = $"{r.Table}|{r.Type}|{r.Dst}|{r.Metric}|{r.Tos}|{r.PrefSrc}|{string.Join(",", r.NextHops.Select(n => $"{n.Gateway}@{n.Dev}/{n.Weight}"))}";
            if (seen.Add(key))
                list.Add(r);
        }
        return list;
    }
}
