using TraceReplay.Analytics.Drops;
using TraceReplay.Analytics.Query;

namespace TraceReplay.Analytics.Report;

/// <summary>The run summary, fidelity and drops sections.</summary>
public static partial class HtmlReport
{
    private static void WriteSummary(TextWriter o, RunReport r)
    {
        var s = r.Summary;
        Open(o, "summary");
        string span = s.FirstUs is { } f && s.LastUs is { } l ? $"from {Time(f)} to {Time(l)} ({((l - f) / 1e6).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s)" : "no packets";
        o.WriteLine($"<p><b>{N(s.Packets)}</b> packets ({N(s.Sightings)} sightings at the capture points), {E(span)}.</p>");
        o.WriteLine("<h3>Verdicts</h3>");
        Table(o, ["verdict", "packets", "share", "sightings"], s.Verdicts.Select(v => new[]
        {
            new Cell($"<span class=\"{(v.Verdict is "DROP" or "REJECT" ? "drop" : v.Verdict == "ACCEPT" ? "ok" : "muted")}\">{E(v.Verdict)}</span>"),
            Cell.Num(v.Packets), new Cell(Pct(s.Packets == 0 ? null : 100.0 * v.Packets / s.Packets), true), Cell.Num(v.Sightings),
        }));
        Note(o, "A packet's verdict is the one of its last sighting; a packet seen on several interfaces (routed, bridged, NATed) is one packet with several sightings.");
        o.WriteLine("<h3>Captures</h3>");
        Table(o, [.. s.CaptureColumns], s.Captures.Select(c => c.Select((v, i) => i == 4 ? Cell.Num(RunDatabaseLong(v)) : i == 0 ? Cell.C(ResultFormat.Text(v)) : Cell.T(ResultFormat.Text(v))).ToArray()));
        o.WriteLine("<h3>run_info</h3>");
        Table(o, ["key", "value"], s.Info.Select(kv => new[] { Cell.T(kv.Key), Cell.C(kv.Value) }), "kv");
        Close(o);
    }

    private static long RunDatabaseLong(object? v) => Run.RunDatabase.ToLong(v);

    private static void WriteFidelity(TextWriter o, FidelitySection f)
    {
        Open(o, "fidelity");
        if (!f.Recorded)
        {
            o.WriteLine("<p class=\"note\" id=\"fidelity-none\">Fidelity not recorded: the run has no fidelity table and no packet's observed egress was checked against the prediction.</p>");
            Close(o);
            return;
        }
        if (f.Observed.Count > 0)
        {
            o.WriteLine("<h3>Observed egress against the prediction (packets.observed)</h3>");
            long all = f.Observed.Sum(x => x.Sightings);
            Table(o, ["observed", "sightings", "share"], f.Observed.Select(x => new[] { Cell.T(x.Observed), Cell.Num(x.Sightings), new Cell(Pct(100.0 * x.Sightings / all), true) }));
        }
        if (f.Columns.Count > 0)
        {
            o.WriteLine($"<h3>fidelity table ({N(f.TotalRows)} rows{(f.TotalRows > f.Rows.Count ? $", the first {N(f.Rows.Count)} shown" : string.Empty)})</h3>");
            Table(o, [.. f.Columns], f.Rows.Select(row => row.Select(v => v is long or int or short or byte or ulong or uint or ushort or System.Numerics.BigInteger
                ? new Cell(E(ResultFormat.Text(v)), true) : Cell.T(ResultFormat.Text(v))).ToArray()));
        }
        Close(o);
    }

    private static void WriteDrops(TextWriter o, RunReport r)
    {
        var d = r.Drops;
        Open(o, "drops");
        if (d.Causes.Count == 0)
        {
            Note(o, "Nothing was dropped or rejected in this run.");
            Close(o);
            return;
        }
        o.WriteLine($"<p><b>{N(d.Flows)}</b> flows, <b>{N(d.Packets)}</b> packets dropped or rejected by {N(d.Causes.Count)} rules or reasons (the same as <code>tracereplay drops</code>).</p>");
        Table(o, ["cause", "rule", "verdicts", "flows", "packets", "first", "last"], d.Causes.Select(c => new[]
        {
            Cell.C(c.Cause), Cell.C(c.RuleText), Cell.T(c.Verdicts), Cell.Num(c.Flows), Cell.Num(c.Packets), Cell.T(Time(c.FirstUs)), Cell.T(Time(c.LastUs)),
        }));
        foreach (var c in d.Causes)
        {
            o.WriteLine($"<h3><code>{E(c.Cause)}</code>{(c.RuleText is null ? string.Empty : $" <code>{E(c.RuleText)}</code>")}</h3>");
            string Tallies(IReadOnlyList<DropTally> t) => string.Join(", ", t.Select(x => $"{E(x.Value)} ({N(x.Flows)} flow{(x.Flows == 1 ? string.Empty : "s")}, {N(x.Packets)} pkt)"));
            o.WriteLine("<table class=\"kv\"><tbody>");
            o.WriteLine($"<tr><td>sources</td><td>{Tallies(c.Sources)}</td></tr>");
            o.WriteLine($"<tr><td>destinations</td><td>{Tallies(c.Destinations)}</td></tr>");
            o.WriteLine($"<tr><td>ports</td><td>{Tallies(c.Ports)}</td></tr>");
            o.WriteLine($"<tr><td>example packets</td><td>{string.Join(", ", c.ExamplePacketIds.Select(id => $"<code>{id}</code>"))} <span class=\"muted\">(<code>tracereplay trace {E(Path.GetFileName(r.Run))} ID</code>)</span></td></tr>");
            o.WriteLine("</tbody></table>");
            Table(o, ["top flows", "proto", "source", "destination", "packets", "first", "last", "example packet"], c.TopFlows.Select(f => new[]
            {
                Cell.C(f.Flow), Cell.T(DropReports.ProtoName(f.Proto)), Cell.T(Endpoint(f.Src, f.Sport, f.Proto)), Cell.T(Endpoint(f.Dst, f.Dport, f.Proto)),
                Cell.Num(f.Packets), Cell.T(Time(f.FirstUs)), Cell.T(Time(f.LastUs)), new Cell(f.ExamplePacketId.ToString(System.Globalization.CultureInfo.InvariantCulture), true),
            }));
        }
        Close(o);
    }

    /// <summary>address:port, [v6]:port; ICMP has no ports (the run stores the echo id and type/code there).</summary>
    private static string Endpoint(string? addr, int? port, int? proto) =>
        addr is null ? "-" : port is null || proto is 1 or 58 ? addr : addr.Contains(':', StringComparison.Ordinal) ? $"[{addr}]:{port}" : $"{addr}:{port}";
}
