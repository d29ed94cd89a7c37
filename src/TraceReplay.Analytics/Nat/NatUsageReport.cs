using TraceReplay.Analytics.Drops;
using TraceReplay.Analytics.Run;

namespace TraceReplay.Analytics.Nat;

/// <summary>One time bucket of a series: the most live bindings (entries) and ports in use at any moment in it, and bindings set up in it.</summary>
public sealed record NatBucket(long StartUs, long MaxLive, long MaxPorts, long New, long Failures);

/// <summary>An internal host behind the NAT: the original source of SNAT bindings, the real destination of DNAT ones.</summary>
public sealed record NatInternalHost(string Address, long Mappings, long Ports);

/// <summary>
/// The bindings of one NAT address, protocol, manip type and port range. Utilisation is distinct
/// ports in use over the range's size: the kernel keeps a port unique per full tuple, so a port can
/// serve several peers at once and 100% is not yet exhaustion — `Failures` (nat:DropNoFreeTuple) is.
/// </summary>
public sealed record NatGroup(
    string Manip, string Address, string Protocol, NatPortRange? Range, long Mappings, long DistinctPorts,
    long PeakLive, long PeakLiveUs, long PeakPorts, long PeakPortsUs, double? PeakUtilisation,
    long ReusedPorts, long ReusingMappings, long ConcurrentReuse, IReadOnlyList<NatInternalHost> InternalHosts, IReadOnlyList<NatBucket> Buckets);

/// <summary>The conntrack table's fill: peak entries against nf_conntrack_max.</summary>
public sealed record ConntrackFill(long? Max, string MaxOrigin, long Connections, long Peak, long PeakUs, double? PeakFill, long TableFullDrops, IReadOnlyList<NatBucket> Buckets);

public sealed record NatFailure(string Reason, string Protocol, long Packets, long FirstUs, long LastUs);

public sealed record NatUsageReport(string Run, long BucketUs, long StartUs, long EndUs, IReadOnlyList<NatGroup> Groups, IReadOnlyList<NatFailure> Failures, IReadOnlyList<NatBucket> FailureBuckets, ConntrackFill Conntrack);

/// <summary>
/// `tracereplay nat`: NAT table usage over time from nat_mappings (nf_nat_setup_info to the
/// entry's destruction), NAT failures from packets.drop_reason, and the conntrack table's fill
/// from connections. Bindings and connections live over [set up, removed); at one instant removals
/// count before set-ups, as the kernel frees an entry before a new one can take its tuple.
/// </summary>
public static class NatUsageReports
{
    public static NatUsageReport Build(RunDatabase run, long bucketUs, int topHosts = 5)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(bucketUs, 0);
        var span = run.Rows("""
            SELECT (SELECT min(epoch_us(ts)) FROM packets), (SELECT max(epoch_us(ts)) FROM packets),
                   (SELECT min(epoch_us(setup_ts)) FROM nat_mappings), (SELECT max(greatest(epoch_us(setup_ts), coalesce(epoch_us(removed_ts), 0))) FROM nat_mappings),
                   (SELECT min(epoch_us(first_ts)) FROM connections), (SELECT max(greatest(epoch_us(first_ts), coalesce(epoch_us(last_ts), 0))) FROM connections)
            """)[0];
        var times = span.Where(v => v is not null).Select(RunDatabase.ToLong).ToList();
        long first = times.Count == 0 ? 0 : times.Min();
        long last = times.Count == 0 ? 0 : times.Max();
        long start = Math.DivRem(first, bucketUs, out long rem) * bucketUs - (rem < 0 ? bucketUs : 0);
        int buckets = (int)Math.Min(int.MaxValue - 1, ((last - start) / bucketUs) + 1);
        if (buckets > 10_000_000)
            throw new ArgumentOutOfRangeException(nameof(bucketUs), $"--bucket gives {buckets:N0} buckets over this run; choose a larger bucket");

