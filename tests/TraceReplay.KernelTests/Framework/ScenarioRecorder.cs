using System.Diagnostics;
using TraceReplay.Cli;

namespace TraceReplay.KernelTests.Framework;

/// <summary>
/// Records one scenario the way a user would: `tcpdump -i any` in the host's namespace, a
/// `tracereplay snapshot --netns` at capture start, and at the end the kernel's own results —
/// `iptables-save -c`, `ip6tables-save -c`, `ebtables-save -c`, `conntrack -L -o extended` — into
/// the dataset layout the replay tests read:
/// <code>
///   captures/any.pcap   snapshot/ (at start: rules, addresses, routes, sysctls, conntrack, sockets)
///   kernel/iptables.rules  kernel/ip6tables.rules  kernel/ebtables.rules  kernel/conntrack.txt (at the end)
/// </code>
/// Counters and the conntrack table are cleared just before the capture starts, so the kernel's final
/// counters count exactly what the capture holds.
/// </summary>
public sealed class ScenarioRecorder
{
    private readonly KernelLab _lab;
    private readonly string _host;
    private readonly string _dir;
    private Process? _tcpdump;

    public ScenarioRecorder(KernelLab lab, string hostNamespace, string datasetDir)
    {
        _lab = lab;
        _host = hostNamespace;
        _dir = datasetDir;
    }

    public string Capture => Path.Combine(_dir, "captures", "any.pcap");

    public void Start()
    {
        foreach (var sub in (string[])["captures", "snapshot", "kernel"])
        {
            string d = Path.Combine(_dir, sub);
            if (Directory.Exists(d))
                Directory.Delete(d, recursive: true);
            Directory.CreateDirectory(d);
        }
        // Interfaces coming up send IGMP/MLD reports and neighbour discovery for a second or two: let them pass.
        Thread.Sleep(2500);
        for (int attempt = 1; ; attempt++)
        {
            // -Z zeroes one table (filter unless -t): each table that exists, for both families.
            _lab.Exec(_host, "for t in raw mangle nat filter security; do iptables -t $t -Z 2>/dev/null; ip6tables -t $t -Z 2>/dev/null; done; for t in filter nat broute; do ebtables -t $t -Z 2>/dev/null; done; conntrack -F 2>/dev/null; true");
            StartTcpdump();
            var o = new StringWriter();
            var e = new StringWriter();
            int code = CommandLine.Run(["snapshot", "--out", Path.Combine(_dir, "snapshot"), "--netns", _lab.Ns(_host)], o, e);
            if (code != 0)
                throw new InvalidOperationException("tracereplay snapshot failed: " + e);
            // The notes file names the namespace and the time: not part of the dataset's meaning, and it would change on every recording.
            File.Delete(Path.Combine(_dir, "snapshot", "snapshot.txt"));
            // A packet between the zeroing and tcpdump's first read (a late IGMP report) is counted but
            // not captured: the snapshot's counters show it, and the start is tried again.
            if (AllZero(Path.Combine(_dir, "snapshot", "iptables.rules")) && AllZero(Path.Combine(_dir, "snapshot", "ip6tables.rules")))
                return;
            if (attempt == 5)
                throw new InvalidOperationException("the host never fell quiet for the capture start (counters moved before tcpdump listened, five times)");
            KernelLab.Interrupt(_tcpdump!);
            Thread.Sleep(1000);
        }
    }

    private void StartTcpdump()
    {
        _tcpdump = _lab.Start(_host, $"exec tcpdump -i any -nn -U -s 262144 -w '{Capture}'", redirectStderr: true);
        // tcpdump says "listening on any" once its socket is bound: from then on nothing is missed.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string? line;
        do
        {
            var read = _tcpdump.StandardError.ReadLineAsync();
            line = read.Wait(deadline - DateTime.UtcNow) ? read.Result : null;
        }
        while (line is not null && !line.Contains("listening on", StringComparison.Ordinal) && DateTime.UtcNow < deadline);
        if (line is null || !line.Contains("listening on", StringComparison.Ordinal))
            throw new InvalidOperationException("tcpdump did not start: " + (line ?? "no output"));
        _ = _tcpdump.StandardError.ReadToEndAsync();
    }

    private static bool AllZero(string save) =>
        !File.Exists(save) || File.ReadLines(save).All(l => !System.Text.RegularExpressions.Regex.IsMatch(l, @"\[(?!0:0\])\d+:\d+\]"));

    /// <summary>
    /// Takes the kernel's results and stops the capture. The counters are read twice, before and after
    /// tcpdump stops: if they moved, a packet crossed the host that the capture may not hold, and the
    /// recording is refused rather than compared.
    /// </summary>
    public void Finish()
    {
        Thread.Sleep(500);
        string kernel = Path.Combine(_dir, "kernel");
        string v4 = _lab.Exec(_host, "iptables-save -c");
        string v6 = _lab.Exec(_host, "ip6tables-save -c");
        File.WriteAllText(Path.Combine(kernel, "iptables.rules"), v4);
        File.WriteAllText(Path.Combine(kernel, "ip6tables.rules"), v6);
        string eb = _lab.Exec(_host, "ebtables-save -c 2>/dev/null || true");
        File.WriteAllText(Path.Combine(kernel, "ebtables.rules"), eb);
        long before = Now();
        File.WriteAllText(Path.Combine(kernel, "conntrack.txt"), _lab.Exec(_host, "conntrack -L -o extended 2>/dev/null || true"));
        // When the table was listed, on the capture's clock: entries that expired between the last packet and the listing are gone from it.
        File.WriteAllText(Path.Combine(kernel, ListedAtFile), ((before + Now()) / 2).ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n");
        KernelLab.Interrupt(_tcpdump!);
        string v4After = _lab.Exec(_host, "iptables-save -c");
        string v6After = _lab.Exec(_host, "ip6tables-save -c");
        string ebAfter = _lab.Exec(_host, "ebtables-save -c 2>/dev/null || true");
        if (Counters(v4) != Counters(v4After) || Counters(v6) != Counters(v6After) || Counters(eb) != Counters(ebAfter))
            throw new InvalidOperationException("packets crossed the host while the results were being taken: the capture and the counters may disagree; the scenario must end quietly");
    }

    /// <summary>kernel/conntrack-listed-at.txt: Unix time in nanoseconds of the conntrack listing.</summary>
    public const string ListedAtFile = "conntrack-listed-at.txt";

    private static long Now() => (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;

    /// <summary>The counter columns of a save, without the header comments that carry the time.</summary>
    private static string Counters(string save) =>
        string.Join('\n', save.Split('\n').Where(l => !l.StartsWith('#')));
}
