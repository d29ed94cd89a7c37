using System.Globalization;
using System.Text;

namespace TraceReplay.Analytics.Report;

/// <summary>
/// A step line over time as inline SVG: one series of bucket peaks, axes with the peak and the time
/// range labelled. Drawn by hand rather than by ScottPlot so the page's text is the browser's own
/// (selectable, searchable) and the figure is a few hundred bytes for any number of buckets up to
/// the width in pixels (buckets are merged by maximum beyond that).
/// </summary>
internal static class SvgPlot
{
    private const int Width = 1000, Height = 260, Left = 70, Right = 20, Top = 30, Bottom = 40;

    public static string Steps(IReadOnlyList<(long StartUs, double Value)> points, long bucketUs, string label, string? limit)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg class=\"plot\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" role=\"img\" aria-label=\"{HtmlReport.E(label)} over time\">");
        int plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"#fafbfc\" stroke=\"#c8d0d8\"/>");
        if (points.Count == 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + 10}\" y=\"{Top + 20}\">no data</text></svg>");
            return sb.ToString();
        }
        long t0 = points[0].StartUs, t1 = points[^1].StartUs + bucketUs;
        if (points.Count > plotW)
        {
            // More buckets than pixels: each pixel's step shows the peak of the buckets under it.
            int per = (points.Count + plotW - 1) / plotW;
            points = [.. points.Chunk(per).Select(c => (c[0].StartUs, c.Max(p => p.Value)))];
        }
        double max = Math.Max(1, points.Max(p => p.Value));
        double X(long t) => Left + (plotW * (double)(t - t0) / Math.Max(1, t1 - t0));
        double Y(double v) => Top + plotH - (plotH * v / max);
        string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);
        var d = new StringBuilder();
        double lastY = Y(points[0].Value);
        d.Append(CultureInfo.InvariantCulture, $"M{F(X(t0))},{F(lastY)}");
        foreach (var (start, value) in points)
        {
            double y = Y(value);
            d.Append(CultureInfo.InvariantCulture, $" H{F(X(start))} V{F(y)}");
            lastY = y;
        }
        d.Append(CultureInfo.InvariantCulture, $" H{F(X(t1))}");
        sb.Append(CultureInfo.InvariantCulture, $"<path class=\"series\" d=\"{d}\" fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"2\"/>");
        // Axis labels: 0 and the peak on the left, the run's start and end below.
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{Top + plotH}\" text-anchor=\"end\">0</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{Top + 10}\" text-anchor=\"end\">{F(max)}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"{Height - 14}\">{HtmlReport.E(HtmlReport.Time(t0))}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + plotW}\" y=\"{Height - 14}\" text-anchor=\"end\">{HtmlReport.E(HtmlReport.Time(t1))}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"{Top - 10}\">{HtmlReport.E(label)} (peak {F(points.Max(p => p.Value))}{(limit is null ? string.Empty : " of " + HtmlReport.E(limit))})</text>");
        sb.Append("</svg>");
        return sb.ToString();
    }
}
