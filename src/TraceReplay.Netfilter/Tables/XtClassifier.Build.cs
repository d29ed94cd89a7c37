using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Host.Net;
using TraceReplay.Netfilter.Xt;
using TraceReplay.Netfilter.Xt.Matches;

namespace TraceReplay.Netfilter.Tables;

internal sealed partial class XtClassifier
{
    /// <summary>Address masks indexed per dimension and chain: each costs one lookup per packet.</summary>
    private const int MaxMasks = 4;

    /// <summary>A port range or multiport list is put in one bucket per port up to this many ports; wider ones stay wildcards.</summary>
    private const int MaxPortsPerRule = 16;

    /// <summary>The keys a rule could be filed under in one dimension (a port list gives several); <see cref="Device"/> for -i/-o.</summary>
    private sealed record Option(XtClsKey[] Keys, string? Device = null, bool Out = false);

    /// <summary>
    /// Builds the index of every chain of at least <see cref="MinChainRules"/> rules where at least a
    /// quarter of the rules pin something; null when no chain qualifies.
    /// </summary>
    internal static XtClassifier? Build(IptEntry[] entries, XtMatchEvaluator[] matches, IptRule?[] rules, int[] chainStart)
    {
        var chains = new XtChainClassifier?[chainStart.Length];
        bool any = false;
        for (int c = 0; c < chainStart.Length; c++)
        {
            int start = chainStart[c];
            int end = c + 1 < chainStart.Length ? chainStart[c + 1] - 1 : entries.Length - 1;
            if (end - start >= MinChainRules)
            {
                chains[c] = BuildChain(entries, matches, rules, start, end);
                any |= chains[c] is not null;
            }
        }
        return any ? new XtClassifier(chains) : null;
    }

    private static XtChainClassifier? BuildChain(IptEntry[] entries, XtMatchEvaluator[] matches, IptRule?[] rules, int start, int end)
    {
        var dstMasks = PickMasks(rules, start, end, h => h.InvertDestination ? null : h.Destination);
        var srcMasks = PickMasks(rules, start, end, h => h.InvertSource ? null : h.Source);

        // Every way each rule could be filed, and how full each bucket would be if every rule were
        // filed every way: a rule goes where it shares its bucket with the fewest others.
        var options = new List<Option>[end - start];
        var load = new Dictionary<XtClsKey, int>();
        var inLoad = new Dictionary<string, int>(StringComparer.Ordinal);
        var outLoad = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int e = start; e < end; e++)
        {
            var list = options[e - start] = Options(entries[e], matches, rules[e]!, dstMasks, srcMasks);
            foreach (var o in list)
            {
                if (o.Device is { } dev)
                {
                    var devLoad = o.Out ? outLoad : inLoad;
                    devLoad[dev] = devLoad.GetValueOrDefault(dev) + 1;
                    continue;
                }
                foreach (var k in o.Keys)
                    load[k] = load.GetValueOrDefault(k) + 1;
            }
        }

        var buckets = new Dictionary<XtClsKey, List<int>>();
        var inBuckets = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var outBuckets = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var wildcard = new List<int>();
        for (int e = start; e < end; e++)
        {
            Option? best = null;
            long bestCost = long.MaxValue;
            foreach (var o in options[e - start])
            {
                long cost = 0;
                if (o.Device is { } dev)
                    cost = (o.Out ? outLoad : inLoad)[dev];
                foreach (var k in o.Keys)
                    cost += load[k];
                if (cost < bestCost)
                    (best, bestCost) = (o, cost);
            }
            if (best is null)
            {
                wildcard.Add(e);
                continue;
            }
            if (best.Device is { } name)
            {
                Append(best.Out ? outBuckets : inBuckets, name, e);
                continue;
            }
            foreach (var k in best.Keys)
                Append(buckets, k, e);
            if (best.Keys[0].Dim == XtClsDim.Port)
                Append(buckets, PortAllKey(best.Keys[0]), e);
        }

        int keyed = end - start - wildcard.Count;
        if (keyed * 4 < end - start)
            return null;

