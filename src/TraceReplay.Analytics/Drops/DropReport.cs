using TraceReplay.Analytics.Run;

namespace TraceReplay.Analytics.Drops;

/// <summary>Which drops `tracereplay drops` looks at; every filter applies to the packets before they are grouped into flows.</summary>
public sealed record DropFilter
{
    /// <summary>A cause ("filter:INPUT:policy", "filter:DOCKER-USER:rule:1", "routing:NoRoute"), a rules.id, or a pattern with * ("filter:*").</summary>
    public string? Rule { get; init; }

    /// <summary>UTC microseconds, inclusive.</summary>
    public long? SinceUs { get; init; }

    /// <summary>UTC microseconds, inclusive.</summary>
    public long? UntilUs { get; init; }

    public string? Src { get; init; }
    public string? Dst { get; init; }

    /// <summary>Source or destination port.</summary>
    public int? Port { get; init; }

    public int Top { get; init; } = 5;
}

/// <summary>An address or port and how many flows and packets it had.</summary>
public sealed record DropTally(string Value, long Flows, long Packets);

/// <summary>One dropped flow: its first tuple as captured, packets, time range and a packet to trace.</summary>
public sealed record DroppedFlow(string Flow, string? Family, int? Proto, string? Src, int? Sport, string? Dst, int? Dport, long Packets, long FirstUs, long LastUs, long ExamplePacketId, string Verdicts);

/// <summary>Everything one rule or reason dropped.</summary>
public sealed record DropCause(
    string Cause, int? RuleId, string? RuleText, string Verdicts, long Flows, long Packets, long FirstUs, long LastUs,
    IReadOnlyList<DropTally> Sources, IReadOnlyList<DropTally> Destinations, IReadOnlyList<DropTally> Ports,
    IReadOnlyList<DroppedFlow> TopFlows, IReadOnlyList<long> ExamplePacketIds);

public sealed record DropReport(string Run, long Flows, long Packets, IReadOnlyList<DropCause> Causes);

