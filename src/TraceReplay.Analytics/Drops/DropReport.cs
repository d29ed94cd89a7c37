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
        var (where, args) = Where(filter);
        string flows = $"""
            SELECT cause, any_value(rule_id) AS rule_id, any_value(rule_text) AS rule_text, flow, arg_min(family, id)::VARCHAR AS family, arg_min(proto, id) AS proto,
                   arg_min(src, id) AS src, arg_min(sport, id) AS sport, arg_min(dst, id) AS dst, arg_min(dport, id) AS dport,
                   count(DISTINCT packet_id) AS packets, epoch_us(min(ts)) AS first_us, epoch_us(max(ts)) AS last_us, min(packet_id) AS example,
                   string_agg(DISTINCT verdict::VARCHAR, ',' ORDER BY verdict::VARCHAR) AS verdicts
            FROM v_drop_packets {where} GROUP BY cause, flow
            """;
        var byCause = new Dictionary<string, List<(object?[] Row, DroppedFlow Flow)>>(StringComparer.Ordinal);
        foreach (var row in run.Rows(flows + " ORDER BY cause, first_us, flow", args))
        {
            var f = new DroppedFlow((string)row[3]!, (string?)row[4], Int(row[5]), (string?)row[6], Int(row[7]), (string?)row[8], Int(row[9]),
                RunDatabase.ToLong(row[10]), RunDatabase.ToLong(row[11]), RunDatabase.ToLong(row[12]), RunDatabase.ToLong(row[13]), (string)row[14]!);
            string cause = (string)row[0]!;
            if (!byCause.TryGetValue(cause, out var list))
                byCause[cause] = list = [];
            list.Add((row, f));
        }
        var causes = new List<DropCause>();
        foreach (var (cause, list) in byCause)
        {
            var fl = list.Select(x => x.Flow).ToList();
            int? ruleId = Int(list[0].Row[1]);
            string? ruleText = (string?)list[0].Row[2];
            causes.Add(new DropCause(
                cause, ruleId, ruleText,
                string.Join(",", fl.SelectMany(f => f.Verdicts.Split(',')).Distinct().Order(StringComparer.Ordinal)),
                fl.Count, fl.Sum(f => f.Packets), fl.Min(f => f.FirstUs), fl.Max(f => f.LastUs),
                Tally(fl, f => f.Src, filter.Top), Tally(fl, f => f.Dst, filter.Top),
                Tally(fl, f => f.Dport is null ? null : $"{ProtoName(f.Proto)}/{f.Dport}", filter.Top),
                [.. fl.OrderByDescending(f => f.Packets).ThenBy(f => f.FirstUs).Take(filter.Top)],
                [.. fl.OrderBy(f => f.FirstUs).Select(f => f.ExamplePacketId).Take(filter.Top)]));
        }
        causes.Sort((a, b) => a.Packets != b.Packets ? b.Packets.CompareTo(a.Packets) : string.CompareOrdinal(a.Cause, b.Cause));
        return new DropReport(run.Path, causes.Sum(c => c.Flows), causes.Sum(c => c.Packets), causes);
    }

    private static List<DropTally> Tally(List<DroppedFlow> flows, Func<DroppedFlow, string?> key, int top) =>
        [.. flows.Where(f => key(f) is not null).GroupBy(key)
            .Select(g => new DropTally(g.Key!, g.Count(), g.Sum(f => f.Packets)))
            .OrderByDescending(t => t.Flows).ThenByDescending(t => t.Packets).ThenBy(t => t.Value, StringComparer.Ordinal).Take(top)];

    private static (string Where, object?[] Args) Where(DropFilter f)
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
            clauses.Add($"src = {P(f.Src)}");
        if (!string.IsNullOrEmpty(f.Dst))
            clauses.Add($"dst = {P(f.Dst)}");
        if (f.Port is { } port)
            clauses.Add($"(sport = {P(port)} OR dport = {P(port)})");
        return (clauses.Count == 0 ? string.Empty : "WHERE " + string.Join(" AND ", clauses), [.. args]);
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