        // Bindings with their rule's text (for the range) and the original source port (for the kernel's port class).
        var groups = new Dictionary<(string Manip, string Addr, int Proto, NatPortRange? Range), List<Binding>>();
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        string Intern(string s) => names.TryGetValue(s, out var v) ? v : names[s] = s;
        var rangeOfRule = new Dictionary<(string?, string, int, int), NatPortRange?>();
        // Streamed: a long run has millions of bindings; each keeps 24 bytes and shared strings here.
        run.Each("""
            SELECT m.manip::VARCHAR, m.nat_addr, m.proto::INTEGER, m.nat_port::INTEGER, m.orig_src, m.orig_sport::INTEGER, m.reply_src, m.setup_us, m.removed_us, r.text
            FROM v_nat_live m LEFT JOIN rules r ON r.id = m.rule_id
            """, m =>
        {
            string manip = Intern(m.GetString(0));
            int proto = m.GetInt32(2);
            string? text = m.IsDBNull(9) ? null : Intern(m.GetString(9));
            int sport = m.GetInt32(5);
            // The range depends on the rule and, without one, on the class of the original port.
            int portClass = sport < 512 ? 0 : sport < 1024 ? 1 : 2;
            if (!rangeOfRule.TryGetValue((text, manip, proto, portClass), out var range))
                rangeOfRule[(text, manip, proto, portClass)] = range = NatPortRanges.For(manip, proto, text, sport);
            var key = (manip, Intern(m.GetString(1)), proto, range);
            if (!groups.TryGetValue(key, out var list))
                groups[key] = list = [];
            list.Add(new Binding(m.GetInt32(3), Intern(manip == "SRC" ? m.GetString(4) : m.GetString(6)), m.GetInt64(7), m.IsDBNull(8) ? long.MaxValue : m.GetInt64(8)));
        });

        var failures = run.Rows("""
            SELECT drop_reason, arg_min(proto, id), count(DISTINCT packet_id), min(epoch_us(ts)), max(epoch_us(ts))
            FROM packets WHERE verdict IN ('DROP', 'REJECT') AND drop_reason LIKE 'nat:%' GROUP BY drop_reason, proto ORDER BY 3 DESC, 1
            """).Select(r => new NatFailure((string)r[0]!, DropReports.ProtoName(DropReports.Int(r[1])), RunDatabase.ToLong(r[2]), RunDatabase.ToLong(r[3]), RunDatabase.ToLong(r[4]))).ToList();
        var failureBuckets = new long[buckets];
        run.Each("SELECT epoch_us(min(ts)) FROM packets WHERE verdict IN ('DROP', 'REJECT') AND drop_reason LIKE 'nat:%' GROUP BY packet_id", r =>
        {
            long b = (r.GetInt64(0) - start) / bucketUs;
            if (b >= 0 && b < buckets)
                failureBuckets[b]++;
        });

        var result = new List<NatGroup>();
        foreach (var ((manip, addr, proto, range), list) in groups.OrderBy(g => g.Key.Manip, StringComparer.Ordinal).ThenBy(g => g.Key.Addr, StringComparer.Ordinal).ThenBy(g => g.Key.Proto).ThenBy(g => g.Key.Range?.Min ?? -1))
        {
            var sweep = Sweep(list.Select(b => (b.SetupUs, b.RemovedUs, b.Port)), start, bucketUs, buckets);
            var reused = list.GroupBy(b => b.Port).Where(g => g.Count() > 1).ToList();
            var hosts = list.GroupBy(b => b.Internal, StringComparer.Ordinal)
                .Select(g => new NatInternalHost(g.Key, g.Count(), g.Select(b => b.Port).Distinct().Count()))
                .OrderByDescending(h => h.Mappings).ThenBy(h => h.Address, StringComparer.Ordinal).Take(topHosts).ToList();
            result.Add(new NatGroup(manip, addr, DropReports.ProtoName(proto), range, list.Count, list.Select(b => b.Port).Distinct().Count(),
                sweep.PeakLive, sweep.PeakLiveUs, sweep.PeakPorts, sweep.PeakPortsUs,
                range is { } r && manip == "SRC" ? 100.0 * sweep.PeakPorts / r.Size : null,
                reused.Count, reused.Sum(g => g.Count() - 1), sweep.ConcurrentReuse, hosts, sweep.Buckets));
        }

