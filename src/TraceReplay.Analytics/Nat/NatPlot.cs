using ScottPlot;

namespace TraceReplay.Analytics.Nat;

/// <summary>
/// `nat --png`: two panels over the run's time — live NAT bindings and ports in use per NAT address
/// and protocol, and the conntrack table's entries (against nf_conntrack_max in the title) — as step
/// lines of each bucket's peak. Text is drawn with DejaVu Sans (`make deps` installs
/// fonts-dejavu-core), so a headless machine renders labels and not boxes.
/// </summary>
public static class NatPlot
{
    public const string FontName = "DejaVu Sans";

    public static void SavePng(NatUsageReport report, string path, int width = 1200, int height = 800)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var multi = new Multiplot();
        multi.AddPlots(2);
        var nat = multi.GetPlot(0);
        var ct = multi.GetPlot(1);
        double[] Xs(IReadOnlyList<NatBucket> b) => [.. b.Select(x => DateTime.UnixEpoch.AddTicks(x.StartUs * 10).ToOADate())];
        foreach (var g in report.Groups)
        {
            var xs = Xs(g.Buckets);
            var live = nat.Add.Scatter(xs, g.Buckets.Select(b => (double)b.MaxLive).ToArray());
            live.ConnectStyle = ConnectStyle.StepHorizontal;
            live.MarkerSize = 0;
            live.LineWidth = 2;
            live.LegendText = $"{g.Manip} {g.Address} {g.Protocol}: live bindings";
            if (g.Manip == "SRC")
            {
                var ports = nat.Add.Scatter(xs, g.Buckets.Select(b => (double)b.MaxPorts).ToArray());
                ports.ConnectStyle = ConnectStyle.StepHorizontal;
                ports.MarkerSize = 0;
                ports.LinePattern = LinePattern.Dashed;
                ports.LegendText = $"{g.Manip} {g.Address} {g.Protocol}: ports in use" + (g.Range is { } r ? $" of {r.Size:N0}" : string.Empty);
            }
        }
        if (report.Groups.Count == 0)
            nat.Add.Annotation("no NAT bindings in this run");
        if (report.FailureBuckets.Any(b => b.Failures > 0))
        {
            var f = nat.Add.Scatter(Xs(report.FailureBuckets), report.FailureBuckets.Select(b => (double)b.Failures).ToArray());
            f.ConnectStyle = ConnectStyle.StepHorizontal;
            f.MarkerSize = 0;
            f.Color = Colors.Red;
            f.LegendText = "NAT failures (no free port, …) per bucket";
        }
        string bucket = NatBuckets.Format(report.BucketUs);
        nat.Title($"NAT table usage (peak per {bucket} bucket)");
        nat.YLabel("bindings / ports");
        nat.Axes.DateTimeTicksBottom();
        nat.ShowLegend(Alignment.UpperLeft);

        var c = report.Conntrack;
        var entries = ct.Add.Scatter(Xs(c.Buckets), c.Buckets.Select(b => (double)b.MaxLive).ToArray());
        entries.ConnectStyle = ConnectStyle.StepHorizontal;
        entries.MarkerSize = 0;
        entries.LineWidth = 2;
        entries.LegendText = "conntrack entries";
        ct.Title(c.Max is { } max
            ? $"Conntrack table: peak {c.Peak:N0} of nf_conntrack_max {max:N0} ({c.PeakFill:0.####}%)"
            : $"Conntrack table: peak {c.Peak:N0} (nf_conntrack_max {c.MaxOrigin})");
        ct.YLabel("entries");
        ct.XLabel("time (UTC)");
        ct.Axes.DateTimeTicksBottom();
        ct.ShowLegend(Alignment.UpperLeft);
        foreach (var p in new[] { nat, ct })
        {
            p.Font.Set(FontName);
            p.Axes.Margins(bottom: 0);
        }
        multi.SavePng(path, width, height);
    }
}
