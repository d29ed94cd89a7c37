using System.Diagnostics;

namespace TraceReplay.Tests.Host.Ipset;

/// <summary>
/// The real ipset in a throwaway network namespace, as a witness for what the kernel stores, prints
/// and matches. Needs root and the ipset binary; tests skip with a message otherwise. Nothing is ever
/// sent anywhere: the namespace only holds sets.
/// </summary>
internal sealed class IpsetWitness : IDisposable
{
    private static int _counter;
    private readonly string _ns;

    private IpsetWitness(string ns) => _ns = ns;

    public static IpsetWitness Start()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
            Assert.Skip("the ipset witness needs root on Linux");
        if (!File.Exists("/usr/sbin/ipset") && !File.Exists("/sbin/ipset"))
            Assert.Skip("ipset binary not installed");
        string ns = $"trtest-ipset-{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}";
        var (rc, _, err) = Exec("ip", ["netns", "add", ns], null);
        if (rc != 0)
            Assert.Skip($"cannot create a network namespace: {err.Trim()}");
        return new IpsetWitness(ns);
    }

    /// <summary>Runs `ipset ARGS` inside the namespace.</summary>
    public (int ExitCode, string Stdout, string Stderr) Ipset(string? stdin, params string[] args) =>
        Exec("ip", ["netns", "exec", _ns, "ipset", .. args], stdin);

    public void Restore(string text)
    {
        var (rc, _, err) = Ipset(text, "restore");
        Assert.True(rc == 0, "ipset restore failed: " + err);
    }

    public string Save() => Ipset(null, "save").Stdout;

    /// <summary>Whether the type's kernel module is present (this kernel lacks e.g. hash:mac).</summary>
    public bool Supports(string type, string options = "")
    {
        string name = "probe" + Interlocked.Increment(ref _counter);
        var (rc, _, _) = Ipset($"create {name} {type} {options}\ndestroy {name}\n", "restore");
        return rc == 0;
    }

    public void Dispose() => Exec("ip", ["netns", "del", _ns], null);

    private static (int, string, string) Exec(string file, string[] args, string? stdin)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
            p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
