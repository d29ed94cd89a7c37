using System.Text.RegularExpressions;
using DuckDB.NET.Data;
using TraceReplay.Analytics.Report;
using TraceReplay.Analytics.Run;
using TraceReplay.Capture.Decode;
using TraceReplay.Store;
using TraceReplay.Tests.Cli;

namespace TraceReplay.Tests.Analytics;

/// <summary>`tracereplay report --html`: the page's content, its escaping, that it fetches nothing, and bad input. The browser's view is ReportBrowserTests.</summary>
public sealed class ReportTests(DockerHostRun run) : CliTestBase, IClassFixture<DockerHostRun>
{
    private static readonly long T0 = new DateTimeOffset(2026, 11, 25, 3, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1000;

    /// <summary>A rule text as iptables-save prints a comment with every character HTML cares about.</summary>
    private const string NastyRule = "-s 10.0.0.66/32 -m comment --comment \"<script>alert('x')</script> & </table><b>\" -j DROP";

    private string Report(string db)
    {
        string html = Path.Combine(Dir, "report.html");
        var (code, o, e) = Run("report", db, "--html", html);
        Assert.True(code == 0, e);
        Assert.Contains(html, o, StringComparison.Ordinal);
        return File.ReadAllText(html);
    }

    /// <summary>
    /// One rule (id 3) whose text carries a comment full of markup, and one packet it dropped from
    /// 10.0.0.66; with <paramref name="fidelity"/>, rows in its fidelity table.
    /// </summary>
    private string NastyRun(bool fidelity)
    {
        string path = Path.Combine(Dir, fidelity ? "fidelity.duckdb" : "nasty.duckdb");
        using (var w = RunWriter.Create(path))
        {
            w.AddRule(new RuleRow { Id = 3, Family = RunFamily.Ipv4, Table = "filter", Chain = "INPUT", Position = 1, Text = NastyRule, Packets = 1, Bytes = 60 });
            w.AddPacket(new PacketRow
            {
                Id = 1, PacketId = 1, TimestampUs = T0, CapturePoint = "eth0", Direction = SightingDirection.In, Family = RunFamily.Ipv4, Protocol = 6,
                Src = IpAddr.Parse("10.0.0.66"), Dst = IpAddr.Parse("192.0.2.1"), SrcPort = 40000, DstPort = 22, Length = 60, CtId = -1,
                Verdict = PacketVerdict.Drop, VerdictRuleId = 3, Path = "PREROUTING>INPUT",
            });
            w.AddInfo("note", "<i>not markup</i>");
            w.Complete();
        }
        if (fidelity)
        {
            using var db = new DuckDBConnection($"Data Source={path}");
            db.Open();
            using var cmd = db.CreateCommand();
            cmd.CommandText = "INSERT INTO fidelity VALUES ('explained', 41, '1,2', 'eth0'), ('predicted_unseen', 2, '7', 'missing <&>')";
            cmd.ExecuteNonQuery();
        }
        return path;
    }

    [Fact]
    public void Rule_texts_and_run_info_are_escaped_so_the_page_shows_them_as_text()
    {
        string html = Report(NastyRun(fidelity: false));
        // HtmlEncode's form of the comment: the text appears, its markup does not.
        Assert.Contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;/table&gt;&lt;b&gt;", html, StringComparison.Ordinal);
        Assert.Contains("&lt;i&gt;not markup&lt;/i&gt;", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<i>not markup", html, StringComparison.Ordinal);
        // Every table the page opens it closes: an unescaped </table> in a rule would break the count.
        Assert.Equal(Regex.Count(html, "<table"), Regex.Count(html, "</table>"));
        // The rule dropped the one packet: the drops section names it with its source.
        Assert.Contains("filter:INPUT:rule:1", html, StringComparison.Ordinal);
        Assert.Contains("10.0.0.66", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Fidelity_says_not_recorded_without_a_fidelity_table_and_shows_the_table_when_there_is_one()
    {
        string none = Report(NastyRun(fidelity: false));
        Assert.Contains("id=\"fidelity-none\"", none, StringComparison.Ordinal);
        string with = Report(NastyRun(fidelity: true));
        Assert.DoesNotContain("fidelity-none", with, StringComparison.Ordinal);
        Assert.Contains("fidelity table (2 rows)", with, StringComparison.Ordinal);
        Assert.Contains("<th>metric</th>", with, StringComparison.Ordinal);
        Assert.Contains("missing &lt;&amp;&gt;", with, StringComparison.Ordinal);
    }

    [Fact]
    public void No_anomalies_leaves_the_section_with_a_note()
    {
        string html = Path.Combine(Dir, "r.html");
        var (code, _, e) = Run("report", run.Db, "--html", html, "--no-anomalies");
        Assert.True(code == 0, e);
        string section = Regex.Match(File.ReadAllText(html), "<section id=\"anomalies\">(.*?)</section>", RegexOptions.Singleline).Groups[1].Value;
        Assert.Contains("Not scored: left out (report --no-anomalies)", section, StringComparison.Ordinal);
        Assert.DoesNotContain("<ol", section, StringComparison.Ordinal);
    }

    [Fact]
    public void The_page_is_self_contained_no_script_no_stylesheet_link_and_images_inline()
    {
        string html = Report(run.Db);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("url(", html, StringComparison.OrdinalIgnoreCase);
        var sources = Regex.Matches(html, "src=\"([^\"]*)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(sources);
        Assert.All(sources, s => Assert.StartsWith("data:image/png;base64,", s, StringComparison.Ordinal));
        // The inline PNG is a PNG (its signature) and the conntrack plot is inline SVG.
        var png = Convert.FromBase64String(sources[0]["data:image/png;base64,".Length..]);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.Contains("<svg class=\"plot\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public void The_docker_host_report_has_every_section_with_the_scenarios_answers()
    {
        using var db = RunDatabase.Open(run.Db);
        var r = RunReports.Build(db, new ReportOptions());
        // record.sh: the remote's ssh attempt to the host dies at the INPUT policy.
        var ssh = Assert.Single(r.Drops.Causes, c => c.Cause == "filter:INPUT:policy");
        Assert.Contains(ssh.Sources, s => s.Value == DockerHostRun.Remote);
        // The container is masqueraded behind the uplink's address.
        Assert.Contains(r.Nat.Groups, g => g.Manip == "SRC" && g.Address == DockerHostRun.HostUplink);
        // Top talkers count packets once however many interfaces saw them: the totals are the run's packets with an address.
        long withAddress = RunDatabase.ToLong(db.Rows("SELECT count(*) FROM (SELECT arg_min(src, id) AS s FROM packets GROUP BY packet_id) WHERE s IS NOT NULL")[0][0]);
        Assert.Equal(withAddress, r.Talkers.Packets);
        Assert.Equal(r.Talkers.ByPackets.Sum(t => t.Packets), r.Talkers.ByPackets.Count < 10 ? r.Talkers.Packets : r.Talkers.ByPackets.Sum(t => t.Packets));
        Assert.True(r.Talkers.ByPackets.Zip(r.Talkers.ByPackets.Skip(1)).All(p => p.First.Packets >= p.Second.Packets), "by packets, most first");
        Assert.True(r.Talkers.ByBytes.Zip(r.Talkers.ByBytes.Skip(1)).All(p => p.First.Bytes >= p.Second.Bytes), "by bytes, most first");
        // Verdicts cover every packet once.
        Assert.Equal(r.Summary.Packets, r.Summary.Verdicts.Sum(v => v.Packets));
        // The snapshot's own counters agree with the simulation (RulesUsageTests derives that from iptables-save -c).
        Assert.Empty(r.Rules.Host.Differ);
        Assert.NotNull(r.Anomalies);
        Assert.NotEmpty(r.NatPng);

        // The hottest rule's row carries the kernel's own count for it (iptables-save -c), beside the simulated one.
        var hot = r.Rules.Hottest[0];
        string html = HtmlReport.ToHtml(r);
        ulong kernel = run.KernelCounters[hot.Name];
        Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"<td><code>{hot.Name}</code></td><td><code>{System.Net.WebUtility.HtmlEncode(hot.Text)}</code></td><td class=\"n\">{kernel:N0}</td><td class=\"n\">{hot.Bytes:N0}</td><td class=\"n\">{hot.Dropped:N0}</td><td class=\"n\">{kernel:N0}</td>"), html, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_a_run_database_is_bad_input_and_leaves_the_old_report_alone()
    {
        string bad = Write("notes.duckdb", "not a database\n");
        string html = Write("report.html", "old");
        var (code, _, e) = Run("report", bad, "--html", html);
        Assert.Equal(1, code);
        Assert.Contains(bad, e, StringComparison.Ordinal);
        Assert.Contains("not a run database", e, StringComparison.Ordinal);
        Assert.Equal("old", File.ReadAllText(html));
        Assert.Equal(["notes.duckdb", "report.html"], Directory.GetFiles(Dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_missing_run_is_bad_input_naming_it()
    {
        string missing = Path.Combine(Dir, "nope.duckdb");
        var (code, _, e) = Run("report", missing, "--html", Path.Combine(Dir, "r.html"));
        Assert.Equal(1, code);
        Assert.Contains($"{missing}: no such file", e, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(Dir, "r.html")));
    }

    [Fact]
    public void An_unwritable_output_path_is_bad_input_naming_it()
    {
        string noDir = Path.Combine(Dir, "no-such-dir", "r.html");
        var (code, _, e) = Run("report", run.Db, "--html", noDir);
        Assert.Equal(1, code);
        Assert.Contains(noDir, e, StringComparison.Ordinal);
        Assert.Contains("does not exist", e, StringComparison.Ordinal);

        (code, _, e) = Run("report", run.Db, "--html", Dir);
        Assert.Equal(1, code);
        Assert.Contains("is a directory", e, StringComparison.Ordinal);

        (code, _, e) = Run("report", run.Db);
        Assert.Equal(2, code);
        Assert.Contains("--html", e, StringComparison.Ordinal);
    }
}
