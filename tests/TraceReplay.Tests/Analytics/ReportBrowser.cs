using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace TraceReplay.Tests.Analytics;

/// <summary>
/// Debian's chromium, headless, as the witness that a report page really loads: a copy of the page
/// gets a probe script as the first thing in its head, which collects script errors, console.error
/// calls and failed resource loads (capture-phase error events), and on the load event writes what
/// the browser made of the page — images with their natural size, SVG paths with their rendered box,
/// the sections — as JSON into a &lt;pre id="probe"&gt;, which --dump-dom then prints with the DOM.
/// </summary>
public static partial class ReportBrowser
{
    private const string Probe = """
        <script>
        window.__errors = [];
        window.addEventListener('error', e => window.__errors.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || String(e.target))), true);
        window.addEventListener('unhandledrejection', e => window.__errors.push('rejection: ' + e.reason));
        const __consoleError = console.error;
        console.error = (...a) => { window.__errors.push('console: ' + a.join(' ')); __consoleError.apply(console, a); };
        window.addEventListener('load', () => {
          const out = {
            errors: window.__errors,
            images: [...document.images].map(i => ({ alt: i.alt, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight })),
            svgs: [...document.querySelectorAll('svg')].map(s => ({ paths: s.querySelectorAll('path').length,
              w: [...s.querySelectorAll('path')].reduce((m, p) => Math.max(m, p.getBBox().width), 0),
              h: [...s.querySelectorAll('path')].reduce((m, p) => Math.max(m, p.getBBox().height), 0) })),
            sections: [...document.querySelectorAll('section')].map(s => s.id),
            scripts: document.scripts.length,
          };
          const pre = document.createElement('pre');
          pre.id = 'probe';
          pre.textContent = JSON.stringify(out);
          document.body.appendChild(pre);
        });
        </script>
        """;

    public sealed record Image(string Alt, bool Complete, int W, int H);

    public sealed record Svg(int Paths, double W, double H);

    public sealed record ProbeResult(string[] Errors, Image[] Images, Svg[] Svgs, string[] Sections, int Scripts);

    public sealed record Page(string Dom, ProbeResult Probe);

    /// <summary>chromium on PATH, or the test is skipped with how to get it.</summary>
    public static string Chromium()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string p = Path.Combine(dir, "chromium");
            if (File.Exists(p))
                return p;
        }
        Assert.Skip("chromium is not installed: the report's browser test needs Debian's chromium (`apt-get install chromium`, or `make deps`)");
        return string.Empty;
    }

    /// <summary>Loads a probed copy of <paramref name="html"/> in headless chromium and returns the DOM after the load event.</summary>
    public static Page Load(string html, string scratch)
    {
        string chromium = Chromium();
        string text = File.ReadAllText(html);
        int head = text.IndexOf("<head>", StringComparison.Ordinal);
        Assert.True(head >= 0, "the report has a <head>");
        string probed = Path.Combine(scratch, "probed.html");
        File.WriteAllText(probed, text.Insert(head + "<head>".Length, Probe));
        string dom = Run(chromium, scratch, "--dump-dom", new Uri(probed).AbsoluteUri);
        var m = ProbeElement().Match(dom);
        Assert.True(m.Success, "the probe ran on the load event and wrote its result into the page:\n" + dom[..Math.Min(dom.Length, 2000)]);
        var probe = JsonSerializer.Deserialize<ProbeResult>(WebUtility.HtmlDecode(m.Groups[1].Value), new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
        return new Page(dom, probe);
    }

    /// <summary>A full-page screenshot, for a person to look at (the tests only check it was written).</summary>
    public static void Screenshot(string html, string png, string scratch) =>
        Run(Chromium(), scratch, $"--screenshot={png}", "--window-size=1280,2400", new Uri(Path.GetFullPath(html)).AbsoluteUri);

    private static string Run(string chromium, string scratch, params string[] args)
    {
        var psi = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true };
        // Headless without a GPU, a sandbox (tests run as root) or a profile of the user's; the
        // virtual time budget lets the load event and its handlers finish before the dump.
        foreach (string a in new[] { "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions", "--hide-scrollbars", $"--user-data-dir={Path.Combine(scratch, "chromium-profile")}", "--virtual-time-budget=5000" })
            psi.ArgumentList.Add(a);
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("chromium did not finish in 90 s");
        }
        Assert.True(p.ExitCode == 0, $"chromium exited {p.ExitCode}: {stderr.Result}");
        return stdout;
    }

    [GeneratedRegex("<pre id=\"probe\">(.*?)</pre>", RegexOptions.Singleline)]
    private static partial Regex ProbeElement();

    /// <summary>The text of one section of the dumped DOM, tags removed and entities decoded.</summary>
    public static string SectionText(string dom, string id)
    {
        var m = Regex.Match(dom, $"<section id=\"{id}\">(.*?)</section>", RegexOptions.Singleline);
        Assert.True(m.Success, $"section {id} is in the page");
        return WebUtility.HtmlDecode(Regex.Replace(m.Groups[1].Value, "<[^>]+>", " "));
    }
}
