using TraceReplay.Capture.Decode;
using TraceReplay.Host.Net;

namespace TraceReplay.Host.Network;

/// <summary>
/// One routing table ready for longest-prefix match: per family, the prefix lengths in use (longest first)
/// and per length a hash of masked destination → routes of that prefix, lowest metric first. A lookup
/// probes at most one hash per length in use and allocates nothing. Mirrors what fib_table_lookup
/// (IPv4 LC-trie) and fib6_lookup compute, not how: among routes of one prefix the kernel takes the
/// lowest priority (metric) alias; the route's type (unreachable, throw, …) is for the caller to act on.
/// </summary>
public sealed class FibTable
{
    private readonly Family _v4;
    private readonly Family _v6;

    public FibTable(string name, IEnumerable<Route> routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        Name = name;
        var list = routes.ToList();
        Routes = list;
        _v4 = new Family(list.Where(r => !r.IsV6), v6: false);
        _v6 = new Family(list.Where(r => r.IsV6), v6: true);
    }

    public string Name { get; }
    public IReadOnlyList<Route> Routes { get; }

    /// <summary>The best route to <paramref name="dst"/> (longest prefix, then lowest metric, then first listed), or null.</summary>
    public Route? Lookup(IpAddr dst) => dst.IsV4 ? _v4.Lookup(dst) : _v6.Lookup(dst);

    /// <summary>Every route whose prefix contains <paramref name="dst"/>, best first (for suppress_prefixlength and diagnostics).</summary>
    public IEnumerable<Route> Matches(IpAddr dst) => dst.IsV4 ? _v4.Matches(dst) : _v6.Matches(dst);

    /// <summary>One family's routes by prefix length. IPv4 keys are the 32-bit address, so a probe hashes one uint.</summary>
    private sealed class Family
    {
        private readonly int[] _lengths;
        private readonly IpAddr[] _masks;
        private readonly uint[] _masks4;
        private readonly Dictionary<IpAddr, Route[]>[] _byLength;
        private readonly Dictionary<uint, Route[]>[] _byLength4;
        private readonly bool _v6;

        public Family(IEnumerable<Route> routes, bool v6)
        {
            _v6 = v6;
            var groups = routes
                .Select((r, i) => (Route: r, Order: i))
                .GroupBy(x => x.Route.Dst.PrefixLength)
                .OrderByDescending(g => g.Key)
                .ToList();
            _lengths = [.. groups.Select(g => g.Key)];
            _masks = [.. _lengths.Select(l => v6 ? IpNetwork.V6Mask(l) : IpNetwork.V4Mask(l))];
            _masks4 = [.. _masks.Select(m => (uint)m.Lo)];
            // Within one prefix: lowest metric first, then the order the dump listed them in.
            var sorted = groups.Select(g => g
                .GroupBy(x => x.Route.Dst.Address)
                .Select(p => (p.Key, Routes: p.OrderBy(x => x.Route.Metric).ThenBy(x => x.Order).Select(x => x.Route).ToArray()))
                .ToList()).ToList();
            _byLength = v6 ? [.. sorted.Select(l => l.ToDictionary(p => p.Key, p => p.Routes))] : [];
            _byLength4 = v6 ? [] : [.. sorted.Select(l => l.ToDictionary(p => (uint)p.Key.Lo, p => p.Routes))];
        }

        public Route? Lookup(IpAddr dst)
        {
            if (!_v6)
            {
                uint a = (uint)dst.Lo;
                for (int i = 0; i < _lengths.Length; i++)
                {
                    if (_byLength4[i].TryGetValue(a & _masks4[i], out var routes))
                        return routes[0];
                }
                return null;
            }
            for (int i = 0; i < _lengths.Length; i++)
            {
                var m = _masks[i];
                if (_byLength[i].TryGetValue(new IpAddr(dst.Hi & m.Hi, dst.Lo & m.Lo), out var routes))
                    return routes[0];
            }
            return null;
        }

        public IEnumerable<Route> Matches(IpAddr dst)
        {
            for (int i = 0; i < _lengths.Length; i++)
            {
                var m = _masks[i];
                Route[]? routes;
                bool found = _v6
                    ? _byLength[i].TryGetValue(new IpAddr(dst.Hi & m.Hi, dst.Lo & m.Lo), out routes)
                    : _byLength4[i].TryGetValue((uint)dst.Lo & _masks4[i], out routes);
                if (found)
                {
                    foreach (var r in routes!)
                        yield return r;
                }
            }
        }
    }
}

/// <summary>All routing tables of the host by canonical name (<see cref="RtTables.Canonical"/>): the FIB the policy rules select from.</summary>
public sealed class Fib
{
    private static readonly FibTable EmptyTable = new("(none)", []);
    private readonly Dictionary<string, FibTable> _tables;

    public Fib(IEnumerable<Route> routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        _tables = routes.GroupBy(r => r.Table, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => new FibTable(g.Key, g), StringComparer.Ordinal);
    }

    public IReadOnlyDictionary<string, FibTable> Tables => _tables;

    /// <summary>A table by name or number ("main", "254", "100"); an absent table is empty, as the kernel treats it.</summary>
    public FibTable Table(string name) => _tables.GetValueOrDefault(RtTables.Canonical(name)) ?? EmptyTable;

    public Route? Lookup(string table, IpAddr dst) => Table(table).Lookup(dst);
}
