using System.Diagnostics;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Snapshot;

namespace TraceReplay.Tests.Host.Snapshot;

/// <summary>
/// `tracereplay snapshot` against the real tools: a network namespace made here gets rules loaded
/// with iptables-restore, the snapshot is taken inside it, and what it wrote must parse back to the
/// same rules. No traffic is sent.
/// </summary>
public sealed class SnapshotTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-snap-").FullName;
    private readonly string _netns = "trt-snap-" + Environment.ProcessId;

    public void Dispose()
    {
        Run("ip", "netns", "del", _netns);
        Directory.Delete(_dir, recursive: true);
    }

    private static (int Code, string Out) Run(string file, params string[] args) => RunWithInput(null, file, args);

    private static (int Code, string Out) RunWithInput(string? input, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            if (input is not null)
            {
                p.StandardInput.Write(input);
                p.StandardInput.Close();
            }
            string o = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, o);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (127, e.Message);
        }
    }

    private void RequireRootAndTools()
    {
        if (Environment.UserName != "root")
            Assert.Skip("needs root to create a network namespace (run the suite as root, as CI does)");
        foreach (var tool in new[] { "ip", "iptables-restore", "iptables-save" })
        {
            if (Run("sh", "-c", "command -v " + tool).Code != 0)
                Assert.Skip($"{tool} is not installed (make deps installs it)");
        }
        var (code, o) = Run("ip", "netns", "add", _netns);
        if (code != 0)
            Assert.Skip("cannot create a network namespace here: " + o.Trim());
    }

    [Fact]
    public void Snapshot_of_a_namespace_holds_its_rules_and_addresses()
    {
        RequireRootAndTools();
        // A veth pair inside the namespace (this kernel may lack the dummy driver); no traffic is sent.
        Assert.Equal(0, Run("ip", "-n", _netns, "link", "add", "trt0", "type", "veth", "peer", "name", "trt1").Code);
        Run("ip", "-n", _netns, "addr", "add", "192.0.2.1/24", "dev", "trt0");
        const string rules = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:LOGDROP - [0:0]\n-A INPUT -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -m comment --comment \"ssh from the lab\" -j ACCEPT\n-A INPUT -j LOGDROP\n-A LOGDROP -j DROP\nCOMMIT\n";
        var (rc, err) = RunWithInput(rules, "ip", "netns", "exec", _netns, "iptables-restore");
        Assert.True(rc == 0, err);

        var results = SnapshotTaker.Take(_dir, _netns);

        Assert.Contains(results, r => r.Item.File == "iptables.rules" && r.Written);
        Assert.Contains(results, r => r.Item.File == "addr.json" && r.Written);
        Assert.True(File.Exists(Path.Combine(_dir, SnapshotTaker.NotesFile)));
        var rs = IptablesParser.Load(Path.Combine(_dir, "iptables.rules"));
        var input = rs.Table("filter")!.Chain("INPUT")!;
        Assert.Equal(ChainPolicy.Drop, input.Policy);
        Assert.Equal(
            ["-s 192.0.2.0/24 -p tcp -m tcp --dport 22 -m comment --comment \"ssh from the lab\" -j ACCEPT", "-j LOGDROP"],
            input.Rules.Select(r => r.Text));
        Assert.Contains("192.0.2.1", File.ReadAllText(Path.Combine(_dir, "addr.json")), StringComparison.Ordinal);
        Assert.All(File.ReadAllLines(Path.Combine(_dir, "sysctl.conf")), l => Assert.StartsWith("net.", l, StringComparison.Ordinal));
    }

    [Fact]
    public void A_missing_tool_is_skipped_and_noted_not_fatal()
    {
        var items = new[]
        {
            new SnapshotItem("iptables.rules", "tracereplay-no-such-tool", ["-c"], "a tool that is not installed"),
            new SnapshotItem("echo.txt", "echo", ["hello"], "a tool that is"),
        };
        var results = SnapshotTaker.Take(_dir, null, null, items);
        Assert.False(results[0].Written);
        Assert.Contains("not found", results[0].Note, StringComparison.Ordinal);
        Assert.True(results[1].Written);
        Assert.Equal("hello\n", File.ReadAllText(Path.Combine(_dir, "echo.txt")));
        Assert.Contains("iptables.rules\tskipped\ttracereplay-no-such-tool -c", File.ReadAllText(Path.Combine(_dir, SnapshotTaker.NotesFile)), StringComparison.Ordinal);
    }
}
