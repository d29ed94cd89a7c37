using TraceReplay.Cli;
using TraceReplay.Host.Iptables;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Analytics;

/// <summary>
/// The bundled docker-host dataset replayed once into a run database for the analytics tests, with the
/// scenario's facts from datasets/docker-host/record.sh and the kernel's own `iptables-save -c`
/// counters of its snapshot, so the tests derive their expectations from what the real host did.
/// </summary>
public sealed class DockerHostRun : IDisposable
{
    // record.sh: the container, the host's uplink address, the remote's uplink address and its web/SMTP server.
    public const string Container = "172.17.0.2";
    public const string HostUplink = "198.51.100.1";
    public const string Remote = "198.51.100.2";
    public const string RemoteServer = "203.0.113.9";

    public string Dir { get; } = Directory.CreateTempSubdirectory("tracereplay-analytics-").FullName;

    public static string Dataset => Path.Combine(Corpus.Root, "datasets", "docker-host");

    public static string Snapshot => Path.Combine(Dataset, "snapshot");

    public string Db { get; }

    /// <summary>The kernel's counters after the traffic: "table:chain:rule:N" / "table:chain:policy" to packets.</summary>
    public IReadOnlyDictionary<string, ulong> KernelCounters { get; }

    public DockerHostRun()
    {
        Db = Path.Combine(Dir, "docker-host.duckdb");
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLine.Run(["replay", "--host", Snapshot, Path.Combine(Dataset, "captures", "any.pcap"), "--out", Db], o, e);
        if (code != 0)
            throw new InvalidOperationException("replay failed: " + e);
        string rulesFile = Path.Combine(Snapshot, "iptables.rules");
        var rs = IptablesParser.Parse(File.ReadAllText(rulesFile), rulesFile, IptFamily.IPv4);
        var counters = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var t in rs.Tables)
        {
            foreach (var c in t.Chains)
            {
                if (c.IsBuiltin)
                    counters[$"{t.Name}:{c.Name}:policy"] = c.PolicyCounters.Packets;
                for (int i = 0; i < c.Rules.Count; i++)
                    counters[$"{t.Name}:{c.Name}:rule:{i + 1}"] = c.Rules[i].Counters.Packets;
            }
        }
        KernelCounters = counters;
    }

    /// <summary>A sysctl of the snapshot (sysctl -a as recorded).</summary>
    public static string? Sysctl(string name) =>
        File.ReadLines(Path.Combine(Snapshot, "sysctl.conf")).Select(l => l.Split('=', 2)).Where(p => p.Length == 2 && p[0].Trim() == name).Select(p => p[1].Trim()).FirstOrDefault();

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}
