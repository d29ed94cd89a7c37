using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using TraceReplay.Analytics.Drops;
using TraceReplay.Analytics.Query;

namespace TraceReplay.Cli.Commands;

/// <summary>`tracereplay drops RUN`: which rules (or reasons) dropped which flows.</summary>
internal static class DropsCommand
{
    public static Command Create()
    {
        var run = RunArguments.Run();
        var json = CommonOptions.Json();
        var rule = new Option<string>("--rule") { Description = "Only this cause: filter:INPUT:policy, filter:DOCKER-USER:rule:1, routing:NoRoute, a rules.id, or a pattern such as 'filter:*'." };
        var since = RunArguments.Time("--since", "Only packets at or after this time");
        var until = RunArguments.Time("--until", "Only packets at or before this time");
        var src = new Option<string>("--src") { Description = "Only packets from this address or prefix, IPv4 or IPv6 (as captured, before NAT)." };
        var dst = new Option<string>("--dst") { Description = "Only packets to this address or prefix, IPv4 or IPv6 (as captured, before NAT)." };
        var port = new Option<int?>("--port") { Description = "Only packets with this source or destination port." };
        var top = new Option<int>("--top") { Description = "How many sources, destinations, ports, flows and example packets per cause.", DefaultValueFactory = _ => 5 };
        var command = new Command("drops", "Every rule or reason (no route, rp_filter, ip_forward off, conntrack INVALID or table full, no free NAT port …) that dropped or rejected traffic: flows, packets, time range, top sources, destinations and ports, packets to trace.")
        {
            run, json, rule, since, until, src, dst, port, top,
        };
        command.SetAction((parse, _) =>
        {
            if (parse.GetValue(port) is { } p && (p < 0 || p > 65535))
                throw new UsageException($"--port {p}: not a port number (0-65535)");
            if (parse.GetValue(top) < 1)
                throw new UsageException("--top must be at least 1");
            var filter = new DropFilter
            {
                Rule = parse.GetValue(rule), SinceUs = RunArguments.ParseTime("--since", parse.GetValue(since)), UntilUs = RunArguments.ParseTime("--until", parse.GetValue(until)),
                Src = parse.GetValue(src), Dst = parse.GetValue(dst), Port = parse.GetValue(port), Top = parse.GetValue(top),
            };
            string path = parse.GetValue(run)!;
            using var db = RunArguments.Open(path);
            var report = DropReports.Build(db, filter);
            var o = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
                WriteJson(o, report);
            else
                WriteText(o, report, path, filter != new DropFilter { Top = filter.Top });
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    private static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string Plural(long n, string one) => $"{N(n)} {one}{(n == 1 ? string.Empty : "s")}";

    private static string Tuple(DroppedFlow f) =>
        $"{DropReports.ProtoName(f.Proto)} {f.Src}{(f.Sport is null ? string.Empty : ":" + f.Sport)} > {f.Dst}{(f.Dport is null ? string.Empty : ":" + f.Dport)}";

    private static void WriteText(TextWriter o, DropReport r, string path, bool filtered)
    {
        if (r.Causes.Count == 0)
        {
            o.WriteLine($"No drops in {path} (no packet was dropped or rejected{(filtered ? " that these filters select" : string.Empty)}).");
            return;
        }
        o.WriteLine($"Drops in {path}: {Plural(r.Causes.Count, "cause")}, {Plural(r.Flows, "flow")}, {Plural(r.Packets, "packet")}");
        foreach (var c in r.Causes)
        {
            o.WriteLine();
            o.WriteLine($"{c.Cause}  {c.Verdicts}  {Plural(c.Flows, "flow")}, {Plural(c.Packets, "packet")}  {RunArguments.FormatTime(c.FirstUs)} .. {RunArguments.FormatTime(c.LastUs)}");
            if (c.RuleText is not null)
                o.WriteLine($"  rule          {(c.Cause.EndsWith(":policy", StringComparison.Ordinal) ? "policy " : string.Empty)}{c.RuleText}");
            o.WriteLine($"  sources       {Tallies(c.Sources)}");
            o.WriteLine($"  destinations  {Tallies(c.Destinations)}");
            o.WriteLine($"  ports         {Tallies(c.Ports)}");
            o.WriteLine($"  flows{(c.Flows > c.TopFlows.Count ? $" (top {c.TopFlows.Count})" : string.Empty)}");
            foreach (var f in c.TopFlows)
                o.WriteLine($"    {Tuple(f),-52} {Plural(f.Packets, "packet"),-12} {RunArguments.FormatTime(f.FirstUs)}  packet {f.ExamplePacketId}");
            o.WriteLine($"  trace         tracereplay trace {path} {c.ExamplePacketIds[0]}   (examples: {string.Join(", ", c.ExamplePacketIds)})");
        }
    }

    private static string Tallies(IReadOnlyList<DropTally> t) =>
        t.Count == 0 ? "-" : string.Join(", ", t.Select(x => $"{x.Value} ({Plural(x.Flows, "flow")}, {Plural(x.Packets, "packet")})"));

    private static void WriteJson(TextWriter o, DropReport r)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("run", r.Run);
            w.WriteNumber("flows", r.Flows);
            w.WriteNumber("packets", r.Packets);
            w.WriteStartArray("causes");
            foreach (var c in r.Causes)
            {
                w.WriteStartObject();
                w.WriteString("cause", c.Cause);
                w.WritePropertyName("rule_id");
                ResultFormat.WriteValue(w, c.RuleId);
                w.WriteString("rule_text", c.RuleText);
                w.WriteString("verdicts", c.Verdicts);
                w.WriteNumber("flows", c.Flows);
                w.WriteNumber("packets", c.Packets);
                w.WriteString("first", RunArguments.FormatTime(c.FirstUs));
                w.WriteString("last", RunArguments.FormatTime(c.LastUs));
                Tallies(w, "sources", c.Sources);
                Tallies(w, "destinations", c.Destinations);
                Tallies(w, "ports", c.Ports);
                w.WriteStartArray("top_flows");
                foreach (var f in c.TopFlows)
                {
                    w.WriteStartObject();
                    w.WriteString("flow", f.Flow);
                    w.WriteString("family", f.Family);
                    w.WriteString("proto", DropReports.ProtoName(f.Proto));
                    w.WriteString("src", f.Src);
                    w.WritePropertyName("sport");
                    ResultFormat.WriteValue(w, f.Sport);
                    w.WriteString("dst", f.Dst);
                    w.WritePropertyName("dport");
                    ResultFormat.WriteValue(w, f.Dport);
                    w.WriteNumber("packets", f.Packets);
                    w.WriteString("first", RunArguments.FormatTime(f.FirstUs));
                    w.WriteString("last", RunArguments.FormatTime(f.LastUs));
                    w.WriteNumber("example_packet_id", f.ExamplePacketId);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteStartArray("example_packet_ids");
                foreach (long id in c.ExamplePacketIds)
                    w.WriteNumberValue(id);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        o.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static void Tallies(Utf8JsonWriter w, string name, IReadOnlyList<DropTally> t)
    {
        w.WriteStartArray(name);
        foreach (var x in t)
        {
            w.WriteStartObject();
            w.WriteString("value", x.Value);
            w.WriteNumber("flows", x.Flows);
            w.WriteNumber("packets", x.Packets);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