        var conns = new List<(long, long, int)>();
        run.Each("SELECT epoch_us(first_ts), epoch_us(last_ts) FROM connections", r => conns.Add((r.GetInt64(0), r.IsDBNull(1) ? long.MaxValue : r.GetInt64(1), -1)));
        var ct = Sweep(conns, start, bucketUs, buckets);
        var (max, origin) = ConntrackMax(run);
        long tableFull = run.Scalar<long>("SELECT count(DISTINCT packet_id) FROM packets WHERE verdict IN ('DROP', 'REJECT') AND drop_reason = 'conntrack:TableFull'");
        var fill = new ConntrackFill(max, origin, conns.Count, ct.PeakLive, ct.PeakLiveUs, max is > 0 ? 100.0 * ct.PeakLive / max.Value : null, tableFull, ct.Buckets);
        var fb = new List<NatBucket>(buckets);
        for (int i = 0; i < buckets; i++)
            fb.Add(new NatBucket(start + (i * bucketUs), 0, 0, 0, failureBuckets[i]));
        return new NatUsageReport(run.Path, bucketUs, start, start + ((long)buckets * bucketUs), result, failures, fb, fill);
    }

    private readonly record struct Binding(int Port, string Internal, long SetupUs, long RemovedUs);

    private sealed record SweepResult(long PeakLive, long PeakLiveUs, long PeakPorts, long PeakPortsUs, long ConcurrentReuse, List<NatBucket> Buckets);

    /// <summary>
    /// Entries live over [set up, removed): the most live at once and the most distinct ports at once
    /// (port −1: ports not counted), overall (with the first time the peak was reached) and per bucket.
    /// </summary>
    private static SweepResult Sweep(IEnumerable<(long SetupUs, long RemovedUs, int Port)> entries, long start, long bucketUs, int buckets)
    {
        var events = new List<(long T, int Delta, int Port)>();
        foreach (var (s, r, p) in entries)
        {
            events.Add((s, +1, p));
            if (r != long.MaxValue)
                events.Add((r, -1, p));
        }
        // Removals before set-ups at one instant; then by port, for a deterministic order.
        events.Sort((a, b) => a.T != b.T ? a.T.CompareTo(b.T) : a.Delta != b.Delta ? a.Delta.CompareTo(b.Delta) : a.Port.CompareTo(b.Port));
        var maxLive = new long[buckets];
        var maxPorts = new long[buckets];
        var news = new long[buckets];
        var refs = new Dictionary<int, int>();
        long live = 0, ports = 0, peakLive = 0, peakLiveUs = 0, peakPorts = 0, peakPortsUs = 0, concurrent = 0;
        int filled = -1;
        void FillTo(int b)
        {
            for (int i = filled + 1; i <= b && i < buckets; i++)
            {
                maxLive[i] = live;
                maxPorts[i] = ports;
            }
            filled = Math.Max(filled, Math.Min(b, buckets - 1));
        }
        // One instant at a time: what counts is the table after everything that happened at that instant.
        for (int at = 0; at < events.Count;)
        {
            long t = events[at].T;
            int b = (int)Math.Clamp((t - start) / bucketUs, 0, buckets - 1);
            FillTo(b - 1);
            if (filled < b)
            {
                // The bucket's value from its start until t; an instant on the boundary replaces it.
                bool boundary = t == start + (b * bucketUs);
                maxLive[b] = boundary ? 0 : live;
                maxPorts[b] = boundary ? 0 : ports;
                filled = b;
            }
            for (; at < events.Count && events[at].T == t; at++)
            {
                var (_, delta, port) = events[at];
                live += delta;
                if (port >= 0)
                {
                    int n = refs.GetValueOrDefault(port);
                    if (delta > 0 && n > 0)
                        concurrent++;
                    if (delta > 0 && n == 0)
                        ports++;
                    if (delta < 0 && n == 1)
                        ports--;
                    refs[port] = n + delta;
                }
                if (delta > 0)
                    news[b]++;
            }
            maxLive[b] = Math.Max(maxLive[b], live);
            maxPorts[b] = Math.Max(maxPorts[b], ports);
            if (live > peakLive)
                (peakLive, peakLiveUs) = (live, t);
            if (ports > peakPorts)
                (peakPorts, peakPortsUs) = (ports, t);
        }
        FillTo(buckets - 1);
        var list = new List<NatBucket>(buckets);
        for (int i = 0; i < buckets; i++)
            list.Add(new NatBucket(start + (i * bucketUs), maxLive[i], maxPorts[i], news[i], 0));
        return new SweepResult(peakLive, peakLiveUs, peakPorts, peakPortsUs, concurrent, list);
    }

    /// <summary>nf_conntrack_max as the run had it: a --sysctl override on the replay's command line, else the snapshot's sysctl.conf.</summary>
    private static (long? Max, string Origin) ConntrackMax(RunDatabase run)
    {
        const string Name = "net.netfilter.nf_conntrack_max";
        if (run.InfoValue("command") is { } command)
        {
            var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (int i = 0; i + 1 < words.Length; i++)
            {
                if (words[i] == "--sysctl" && words[i + 1].StartsWith(Name + "=", StringComparison.Ordinal)
                    && long.TryParse(words[i + 1][(Name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture, out long v))
                    return (v, "replay --sysctl");
            }
        }
        if (run.InfoValue("snapshot") is { } snapshot && File.Exists(Path.Combine(snapshot, "sysctl.conf")))
        {
            foreach (string line in File.ReadLines(Path.Combine(snapshot, "sysctl.conf")))
            {
                int eq = line.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0 && line[..eq].Trim() == Name && long.TryParse(line[(eq + 1)..].Trim(), System.Globalization.CultureInfo.InvariantCulture, out long v))
                    return (v, "the snapshot's sysctl.conf");
            }
            return (null, "not in the snapshot's sysctl.conf");
        }
        return (null, "unknown: the snapshot (run_info) is not here");
    }
}
