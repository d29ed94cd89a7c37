using TraceReplay.Tests.Cli;

namespace TraceReplay.Tests.Analytics;

/// <summary>
/// The docker-host report in a real browser (headless chromium, skipped with a message without it):
/// it loads without a script error, console error or failed resource, every section is there with
/// the scenario's values, and the plots render — the PNG decodes to a non-zero natural size and the
/// SVG's path has a non-empty box. One page load (a few seconds), so it stays in the main suite.
/// </summary>
public sealed class ReportBrowserTests(DockerHostRun run) : CliTestBase, IClassFixture<DockerHostRun>
{
    [Fact]
    public void The_docker_host_report_loads_without_errors_shows_every_section_and_renders_its_plots()
    {
        ReportBrowser.Chromium();
        string html = Path.Combine(Dir, "docker-host.html");
        var (code, _, e) = Run("report", run.Db, "--html", html);
        Assert.True(code == 0, e);

        var page = ReportBrowser.Load(html, Dir);
        var p = page.Probe;
        Assert.Empty(p.Errors);
        Assert.Equal(1, p.Scripts); // the probe's own: the report has none
        Assert.Equal(["summary", "fidelity", "drops", "nat", "conntrack", "talkers", "rules", "anomalies"], p.Sections);

        // The `nat --png` figure decoded: ScottPlot's default 1100 x 700 as RunReports asks for it.
        var img = Assert.Single(p.Images);
        Assert.True(img.Complete);
        Assert.Equal((1100, 700), (img.W, img.H));
        // The conntrack step line: at least one entry was live, so the path spans width and height.
        var svg = Assert.Single(p.Svgs);
        Assert.True(svg.Paths >= 1 && svg.W > 100 && svg.H > 10, $"conntrack path {svg.Paths} paths, box {svg.W} x {svg.H}");

        string Section(string id) => ReportBrowser.SectionText(page.Dom, id);
        // record.sh: the remote (198.51.100.2) tries ssh on the host, dropped by the INPUT policy.
        string drops = Section("drops");
        Assert.Contains("filter:INPUT:policy", drops, StringComparison.Ordinal);
        Assert.Contains($"{DockerHostRun.Remote} (1 flow", drops, StringComparison.Ordinal);
        Assert.Contains("tcp/22", drops, StringComparison.Ordinal);
        // The container's traffic is MASQUERADEd behind the uplink address; the published port DNATs to the container.
        string nat = Section("nat");
        Assert.Contains(DockerHostRun.HostUplink, nat, StringComparison.Ordinal);
        Assert.Contains($"{DockerHostRun.Container} (", nat, StringComparison.Ordinal);
        // replay checks every observation against the prediction (the fidelity table): the report shows the measures.
        Assert.Contains("explained", Section("fidelity"), StringComparison.Ordinal);
        Assert.DoesNotContain("not recorded", Section("fidelity"), StringComparison.Ordinal);
        Assert.Contains("nf_conntrack_max " + long.Parse(DockerHostRun.Sysctl("net.netfilter.nf_conntrack_max")!, System.Globalization.CultureInfo.InvariantCulture).ToString("N0", System.Globalization.CultureInfo.InvariantCulture), Section("conntrack"), StringComparison.Ordinal);
        Assert.Contains(DockerHostRun.Container, Section("talkers"), StringComparison.Ordinal);
        Assert.Contains("equal in packets and bytes", Section("rules"), StringComparison.Ordinal);
        Assert.Contains("score", Section("anomalies"), StringComparison.Ordinal);
        Assert.Contains("ACCEPT", Section("summary"), StringComparison.Ordinal);
    }
}
