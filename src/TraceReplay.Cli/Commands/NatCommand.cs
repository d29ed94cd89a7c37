using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using TraceReplay.Analytics.Nat;

namespace TraceReplay.Cli.Commands;

/// <summary>`tracereplay nat RUN [--bucket 1m] [--png FILE]`: NAT table usage over time and the conntrack table's fill.</summary>
internal static class NatCommand
{
    public static Command Create()
    {
        var run = RunArguments.Run();
        var json = CommonOptions.Json();
        var bucket = new Option<string>("--bucket") { Description = "Time bucket: a number and s, m or h (1s, 10s, 1m).", DefaultValueFactory = _ => "1m" };
        var png = new Option<FileInfo?>("--png") { Description = "Also draw NAT bindings, ports in use and conntrack entries over time into this PNG file." };
        var all = new Option<bool>("--all-buckets") { Description = "List every bucket in the text output, not only those with bindings, new bindings or failures." };
        var command = new Command("nat", "NAT table usage over time per NAT address and protocol: live bindings, ports in use against the range (utilisation), new bindings per bucket, the peak and when, bindings per internal host, port reuse, failures for lack of a free port; and the conntrack table's fill against nf_conntrack_max.")
        {
            run, json, bucket, png, all,
        };
        command.SetAction((parse, _) =>
        {
            string b = parse.GetValue(bucket)!;
            long bucketUs = NatBuckets.Parse(b) ?? throw new UsageException($"--bucket {b}: not a time bucket; expected a number and s, m or h, such as 1s, 10s or 1m");
            var pngFile = parse.GetValue(png);
            if (pngFile?.Directory is { Exists: false } d)
                throw new UsageException($"--png {pngFile.FullName}: directory {d.FullName} does not exist");
            string path = parse.GetValue(run)!;
            using var db = RunArguments.Open(path);
            var report = NatUsageReports.Build(db, bucketUs);
            var o = parse.InvocationConfiguration.Output;
            if (pngFile is not null)
                NatPlot.SavePng(report, pngFile.FullName);
            if (parse.GetValue(json))
                WriteJson(o, report);
            else
                WriteText(o, report, path, parse.GetValue(all));
            if (pngFile is not null && !parse.GetValue(json))
                o.WriteLine($"wrote {pngFile.FullName}");
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    private static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string T(long us) => RunArguments.FormatTime(us);

    private static string Pct(double? v) => v is { } x ? x.ToString(x >= 1 ? "0.0" : "0.####", CultureInfo.InvariantCulture) + "%" : "-";

    private static void WriteText(TextWriter o, NatUsageReport r, string path, bool allBuckets)
    {
        o.WriteLine($"NAT usage in {path}: {N(r.Groups.Sum(g => g.Mappings))} bindings, buckets of {NatBuckets.Format(r.BucketUs)} from {T(r.StartUs)}");
        foreach (var g in r.Groups)
        {
            o.WriteLine();
            string range = g.Range is { } rg ? $"ports {rg.Min}-{rg.Max} ({rg.Origin})" : "no port range (destination ports are not searched)";
            o.WriteLine($"{(g.Manip == "SRC" ? "SNAT" : "DNAT")} {g.Address} {g.Protocol}  {range}");
            o.WriteLine($"  bindings      {N(g.Mappings)} over the run, peak {N(g.PeakLive)} live at {T(g.PeakLiveUs)}");
            if (g.Range is { } rr)
                o.WriteLine($"  ports         {N(g.DistinctPorts)} distinct, peak {N(g.PeakPorts)} in use at once of {N(rr.Size)} at {T(g.PeakPortsUs)}: utilisation {Pct(g.PeakUtilisation ?? 100.0 * g.PeakPorts / rr.Size)}");
            else
                o.WriteLine($"  ports         {N(g.DistinctPorts)} distinct");
            o.WriteLine($"  port reuse    {(g.ReusedPorts == 0 ? "none" : $"{N(g.ReusedPorts)} ports served more than one binding ({N(g.ReusingMappings)} bindings reused a port, {N(g.ConcurrentReuse)} while it was still live for another peer)")}");
            o.WriteLine($"  internal      {string.Join(", ", g.InternalHosts.Select(h => $"{h.Address} ({N(h.Mappings)} binding{(h.Mappings == 1 ? string.Empty : "s")}, {N(h.Ports)} port{(h.Ports == 1 ? string.Empty : "s")})"))}");
            o.WriteLine($"  {"bucket",-27} {"live",8} {"ports",8} {"util",9} {"new",8}");
            foreach (var b in g.Buckets.Where(b => allBuckets || b.MaxLive > 0 || b.New > 0))
                o.WriteLine($"  {T(b.StartUs),-27} {N(b.MaxLive),8} {N(b.MaxPorts),8} {(g.Range is { } x && g.Manip == "SRC" ? Pct(100.0 * b.MaxPorts / x.Size) : "-"),9} {N(b.New),8}");
        }
        o.WriteLine();
        if (r.Failures.Count == 0)
        {
            o.WriteLine("NAT failures: none (no packet dropped for lack of a free port or address)");
        }
        else
        {
            o.WriteLine($"NAT failures: {N(r.Failures.Sum(f => f.Packets))} packets");
            foreach (var f in r.Failures)
                o.WriteLine($"  {f.Reason,-24} {f.Protocol,-6} {N(f.Packets),8} packets  {T(f.FirstUs)} .. {T(f.LastUs)}");
            foreach (var b in r.FailureBuckets.Where(b => b.Failures > 0))
                o.WriteLine($"  {T(b.StartUs),-27} {N(b.Failures),8}");
        }
        var c = r.Conntrack;
        o.WriteLine();
        o.WriteLine($"Conntrack table: {N(c.Connections)} connections, peak {N(c.Peak)} entries at {T(c.PeakUs)}"
            + (c.Max is { } max ? $" of nf_conntrack_max {N(max)} ({c.MaxOrigin}): {Pct(c.PeakFill)}" : $"; nf_conntrack_max {c.MaxOrigin}")
            + (c.TableFullDrops > 0 ? $"; {N(c.TableFullDrops)} packets dropped with the table full" : string.Empty));
        foreach (var b in c.Buckets.Where(b => allBuckets || b.MaxLive > 0))
            o.WriteLine($"  {T(b.StartUs),-27} {N(b.MaxLive),8}  {(c.Max is > 0 ? Pct(100.0 * b.MaxLive / c.Max.Value) : "-")}");
    }

    private static void WriteJson(TextWriter o, NatUsageReport r)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("run", r.Run);
            w.WriteString("bucket", NatBuckets.Format(r.BucketUs));
            w.WriteString("start", T(r.StartUs));
            w.WriteString("end", T(r.EndUs));
            w.WriteStartArray("groups");
            foreach (var g in r.Groups)
            {
                w.WriteStartObject();
                w.WriteString("manip", g.Manip);
                w.WriteString("nat_addr", g.Address);
                w.WriteString("proto", g.Protocol);
                if (g.Range is { } rg)
                {
                    w.WriteStartObject("range");
                    w.WriteNumber("min", rg.Min);
                    w.WriteNumber("max", rg.Max);
                    w.WriteNumber("size", rg.Size);
                    w.WriteString("origin", rg.Origin);
                    w.WriteEndObject();
                }
                else
                {
                    w.WriteNull("range");
                }
                w.WriteNumber("bindings", g.Mappings);
                w.WriteNumber("distinct_ports", g.DistinctPorts);
                w.WriteNumber("peak_live", g.PeakLive);
                w.WriteString("peak_live_at", T(g.PeakLiveUs));
                w.WriteNumber("peak_ports", g.PeakPorts);
                w.WriteString("peak_ports_at", T(g.PeakPortsUs));
                if (g.PeakUtilisation is { } u)
                    w.WriteNumber("peak_utilisation_pct", u);
                else
                    w.WriteNull("peak_utilisation_pct");
                w.WriteNumber("reused_ports", g.ReusedPorts);
                w.WriteNumber("reusing_bindings", g.ReusingMappings);
                w.WriteNumber("concurrent_reuse", g.ConcurrentReuse);
                w.WriteStartArray("internal_hosts");
                foreach (var h in g.InternalHosts)
                {
                    w.WriteStartObject();
                    w.WriteString("address", h.Address);
                    w.WriteNumber("bindings", h.Mappings);
                    w.WriteNumber("ports", h.Ports);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                Buckets(w, g.Buckets, b => b.MaxLive > 0 || b.New > 0);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("failures");
            foreach (var f in r.Failures)
            {
                w.WriteStartObject();
                w.WriteString("reason", f.Reason);
                w.WriteString("proto", f.Protocol);
                w.WriteNumber("packets", f.Packets);
                w.WriteString("first", T(f.FirstUs));
                w.WriteString("last", T(f.LastUs));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            var c = r.Conntrack;
            w.WriteStartObject("conntrack");
            if (c.Max is { } max)
                w.WriteNumber("nf_conntrack_max", max);
            else
                w.WriteNull("nf_conntrack_max");
            w.WriteString("nf_conntrack_max_origin", c.MaxOrigin);
            w.WriteNumber("connections", c.Connections);
            w.WriteNumber("peak", c.Peak);
            w.WriteString("peak_at", T(c.PeakUs));
            if (c.PeakFill is { } fill)
                w.WriteNumber("peak_fill_pct", fill);
            else
                w.WriteNull("peak_fill_pct");
            w.WriteNumber("table_full_drops", c.TableFullDrops);
            Buckets(w, c.Buckets, b => b.MaxLive > 0);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        o.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    /// <summary>Buckets with something in them (JSON readers fill the gaps with zeros).</summary>
    private static void Buckets(Utf8JsonWriter w, IReadOnlyList<NatBucket> buckets, Func<NatBucket, bool> keep)
    {
        w.WriteStartArray("buckets");
        foreach (var b in buckets.Where(keep))
        {
            w.WriteStartObject();
            w.WriteString("start", T(b.StartUs));
            w.WriteNumber("live", b.MaxLive);
            w.WriteNumber("ports", b.MaxPorts);
            w.WriteNumber("new", b.New);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
