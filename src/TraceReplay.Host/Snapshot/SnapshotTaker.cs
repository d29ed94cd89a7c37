using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace TraceReplay.Host.Snapshot;

/// <summary>One file of the snapshot folder and the command whose output it holds (DESIGN.md's table).</summary>
public sealed record SnapshotItem(string File, string Tool, IReadOnlyList<string> Arguments, string Description, Func<string, string>? Filter = null, bool AllowEmpty = true)
{
    public string CommandLine => Tool + (Arguments.Count > 0 ? " " + string.Join(' ', Arguments) : string.Empty);
}

/// <summary>What happened to one item: written (with its size), or skipped and why.</summary>
public sealed record SnapshotResult(SnapshotItem Item, bool Written, long Bytes, string Note);

/// <summary>
/// `tracereplay snapshot`: runs the commands of DESIGN.md's snapshot table on the live host (or in a
/// named network namespace through `ip netns exec`) and writes each output to its file. A missing
/// tool or a failing command is noted in `snapshot.txt` and skipped, never fatal: a partial
/// snapshot is still useful, and every file is optional to the importer.
/// </summary>
public static class SnapshotTaker
{
    public const string NotesFile = "snapshot.txt";

    public static IReadOnlyList<SnapshotItem> Items { get; } =
    [
        new("iptables.rules", "iptables-save", ["-c"], "IPv4 rules with counters"),
        new("ip6tables.rules", "ip6tables-save", ["-c"], "IPv6 rules with counters"),
        new("ebtables.rules", "ebtables-save", ["-c"], "bridge rules with counters"),
        new("ipset.save", "ipset", ["save"], "ipsets"),
        new("addr.json", "ip", ["-j", "addr"], "addresses", AllowEmpty: false),
        new("link.json", "ip", ["-j", "-d", "link"], "interfaces", AllowEmpty: false),
        new("route.json", "ip", ["-j", "route", "show", "table", "all"], "IPv4 routes, all tables", AllowEmpty: false),
        new("route6.json", "ip", ["-j", "-6", "route", "show", "table", "all"], "IPv6 routes, all tables", AllowEmpty: false),
        new("rule.json", "ip", ["-j", "rule"], "policy routing rules", AllowEmpty: false),
        new("rule6.json", "ip", ["-j", "-6", "rule"], "IPv6 policy routing rules", AllowEmpty: false),
        new("sysctl.conf", "sysctl", ["-a"], "net.* sysctls", NetSysctls, AllowEmpty: false),
        new("conntrack.txt", "conntrack", ["-L", "-o", "extended"], "the conntrack table now"),
        new("sockets.txt", "ss", ["-H", "-ltun"], "listening sockets"),
    ];

    /// <summary>`sysctl -a` lines for net.* only: the rest is not the firewall's business and can be large.</summary>
    private static string NetSysctls(string all)
    {
        var sb = new StringBuilder();
        foreach (var line in all.Split('\n'))
        {
            if (line.StartsWith("net.", StringComparison.Ordinal))
                sb.Append(line).Append('\n');
        }
        return sb.ToString();
    }

    /// <param name="netns">Run every command inside this network namespace (`ip netns exec NAME …`).</param>
    /// <param name="timeout">How long one command may take before it is abandoned and noted.</param>
    public static List<SnapshotResult> Take(string outDir, string? netns = null, TimeSpan? timeout = null, IReadOnlyList<SnapshotItem>? items = null)
    {
        Directory.CreateDirectory(outDir);
        var results = new List<SnapshotResult>();
        foreach (var item in items ?? Items)
            results.Add(TakeOne(outDir, item, netns, timeout ?? TimeSpan.FromSeconds(60)));
        var notes = new StringBuilder();
        notes.Append("# tracereplay snapshot, taken ").Append(DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture));
        notes.Append(netns is null ? " on the host" : $" in network namespace {netns}").Append('\n');
        foreach (var r in results)
            notes.Append(r.Item.File).Append('\t').Append(r.Written ? "written" : "skipped").Append('\t').Append(r.Item.CommandLine).Append('\t').Append(r.Note).Append('\n');
        File.WriteAllText(Path.Combine(outDir, NotesFile), notes.ToString());
        return results;
    }

    private static SnapshotResult TakeOne(string outDir, SnapshotItem item, string? netns, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (netns is not null)
        {
            psi.FileName = "ip";
            foreach (var a in (string[])["netns", "exec", netns, item.Tool])
                psi.ArgumentList.Add(a);
        }
        else
        {
            psi.FileName = item.Tool;
        }
        foreach (var a in item.Arguments)
            psi.ArgumentList.Add(a);
        psi.Environment["LC_ALL"] = "C";
        Process? process;
        try
        {
            process = Process.Start(psi);
        }
        catch (Win32Exception e)
        {
            return new SnapshotResult(item, false, 0, $"{psi.FileName} not found or not runnable ({e.Message})");
        }
        if (process is null)
            return new SnapshotResult(item, false, 0, $"{psi.FileName} did not start");
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }
                return new SnapshotResult(item, false, 0, $"timed out after {timeout.TotalSeconds:0} s");
            }
            string output = stdout.GetAwaiter().GetResult();
            string error = stderr.GetAwaiter().GetResult().Trim();
            if (process.ExitCode == 127 && netns is not null)
                return new SnapshotResult(item, false, 0, $"{item.Tool} not found in the namespace's PATH ({FirstLine(error)})");
            if (process.ExitCode != 0)
                return new SnapshotResult(item, false, 0, $"exit code {process.ExitCode}: {FirstLine(error)}");
            if (item.Filter is not null)
                output = item.Filter(output);
            if (output.Length == 0 && !item.AllowEmpty)
                return new SnapshotResult(item, false, 0, "printed nothing");
            File.WriteAllText(Path.Combine(outDir, item.File), output);
            string note = error.Length > 0 ? "warning: " + FirstLine(error) : "ok";
            return new SnapshotResult(item, true, Encoding.UTF8.GetByteCount(output), note);
        }
    }

    private static string FirstLine(string s)
    {
        int nl = s.IndexOf('\n', StringComparison.Ordinal);
        return (nl < 0 ? s : s[..nl]).Trim();
    }
}
