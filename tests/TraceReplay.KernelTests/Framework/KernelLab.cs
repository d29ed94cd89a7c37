using System.Diagnostics;
using System.Globalization;

namespace TraceReplay.KernelTests.Framework;

/// <summary>
/// A set of network namespaces that together make one scenario's machines, all named with a prefix
/// unique to this test run (`ktNNNN-`, NNNN from the process id) so parallel runs and other users of
/// the machine never collide. Everything made here — namespaces (and with them their veths, bridges,
/// rules, conntrack tables) and the background programs started in them — is removed on dispose, also
/// after a failure. Traffic stays inside the namespaces: none has a route to the outside.
/// </summary>
public sealed class KernelLab : IDisposable
{
    private readonly List<string> _namespaces = [];
    private readonly List<Process> _background = [];

    public KernelLab(string scenario)
    {
        Prefix = string.Create(CultureInfo.InvariantCulture, $"kt{Environment.ProcessId % 10000:D4}-{scenario}-");
    }

    public string Prefix { get; }

    /// <summary>The real name of the lab's namespace <paramref name="name"/>.</summary>
    public string Ns(string name) => Prefix + name;

    /// <summary>
    /// Makes a namespace with its loopback up. IPv6 is switched off unless asked for: its neighbour
    /// discovery and MLD reports would otherwise add packets of their own while the scenario runs.
    /// </summary>
    public string AddNamespace(string name, bool ipv6 = false)
    {
        string ns = Ns(name);
        Sh.Run("ip", ["netns", "del", ns]); // a leftover of a crashed run with the same process id
        Check("ip", "netns", "add", ns);
        _namespaces.Add(ns);
        if (!ipv6)
        {
            Exec(name, "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
        }
        else
        {
            // No router solicitations or address autoconfiguration: the scenario's addresses are static.
            Exec(name, "sysctl -qw net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.autoconf=0 net.ipv6.conf.all.accept_ra=0");
        }
        Exec(name, "ip link set lo up");
        return ns;
    }

    /// <summary>A veth pair with one end in each namespace (created there directly: the names never meet on the host).</summary>
    public void Veth(string nsA, string ifA, string nsB, string ifB) =>
        Check("ip", "link", "add", ifA, "netns", Ns(nsA), "type", "veth", "peer", "name", ifB, "netns", Ns(nsB));

    /// <summary>Runs a shell command inside a namespace; a non-zero exit fails the test with its output.</summary>
    public string Exec(string name, string command, string? stdin = null)
    {
        var (code, o, e) = Sh.Run("ip", ["netns", "exec", Ns(name), "sh", "-c", command], stdin);
        if (code != 0)
            throw new InvalidOperationException($"[{Ns(name)}] {command}: exit {code}: {e.Trim()} {o.Trim()}");
        return o;
    }

    /// <summary>Runs a command whose failure is part of the scenario (a rejected connection); returns its exit code.</summary>
    public int Try(string name, string command) =>
        Sh.Run("ip", ["netns", "exec", Ns(name), "sh", "-c", command], timeout: TimeSpan.FromSeconds(30)).Code;

    /// <summary>Loads a rule set with a `*-restore` tool (iptables-restore, ip6tables-restore, ebtables-restore, ipset restore).</summary>
    public void Restore(string name, string tool, string rules) => Exec(name, tool, rules);

    /// <summary>Starts a long-running program (a server) in a namespace; it is killed on dispose.</summary>
    public Process Start(string name, string command, bool redirectStderr = false)
    {
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardError = redirectStderr, RedirectStandardOutput = true };
        foreach (var a in (string[])["netns", "exec", Ns(name), "sh", "-c", command])
            psi.ArgumentList.Add(a);
        psi.Environment["LC_ALL"] = "C";
        var p = Process.Start(psi) ?? throw new InvalidOperationException("ip netns exec did not start");
        _background.Add(p);
        return p;
    }

    /// <summary>Stops a background program (SIGINT first, so tcpdump flushes its file) and waits for it.</summary>
    public static void Interrupt(Process p)
    {
        ArgumentNullException.ThrowIfNull(p);
        if (p.HasExited)
            return;
        // ip netns exec execs sh, and sh -c of one command execs it: the pid is the program's own.
        Sh.Run("kill", ["-INT", p.Id.ToString(CultureInfo.InvariantCulture)]);
        if (!p.WaitForExit(TimeSpan.FromSeconds(10)))
            p.Kill(entireProcessTree: true);
    }

    public void Dispose()
    {
        foreach (var p in _background)
        {
            try
            {
                if (!p.HasExited)
                    p.Kill(entireProcessTree: true);
                p.WaitForExit(TimeSpan.FromSeconds(5));
            }
            catch (InvalidOperationException)
            {
            }
            p.Dispose();
        }
        foreach (var ns in _namespaces)
        {
            // Anything still running in the namespace was started by this lab (a shell's child).
            var (_, pids, _) = Sh.Run("ip", ["netns", "pids", ns]);
            foreach (var pid in pids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                Sh.Run("kill", ["-KILL", pid]);
            Sh.Run("ip", ["netns", "del", ns]);
        }
    }

    private static void Check(params string[] args)
    {
        var (code, o, e) = Sh.Run(args[0], args[1..]);
        if (code != 0)
            throw new InvalidOperationException($"{string.Join(' ', args)}: exit {code}: {e.Trim()} {o.Trim()}");
    }
}
