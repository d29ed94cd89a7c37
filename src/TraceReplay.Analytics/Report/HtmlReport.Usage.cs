using System.Globalization;
using TraceReplay.Analytics.Anomaly;
using TraceReplay.Analytics.Nat;
using TraceReplay.Analytics.Rules;

namespace TraceReplay.Analytics.Report;

/// <summary>The NAT, conntrack, top talkers, rule usage and anomaly sections.</summary>
public static partial class HtmlReport
{
    private static void WriteNat(TextWriter o, RunReport r)
    {
        var n = r.Nat;
        Open(o, "nat");
        if (n.Groups.Count == 0)
            Note(o, "No NAT bindings in this run.");
        else
        {
            o.WriteLine($"<p>{N(n.Groups.Sum(g => g.Mappings))} NAT bindings (the same as <code>tracereplay nat</code>). Utilisation is the most distinct ports in use at once against the range the kernel searches.</p>");
            Table(o, ["type", "NAT address", "proto", "port range", "bindings", "peak live", "peak at", "peak ports", "utilisation", "port reuse", "internal hosts"], n.Groups.Select(g => new[]
            {
                Cell.T(g.Manip == "SRC" ? "SNAT" : "DNAT"), Cell.C(g.Address), Cell.T(g.Protocol),
                Cell.T(g.Range is { } rg ? rg.ToString() : "none (destination ports are not searched)"),
                Cell.Num(g.Mappings), Cell.Num(g.PeakLive), Cell.T(Time(g.PeakLiveUs)), Cell.Num(g.PeakPorts), new Cell(Pct(g.PeakUtilisation), true),
                Cell.T(g.ReusedPorts == 0 ? "none" : $"{N(g.ReusedPorts)} ports, {N(g.ReusingMappings)} bindings ({N(g.ConcurrentReuse)} concurrent)"),
                Cell.T(string.Join(", ", g.InternalHosts.Select(h => $"{h.Address} ({N(h.Mappings)})"))),
            }));
        }
        if (n.Failures.Count == 0)
            Note(o, "NAT failures: none (no packet dropped for lack of a free port or address).");
        else
            Table(o, ["NAT failure", "proto", "packets", "first", "last"], n.Failures.Select(f => new[] { Cell.C(f.Reason), Cell.T(f.Protocol), Cell.Num(f.Packets), Cell.T(Time(f.FirstUs)), Cell.T(Time(f.LastUs)) }));
        o.WriteLine("<figure id=\"nat-plot\">");
        o.WriteLine($"<img class=\"plot\" alt=\"NAT bindings and ports in use over time; conntrack entries over time\" src=\"data:image/png;base64,{Convert.ToBase64String(r.NatPng)}\">");
        o.WriteLine($"<figcaption>The <code>tracereplay nat --png</code> figure: top, live NAT bindings (solid) and ports in use (dashed) per NAT address and protocol; bottom, conntrack entries. Peak per {E(NatBuckets.Format(n.BucketUs))} bucket.</figcaption>");
        o.WriteLine("</figure>");
        Close(o);
    }

    private static void WriteConntrack(TextWriter o, RunReport r)
    {
        var c = r.Nat.Conntrack;
        Open(o, "conntrack");
        o.WriteLine($"<p>{N(c.Connections)} connections; peak <b>{N(c.Peak)}</b> entries at {E(Time(c.PeakUs))}"
            + (c.Max is { } max ? $" of nf_conntrack_max {N(max)} ({E(c.MaxOrigin)}): <b>{Pct(c.PeakFill)}</b> full" : $"; nf_conntrack_max {E(c.MaxOrigin)}")
            + (c.TableFullDrops > 0 ? $"; <span class=\"drop\">{N(c.TableFullDrops)} packets dropped with the table full</span>" : "; no packet dropped for a full table") + ".</p>");
        var points = c.Buckets.Select(b => (b.StartUs, (double)b.MaxLive)).ToList();
        o.WriteLine("<figure id=\"conntrack-plot\">");
        o.WriteLine(SvgPlot.Steps(points, r.Nat.BucketUs, "conntrack entries", c.Max is { } m ? $"nf_conntrack_max {N(m)}" : null));
        o.WriteLine($"<figcaption>Conntrack entries over time (peak per {E(NatBuckets.Format(r.Nat.BucketUs))} bucket).</figcaption>");
        o.WriteLine("</figure>");
        Close(o);
    }

    private static void WriteTalkers(TextWriter o, TopTalkers t)
    {
        Open(o, "talkers");
        if (t.Packets == 0)
        {
            Note(o, "No IP packets in this run.");
            Close(o);
            return;
        }
        o.WriteLine($"<p>Source addresses as captured (before NAT), over {N(t.Packets)} IP packets and {N(t.Bytes)} bytes on the wire; a packet seen on several interfaces counts once.</p>");
        Cell[] Row(Talker x) => [Cell.C(x.Address), Cell.Num(x.Packets), new Cell(Pct(100.0 * x.Packets / t.Packets), true), Cell.Num(x.Bytes), new Cell(Pct(t.Bytes == 0 ? null : 100.0 * x.Bytes / t.Bytes), true)];
        o.WriteLine("<h3>By packets</h3>");
        Table(o, ["source", "packets", "share", "bytes", "share"], t.ByPackets.Select(Row), "talkers-packets");
        o.WriteLine("<h3>By bytes</h3>");
        Table(o, ["source", "packets", "share", "bytes", "share"], t.ByBytes.Select(Row), "talkers-bytes");
        Close(o);
    }

