using System.Globalization;
using System.Net;
using System.Text;
using TraceReplay.Analytics.Query;

namespace TraceReplay.Analytics.Report;

/// <summary>
/// `tracereplay report --html`: one self-contained HTML page — inline CSS, plots as an inline base64
/// PNG (the `nat --png` figure) and inline SVG, no script and nothing fetched — so it can be mailed,
/// attached to a ticket or opened offline. Every value from the run goes through <see cref="E"/>:
/// rule texts carry quotes, &lt; and &amp; (comments, string matches), and addresses or capture file
/// names are input too. Partial by section: Summary (run, fidelity, drops), Usage (NAT, conntrack,
/// talkers, rules, anomalies).
/// </summary>
public static partial class HtmlReport
{
    private static readonly (string Id, string Title)[] Sections =
    [
        ("summary", "Run summary"), ("fidelity", "Fidelity"), ("drops", "Drops"), ("nat", "NAT usage"),
        ("conntrack", "Conntrack table"), ("talkers", "Top talkers"), ("rules", "Rule usage"), ("anomalies", "Anomalies"),
    ];

    private const string Css = """
        body{font-family:"DejaVu Sans",system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#1d232a;background:#fff;line-height:1.4}
        h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #c8d0d8;padding-bottom:.2em;margin-top:1.8em}h3{font-size:1.05em;margin:1.2em 0 .4em}
        nav a{margin-right:1em}table{border-collapse:collapse;margin:.4em 0 1em;font-size:.9em}
        th,td{border:1px solid #d5dbe1;padding:.25em .55em;text-align:left;vertical-align:top}th{background:#eef2f6}
        td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}code{font-family:"DejaVu Sans Mono",monospace;font-size:.92em;word-break:break-all}
        .note{color:#5b6670;font-style:italic}.muted{color:#5b6670}.drop{color:#b3261e;font-weight:bold}.ok{color:#1b7f3b;font-weight:bold}
        figure{margin:1em 0}figcaption{color:#5b6670;font-size:.9em}img.plot{max-width:100%;height:auto;border:1px solid #d5dbe1}
        svg.plot{border:1px solid #d5dbe1;background:#fff}svg.plot text{font:12px "DejaVu Sans",sans-serif;fill:#1d232a}
        .kv td:first-child{font-weight:bold;white-space:nowrap}
        """;

    public static void Write(RunReport report, TextWriter o)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(o);
        o.WriteLine("<!DOCTYPE html>");
        o.WriteLine("<html lang=\"en\"><head><meta charset=\"utf-8\">");
        o.WriteLine("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        o.WriteLine($"<title>TraceReplay report: {E(Path.GetFileName(report.Run))}</title>");
        o.WriteLine($"<style>{Css}</style></head><body>");
        o.WriteLine($"<h1>TraceReplay report: {E(Path.GetFileName(report.Run))}</h1>");
        o.WriteLine($"<p class=\"muted\">Run database <code>{E(report.Run)}</code>, report written {E(Time(report.Generated.ToUnixTimeMilliseconds() * 1000))}.</p>");
        o.Write("<nav>");
        foreach (var (id, title) in Sections)
            o.Write($"<a href=\"#{id}\">{E(title)}</a>");
        o.WriteLine("</nav>");
        WriteSummary(o, report);
        WriteFidelity(o, report.Fidelity);
        WriteDrops(o, report);
        WriteNat(o, report);
        WriteConntrack(o, report);
        WriteTalkers(o, report.Talkers);
        WriteRules(o, report);
        WriteAnomalies(o, report);
        o.WriteLine("</body></html>");
    }

    public static string ToHtml(RunReport report)
    {
        var s = new StringWriter(CultureInfo.InvariantCulture);
        Write(report, s);
        return s.ToString();
    }

    /// <summary>HTML-escaped text: &amp; &lt; &gt; " and ' (WebUtility.HtmlEncode), safe in element content and in quoted attributes.</summary>
    internal static string E(string? s) => s is null ? string.Empty : WebUtility.HtmlEncode(s);

    internal static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

    internal static string Pct(double? v) => v is { } x ? x.ToString(x >= 1 ? "0.0" : "0.####", CultureInfo.InvariantCulture) + "%" : "-";

    internal static string Time(long us) => ResultFormat.Text(DateTime.UnixEpoch.AddTicks(us * 10));

    private static void Open(TextWriter o, string id)
    {
        string title = Sections.First(s => s.Id == id).Title;
        o.WriteLine($"<section id=\"{id}\"><h2>{E(title)}</h2>");
    }

    private static void Close(TextWriter o) => o.WriteLine("</section>");

    private static void Note(TextWriter o, string text) => o.WriteLine($"<p class=\"note\">{E(text)}</p>");

    /// <summary>A table cell: its HTML (already escaped) and whether it is a number (right-aligned).</summary>
    internal readonly record struct Cell(string Html, bool Numeric = false)
    {
        public static Cell T(string? text) => new(E(text));

        public static Cell C(string? text) => new(text is null ? string.Empty : $"<code>{E(text)}</code>");

        public static Cell Num(long v) => new(N(v), true);

        public static Cell Num(long? v) => v is { } x ? Num(x) : new("-", true);
    }

    /// <summary>A table; a column's header is right-aligned when its first row's cell is a number.</summary>
    private static void Table(TextWriter o, string[] headers, IEnumerable<Cell[]> rows, string? cls = null)
    {
        var list = rows.ToList();
        var sb = new StringBuilder();
        sb.Append(cls is null ? "<table>" : $"<table class=\"{cls}\">").Append("<thead><tr>");
        for (int i = 0; i < headers.Length; i++)
            sb.Append(list.Count > 0 && i < list[0].Length && list[0][i].Numeric ? "<th class=\"n\">" : "<th>").Append(E(headers[i])).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        foreach (var row in list)
        {
            sb.Append("<tr>");
            foreach (var c in row)
                sb.Append(c.Numeric ? "<td class=\"n\">" : "<td>").Append(c.Html).Append("</td>");
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        o.WriteLine(sb.ToString());
    }
}