/// <summary>
/// `tracereplay drops`: per deciding rule or reason, the flows and packets it dropped or rejected,
/// over the views v_drop_packets / v_drop_flows (AnalyticsViews). Causes come out by packets, most first.
/// </summary>
public static class DropReports
{
    public static DropReport Build(RunDatabase run, DropFilter filter)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(filter);
        var (where, args) = Where(run, filter);
        // The filtered flows, recomputed by each query below: only aggregates and the top rows per
        // cause leave DuckDB, so a run with millions of dropped flows costs scans, not memory.
        string flows = $"""
            WITH f AS (
              SELECT cause, any_value(rule_id) AS rule_id, any_value(rule_text) AS rule_text, flow, arg_min(family, id)::VARCHAR AS family, arg_min(proto, id)::INTEGER AS proto,
                     arg_min(src, id) AS src, arg_min(sport, id)::INTEGER AS sport, arg_min(dst, id) AS dst, arg_min(dport, id)::INTEGER AS dport,
                     count(DISTINCT packet_id) AS packets, epoch_us(min(ts)) AS first_us, epoch_us(max(ts)) AS last_us, min(packet_id) AS example,
                     string_agg(DISTINCT verdict::VARCHAR, ',' ORDER BY verdict::VARCHAR) AS verdicts
              FROM v_drop_packets {where} GROUP BY cause, flow)
            """;
        int top = Math.Max(1, filter.Top);
        var causes = run.Rows(flows + """
            SELECT cause, any_value(rule_id), any_value(rule_text), count(*), sum(packets), min(first_us), max(last_us),
                   (SELECT string_agg(DISTINCT v, ',' ORDER BY v) FROM (SELECT unnest(string_split(string_agg(verdicts, ','), ',')) AS v))
            FROM f GROUP BY cause ORDER BY sum(packets) DESC, cause
            """, args);
        var tops = new Dictionary<(string Cause, string Kind), List<DropTally>>();
        foreach (var (kind, key) in new[] { ("src", "src"), ("dst", "dst"), ("port", "CASE WHEN dport IS NULL THEN NULL ELSE coalesce(CASE proto WHEN 6 THEN 'tcp' WHEN 17 THEN 'udp' WHEN 1 THEN 'icmp' WHEN 58 THEN 'icmpv6' WHEN 132 THEN 'sctp' END, proto::VARCHAR) || '/' || dport END") })
        {
            foreach (var r in run.Rows(flows + $"""
                SELECT cause, k, flows, packets FROM (
                  SELECT cause, {key} AS k, count(*) AS flows, sum(packets) AS packets,
                         row_number() OVER (PARTITION BY cause ORDER BY count(*) DESC, sum(packets) DESC, {key}) AS n
                  FROM f WHERE {key} IS NOT NULL GROUP BY cause, k)
                WHERE n <= {top} ORDER BY cause, n
                """, args))
            {
                var k = ((string)r[0]!, kind);
                if (!tops.TryGetValue(k, out var list))
                    tops[k] = list = [];
                list.Add(new DropTally((string)r[1]!, RunDatabase.ToLong(r[2]), RunDatabase.ToLong(r[3])));
            }
        }
        var topFlows = new Dictionary<string, List<DroppedFlow>>(StringComparer.Ordinal);
        var examples = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        foreach (var r in run.Rows(flows + $"""
            SELECT cause, flow, family, proto, src, sport, dst, dport, packets, first_us, last_us, example, verdicts,
                   row_number() OVER (PARTITION BY cause ORDER BY packets DESC, first_us, flow) AS by_packets,
                   row_number() OVER (PARTITION BY cause ORDER BY first_us, flow) AS by_time
            FROM f QUALIFY by_packets <= {top} OR by_time <= {top} ORDER BY cause, by_packets
            """, args))
        {
            string cause = (string)r[0]!;
            var flow = new DroppedFlow((string)r[1]!, (string?)r[2], Int(r[3]), (string?)r[4], Int(r[5]), (string?)r[6], Int(r[7]),
                RunDatabase.ToLong(r[8]), RunDatabase.ToLong(r[9]), RunDatabase.ToLong(r[10]), RunDatabase.ToLong(r[11]), (string)r[12]!);
            if (RunDatabase.ToLong(r[13]) <= top)
                (topFlows.TryGetValue(cause, out var l) ? l : topFlows[cause] = []).Add(flow);
            if (RunDatabase.ToLong(r[14]) <= top)
                (examples.TryGetValue(cause, out var e) ? e : examples[cause] = []).Add(flow.ExamplePacketId);
        }
        var result = new List<DropCause>();
        foreach (var c in causes)
        {
            string cause = (string)c[0]!;
            var ex = examples.GetValueOrDefault(cause) ?? [];
            result.Add(new DropCause(cause, Int(c[1]), (string?)c[2], (string?)c[7] ?? string.Empty, RunDatabase.ToLong(c[3]), RunDatabase.ToLong(c[4]),
                RunDatabase.ToLong(c[5]), RunDatabase.ToLong(c[6]),
                tops.GetValueOrDefault((cause, "src")) ?? [], tops.GetValueOrDefault((cause, "dst")) ?? [], tops.GetValueOrDefault((cause, "port")) ?? [],
                topFlows.GetValueOrDefault(cause) ?? [], ex));
        }
        return new DropReport(run.Path, result.Sum(c => c.Flows), result.Sum(c => c.Packets), result);
    }

    private static (string Where, object?[] Args) Where(RunDatabase run, DropFilter f)
    {
        var clauses = new List<string>();
        var args = new List<object?>();
        string P(object? v)
        {
            args.Add(v);
            return "$" + args.Count;
        }
        if (!string.IsNullOrEmpty(f.Rule))
        {
            if (int.TryParse(f.Rule, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id))
                clauses.Add($"rule_id = {P(id)}");
            else if (f.Rule.Contains('*', StringComparison.Ordinal))
                clauses.Add($"cause ILIKE {P(f.Rule.Replace("%", "\\%", StringComparison.Ordinal).Replace('*', '%'))} ESCAPE '\\'");
            else
                clauses.Add($"(lower(cause) = lower({P(f.Rule)}) OR lower(drop_reason) = lower({P(f.Rule)}))");
        }
        if (f.SinceUs is { } since)
            clauses.Add($"epoch_us(ts) >= {P(since)}");
        if (f.UntilUs is { } until)
            clauses.Add($"epoch_us(ts) <= {P(until)}");
        if (!string.IsNullOrEmpty(f.Src))
            clauses.Add(Address(run, "src", f.Src, P));
        if (!string.IsNullOrEmpty(f.Dst))
            clauses.Add(Address(run, "dst", f.Dst, P));
        if (f.Port is { } port)
            clauses.Add($"(sport = {P(port)} OR dport = {P(port)})");
        return (clauses.Count == 0 ? string.Empty : "WHERE " + string.Join(" AND ", clauses), [.. args]);
    }

    /// <summary>
    /// An address or a prefix such as 10.0.0.0/8 or 2001:db8::/48, compared as the run stores it:
    /// packets_keyed's COLUMN_key is the run_text id of the address's text, so the filter picks the ids
    /// from run_text (a few thousand rows) and the packets are an integer semi-join, not text made for
    /// every row. An IPv4 prefix holds the run's dotted texts, an IPv6 prefix its IPv6 texts (IPv4
    /// addresses, mapped or not, are printed dotted, so ::/0 is every IPv6 address, as 0.0.0.0/0 is every
    /// IPv4 one).
    /// </summary>
    private static string Address(RunDatabase run, string column, string value, Func<object?, string> p)
    {
        string key = column + "_key";
        if (!value.Contains('/', StringComparison.Ordinal))
        {
            if (!System.Net.IPAddress.TryParse(value, out var a))
                throw new ArgumentException($"--{column} {value}: not an address or prefix");
            // The text as the run wrote it (IpAddr's form: an IPv4-mapped address dotted). An address
            // seen again after the writer's bounded id table started over has a second id, hence IN.
            return $"{key} IN (SELECT id FROM run_text WHERE text = {p(Capture.Decode.IpAddr.FromIPAddress(a).ToString())})";
        }
        if (!System.Net.IPNetwork.TryParse(value, out var net))
            throw new ArgumentException($"--{column} {value}: not an address or prefix (such as 10.0.0.0/8 or 2001:db8::/32)");
        if (net.BaseAddress.IsIPv4MappedToIPv6 && net.PrefixLength >= 96)
        {
            // ::ffff:10.0.0.0/104 is 10.0.0.0/8: the run prints IPv4-mapped addresses dotted, as it does
            // a single mapped address given here.
            net = new System.Net.IPNetwork(net.BaseAddress.MapToIPv4(), net.PrefixLength - 96);
        }
        if (net.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            return Ipv6Prefix(run, key, net, p);
        uint lo = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(net.BaseAddress.GetAddressBytes());
        // C# masks a 32-bit shift count to 5 bits (x >> 32 == x): /32 has no host bits, it is not "everything".
        uint hostBits = net.PrefixLength >= 32 ? 0u : uint.MaxValue >> net.PrefixLength;
        uint hi = lo | hostBits;
        // The dotted texts of run_text as numbers: only IPv4 addresses can be inside an IPv4 prefix.
        // TRY_CAST: DuckDB may evaluate the number before the pattern, on a path or a reason.
        const string N = "((TRY_CAST(split_part(text, '.', 1) AS UBIGINT) << 24) | (TRY_CAST(split_part(text, '.', 2) AS UBIGINT) << 16) | (TRY_CAST(split_part(text, '.', 3) AS UBIGINT) << 8) | TRY_CAST(split_part(text, '.', 4) AS UBIGINT))";
        return $"{key} IN (SELECT id FROM run_text WHERE regexp_full_match(text, '[0-9]{{1,3}}\\.[0-9]{{1,3}}\\.[0-9]{{1,3}}\\.[0-9]{{1,3}}') AND {N} BETWEEN {p((long)lo)} AND {p((long)hi)})";
    }

    /// <summary>
    /// The ids of run_text's IPv6 addresses inside <paramref name="net"/>. RFC 5952 text compresses zeros,
    /// so no text pattern or split gives the 128-bit value in SQL: the texts with a colon (paths and
    /// reasons among them, which do not parse) are read and tested here. The ids go back as one text
    /// parameter that DuckDB splits into a semi-join, so a prefix holding a million addresses is one
    /// value, not a million literals in every query.
    /// </summary>
    private static string Ipv6Prefix(RunDatabase run, string key, System.Net.IPNetwork net, Func<object?, string> p)
    {
        var ids = new System.Text.StringBuilder();
        foreach (var r in run.Rows("SELECT id, text FROM run_text WHERE contains(text, ':')"))
        {
            if (System.Net.IPAddress.TryParse((string)r[1]!, out var a) && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
                && !a.IsIPv4MappedToIPv6 && net.Contains(a))
            {
                ids.Append(ids.Length == 0 ? string.Empty : ",").Append(RunDatabase.ToLong(r[0]));
            }
        }
        return ids.Length == 0 ? "FALSE" : $"{key} IN (SELECT CAST(unnest(string_split({p(ids.ToString())}, ',')) AS UBIGINT))";
    }

    internal static int? Int(object? v) => v is null ? null : Convert.ToInt32(v, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The IP protocol's name as iptables prints it (-p tcp), or its number.</summary>
    public static string ProtoName(int? proto) => proto switch
    {
        null => "-",
        6 => "tcp",
        17 => "udp",
        1 => "icmp",
        58 => "icmpv6",
        132 => "sctp",
        136 => "udplite",
        33 => "dccp",
        47 => "gre",
        _ => proto.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