    /// <summary>Rules listed per table at most; the rest is counted, so a rule set of thousands keeps the page readable.</summary>
    private const int RuleRows = 50;

    private static void WriteRules(TextWriter o, RunReport r)
    {
        var u = r.Rules;
        Open(o, "rules");
        o.WriteLine($"<p>{N(u.Rules.Count)} rules and policies (the same as <code>tracereplay rules usage</code>).</p>");
        // Hottest and NeverMatched are taken before the host's counters are filled in; Rules has them.
        var filled = u.Rules.ToDictionary(x => x.Id);
        List<RuleUsage> WithHost(IEnumerable<RuleUsage> list) => [.. list.Select(x => filled.GetValueOrDefault(x.Id) ?? x)];
        o.WriteLine("<h3>Hottest rules</h3>");
        RuleTable(o, WithHost(u.Hottest), withHost: true);
        o.WriteLine($"<h3>Never matched ({N(u.NeverMatched.Count)})</h3>");
        if (u.ShadowNote is not null)
            Note(o, u.ShadowNote);
        RuleTable(o, WithHost(u.NeverMatched), withHost: true);
        if (u.Shadowed is { } shadowed)
        {
            o.WriteLine($"<h3>Never reached: shadowed by earlier rules ({N(shadowed.Count)})</h3>");
            Table(o, ["rule", "text", "chain packets", "decided before it by"], shadowed.Take(RuleRows).Select(s => new[]
            {
                Cell.C(s.Rule.Name), Cell.C(s.Rule.Text), Cell.Num(s.ChainPackets), new Cell(string.Join("<br>", s.Before.Select(b => $"<code>{E(b.Name)}</code> <code>{E(b.Text)}</code>"))),
            }));
        }
        var h = u.Host;
        o.WriteLine("<h3>Against the host's own counters</h3>");
        if (h.Compared == 0)
            Note(o, h.Note ?? "No rule could be compared with the host's counters.");
        else
        {
            o.WriteLine($"<p>{N(h.Compared)} rules compared with <code>iptables-save -c</code> of <code>{E(h.Snapshot)}</code>: <b>{N(h.Equal)}</b> equal in packets and bytes, <b>{N(h.Differ.Count)}</b> differ.</p>");
            if (h.Note is not null)
                Note(o, h.Note);
            if (h.Differ.Count > 0)
                RuleTable(o, h.Differ, withHost: true);
        }
        Close(o);
    }

    private static void RuleTable(TextWriter o, IReadOnlyList<RuleUsage> rules, bool withHost)
    {
        if (rules.Count == 0)
        {
            Note(o, "none");
            return;
        }
        string[] headers = withHost ? ["rule", "text", "packets", "bytes", "dropped", "host packets", "host bytes"] : ["rule", "text", "packets", "bytes", "dropped"];
        Table(o, headers, rules.Take(RuleRows).Select(x => withHost
            ? new[] { Cell.C(x.Name), Cell.C(x.Text), Cell.Num(x.Packets), Cell.Num(x.Bytes), Cell.Num(x.Dropped), Cell.Num(x.HostPackets), Cell.Num(x.HostBytes) }
            : [Cell.C(x.Name), Cell.C(x.Text), Cell.Num(x.Packets), Cell.Num(x.Bytes), Cell.Num(x.Dropped)]));
        if (rules.Count > RuleRows)
            Note(o, $"… and {N(rules.Count - RuleRows)} more");
    }

    private static void WriteAnomalies(TextWriter o, RunReport r)
    {
        Open(o, "anomalies");
        if (r.Anomalies is not { } a)
        {
            Note(o, "Not scored: " + r.AnomalyNote);
            Close(o);
            return;
        }
        o.WriteLine($"<p>{N(a.Findings.Count)} windows of {E(BucketSpan.Format(a.Bucket))} (host, service, NAT address, conntrack table) scored against {E(a.Baseline)}; the top {N(Math.Min(r.Options.Top, a.Findings.Count))} (the same as <code>tracereplay anomalies</code>):</p>");
        o.WriteLine("<ol class=\"findings\">");
        foreach (var f in a.Findings.Take(r.Options.Top))
        {
            o.WriteLine($"<li><b>{E(f.Summary)}</b> <span class=\"muted\">— {E(Explain.KindName(f.Window.Kind))} {E(f.Window.Entity)}, {E(Time(f.Window.BucketStartUs))}, score {f.Score.ToString("0.00", CultureInfo.InvariantCulture)}</span></li>");
        }
        o.WriteLine("</ol>");
        Note(o, "Scored against the run's own normal: a run that is all attack, or all quiet, has nothing to stand out against; train a model on known-good runs with `tracereplay anomalies --train` for that.");
        Close(o);
    }
}