        // The chain's policy or RETURN entry ends the wildcard list, so a seek always lands somewhere.
        wildcard.Add(end);
        var lists = new List<int[]>();
        var keyIndex = new Dictionary<XtClsKey, int>();
        foreach (var (k, l) in buckets)
        {
            keyIndex[k] = lists.Count;
            lists.Add([.. l]);
        }
        var inIndex = Index(inBuckets, lists);
        var outIndex = Index(outBuckets, lists);
        return new XtChainClassifier([.. wildcard], [.. lists], keyIndex, inIndex, outIndex,
            [.. dstMasks.Select(m => m.Hi)], [.. dstMasks.Select(m => m.Lo)], [.. srcMasks.Select(m => m.Hi)], [.. srcMasks.Select(m => m.Lo)]);
    }

    private static Dictionary<string, int> Index(Dictionary<string, List<int>> buckets, List<int[]> lists)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (k, l) in buckets)
        {
            index[k] = lists.Count;
            lists.Add([.. l]);
        }
        return index;
    }

    private static void Append<TKey>(Dictionary<TKey, List<int>> buckets, TKey key, int entry)
        where TKey : notnull
    {
        if (!buckets.TryGetValue(key, out var l))
            buckets[key] = l = [];
        l.Add(entry);
    }

    private static XtClsKey PortAllKey(XtClsKey port) => new(XtClsDim.PortAll, 0, port.Hi, 0);

    /// <summary>The masks most rules of the chain use in one address dimension (any-address and inverted ones aside).</summary>
    private static List<IpAddr> PickMasks(IptRule?[] rules, int start, int end, Func<IptRuleHeader, IpNetwork?> select)
    {
        var count = new Dictionary<IpAddr, int>();
        var order = new List<IpAddr>();
        for (int e = start; e < end; e++)
        {
            if (select(rules[e]!.Header) is not { IsAny: false } n)
                continue;
            if (!count.TryGetValue(n.Mask, out int c))
                order.Add(n.Mask);
            count[n.Mask] = c + 1;
        }
        return [.. order.OrderByDescending(m => count[m]).Take(MaxMasks)];
    }

    /// <summary>
    /// The dimensions a rule pins: its header's destination and source under a chosen mask, its
    /// exact -i and -o names, its protocol, and the destination ports of a port match that can only
    /// answer a quiet no (see <see cref="PortKeys"/>).
    /// </summary>
    private static List<Option> Options(in IptEntry entry, XtMatchEvaluator[] matches, IptRule rule, List<IpAddr> dstMasks, List<IpAddr> srcMasks)
    {
        var h = rule.Header;
        var list = new List<Option>();
        if (!h.InvertDestination && h.Destination is { IsAny: false } d && dstMasks.IndexOf(d.Mask) is int dm and >= 0)
            list.Add(new Option([new XtClsKey(XtClsDim.Dst, dm, d.Address.Hi, d.Address.Lo)]));
        if (!h.InvertSource && h.Source is { IsAny: false } s && srcMasks.IndexOf(s.Mask) is int sm and >= 0)
            list.Add(new Option([new XtClsKey(XtClsDim.Src, sm, s.Address.Hi, s.Address.Lo)]));
        if (PortKeys(entry, matches, h) is { } ports)
            list.Add(new Option(ports));
        if (ExactDevice(h.InInterface) is { } inDev)
            list.Add(new Option([], inDev));
        if (ExactDevice(h.OutInterface) is { } outDev)
            list.Add(new Option([], outDev, Out: true));
        if (h.Protocol != 0 && !h.InvertProtocol)
            list.Add(new Option([new XtClsKey(XtClsDim.Proto, 0, h.Protocol, 0)]));
        return list;
    }

    /// <summary>A -i/-o name without `+` or `!`: ip_packet_match wants exactly it.</summary>
    private static string? ExactDevice(InterfaceMatch m) => m.IsAny || m.IsWildcard || m.Invert ? null : m.Name;

    /// <summary>
    /// The (protocol, destination port) keys of the first tcp/udp/multiport match when it can only
    /// say a quiet no for a packet whose port it reads: the header pins the protocol that match
    /// reads (else it would hotdrop or return unknown on the packet of another protocol the header
    /// lets through), its destination ports are a short list, and every match before it is quiet
    /// (<see cref="IsQuiet"/>): skipping the rule then skips nothing the plain walk would have done.
    /// </summary>
    private static XtClsKey[]? PortKeys(in IptEntry entry, XtMatchEvaluator[] matches, IptRuleHeader h)
    {
        if (h.Protocol == 0 || h.InvertProtocol)
            return null;
        for (int k = entry.MatchStart; k < entry.MatchStart + entry.MatchCount; k++)
        {
            var m = matches[k];
            switch (m)
            {
                case TcpMt t when h.Protocol == L4Protocol.Tcp && !t.Module.InvertDestinationPorts:
                    return Ports(h.Protocol, [t.Module.DestinationPorts]);
                case UdpMt u when h.Protocol is L4Protocol.Udp or L4Protocol.UdpLite && !u.Module.InvertDestinationPorts:
                    return Ports(h.Protocol, [u.Module.DestinationPorts]);
                case MultiportMt mp when h.Protocol is L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.UdpLite or L4Protocol.Sctp or 33
                    && !mp.Module.Invert && mp.Module.Direction == MultiportDirection.Destination:
                    return Ports(h.Protocol, mp.Module.Ports);
            }
            if (!IsQuiet(m))
                return null;
        }
        return null;
    }

    private static XtClsKey[]? Ports(byte proto, IReadOnlyList<Host.Iptables.Extensions.XtRange> ranges)
    {
        long n = 0;
        foreach (var r in ranges)
            n += r.Max >= r.Min ? r.Max - r.Min + 1L : 0;
        if (n == 0 || n > MaxPortsPerRule)
            return null;
        var keys = new List<XtClsKey>();
        foreach (var r in ranges)
        {
            for (uint port = r.Min; port <= r.Max; port++)
            {
                var key = new XtClsKey(XtClsDim.Port, 0, proto, port);
                if (!keys.Contains(key))
                    keys.Add(key);
            }
        }
        return [.. keys];
    }

    /// <summary>
    /// A match whose evaluation, whatever it answers, leaves no trace when a later match of the same
    /// rule says no: no state, no clock or chance (which would flag the verdict), no hotdrop. A list
    /// of modules read to be so (only TcpMt, UdpMt, MultiportMt, IcmpMt, Icmp6Mt, AhMt, EspMt,
    /// TcpmssMt and HashlimitMt set hotdrop), so a module added later is not assumed quiet.
    /// </summary>
    private static bool IsQuiet(XtMatchEvaluator m) =>
        !m.HasState && !m.DependsOnClockOrRandom && m is CommentMt or AddrtypeMt or MarkMt or ConnmarkMt or StateMt or ConntrackMt
            or PhysdevMt or PkttypeMt or MacMt or IprangeMt or DscpMt or TosMt or TtlMt or LengthMt or HelperMt or SetMt or UnknownMt;
}
