using System.Diagnostics;
using System.Globalization;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Host;
using TraceReplay.Host.Iptables;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Replay.Pipeline;

namespace TraceReplay.Benchmarks;

/// <summary>
/// `rulescale`: issue 9's rule-set target. The same generated docker-host capture
/// (<see cref="DockerHostTraffic"/>) replayed through the whole pipeline without storage (mode
/// "none": read, decode, correlate, conntrack, NAT, the hook graph) with docker-host's rules, and
/// with docker-host's rules plus a ~50,000-rule kube-proxy rule set (<see cref="KubeProxyRules"/>)
/// compiled with the classifier and walked without it. Per way: CPU ns per sighting (the best of
/// --runs, after a warm-up pass; compilation timed apart) and the ratio to docker-host's; the fates
/// of the two kube-proxy ways must agree (they are the same simulation).
/// </summary>
internal static class RuleScaleRun
{
    private const string Usage = "usage: rulescale [--packets N] [--rules N] [--flows N] [--runs N] [--ways docker,kube,kube-walk] [--dir DIR] [--keep]";

    public static int Run(string[] args)
    {
        long packets = 2_000_000;
        int rules = 50_000, flows = 20_000, runs = 3;
        string[] ways = ["docker", "kube", "kube-walk"];
        string? dir = null;
        bool keep = false;
        for (int i = 0; i < args.Length; i++)
        {
            string? next = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--packets" when next is not null: packets = long.Parse(next, CultureInfo.InvariantCulture); i++; break;
                case "--rules" when next is not null: rules = int.Parse(next, CultureInfo.InvariantCulture); i++; break;
                case "--flows" when next is not null: flows = int.Parse(next, CultureInfo.InvariantCulture); i++; break;
                case "--runs" when next is not null: runs = int.Parse(next, CultureInfo.InvariantCulture); i++; break;
                case "--ways" when next is not null: ways = next.Split(','); i++; break;
                case "--dir" when next is not null: dir = next; i++; break;
                case "--keep": keep = true; break;
                default:
                    Console.Error.WriteLine($"rulescale: unexpected argument '{args[i]}'\n{Usage}");
                    return 2;
            }
        }
        if (packets < 1000 || rules < 10 || flows < 1 || runs < 1 || ways.Any(w => w is not ("docker" or "docker-walk" or "kube" or "kube-walk")))
        {
            Console.Error.WriteLine($"rulescale: --packets at least 1000, --rules at least 10, --flows and --runs at least 1, ways docker|docker-walk|kube|kube-walk\n{Usage}");
            return 2;
        }

        string docker = Path.Combine(TablesBenchmarks.RepoRoot(), "datasets", "docker-host", "snapshot");
        string work = dir ?? Directory.CreateTempSubdirectory("tracereplay-rulescale-").FullName;
        Directory.CreateDirectory(work);
        try
        {
            string kube = Path.Combine(work, "kube-snapshot");
            int added = KubeProxyRules.WriteSnapshot(docker, kube, rules);
            string capture = Path.Combine(work, "rulescale.pcap"), warmup = Path.Combine(work, "warmup.pcap");
            var traffic = DockerHostTraffic.Write(capture, packets, flows, 262144, seed: 1);
            DockerHostTraffic.Write(warmup, Math.Min(packets, 200_000), flows, 262144, seed: 2);
            Console.WriteLine($"sightings: {traffic.Sightings}");
            Console.WriteLine($"kube_rules_added: {added}");
            Console.WriteLine($"load_average_before: {LoadAverage()}");

            var best = new Dictionary<string, (double CpuNs, double WallNs, string Fates)>();
            for (int run = 0; run < runs; run++)
            {
                foreach (string way in ways)
                {
                    string host = way.StartsWith("kube", StringComparison.Ordinal) ? kube : docker;
                    bool walk = way.EndsWith("-walk", StringComparison.Ordinal);
                    Pass(host, warmup, walk, out _);
                    var (cpu, wall, fates, n, entries, compileSeconds) = Pass(host, capture, walk, out var tables);
                    double cpuNs = cpu * 1e9 / n, wallNs = wall * 1e9 / n;
                    Console.WriteLine($"{way} run {run + 1}: cpu_ns_per_sighting {cpuNs:F1} wall_ns_per_sighting {wallNs:F1} entries {entries} classified_chains {tables} compile_seconds {compileSeconds:F3} fates {fates}");
                    if (!best.TryGetValue(way, out var b) || cpuNs < b.CpuNs)
                        best[way] = (cpuNs, wallNs, fates);
                }
            }

            Console.WriteLine($"load_average_after: {LoadAverage()}");
            foreach (var (way, b) in best)
            {
                string ratio = best.TryGetValue("docker", out var d) ? $" ratio_to_docker {b.CpuNs / d.CpuNs:F2}" : string.Empty;
                Console.WriteLine($"{way}: cpu_ns_per_sighting {b.CpuNs:F1} wall_ns_per_sighting {b.WallNs:F1}{ratio}");
            }
            if (best.TryGetValue("kube", out var on) && best.TryGetValue("kube-walk", out var off) && on.Fates != off.Fates)
            {
                Console.Error.WriteLine($"rulescale: the classifier changed the fates: {on.Fates} against {off.Fates}");
                return 1;
            }
            return 0;
        }
        finally
        {
            if (dir is null && !keep)
                Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>One replay without storage on a fresh host (compiled outside the timing); CPU and wall seconds of the replay alone.</summary>
    private static (double Cpu, double Wall, string Fates, long Sightings, int Entries, double Compile) Pass(string host, string capture, bool walk, out int classifiedChains)
    {
        var snapshot = HostSnapshot.Load(host);
        var compile = Stopwatch.StartNew();
        var nf = NfHost.Create(snapshot, new NfHostOptions { Seed = 1 });
        compile.Stop();
        classifiedChains = 0;
        int entries = 0;
        var tablesUsed = new List<TraceReplay.Netfilter.Tables.XtTableInfo>();
        foreach (var family in new[] { IptFamily.IPv4, IptFamily.IPv6 })
        {
            foreach (var id in Enum.GetValues<NfTableId>())
            {
                if (nf.Table(family, id) is not { } t)
                    continue;
                t.UseClassifier = !walk;
                classifiedChains += walk ? 0 : t.ClassifiedChains;
                entries += t.EntryCount;
                tablesUsed.Add(t);
            }
        }
        var sink = new FateSink();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        using var self = Process.GetCurrentProcess();
        var cpu0 = self.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        var summary = new ReplayJob(snapshot, nf).Run([new CaptureSource(capture, null)], sink);
        wall.Stop();
        self.Refresh();
        double cpu = (self.TotalProcessorTime - cpu0).TotalSeconds;
        // The fates and a checksum of every entry's counters: the classifier must not change either.
        ulong sum = 0;
        foreach (var t in tablesUsed)
        {
            for (int i = 0; i < t.EntryCount; i++)
                sum = (sum * 31) + t.Counters(i).Packets;
        }
        string fates = string.Join(' ', sink.Fates.Select((c, i) => $"{(NfFate)i}={c}").Where(s => !s.EndsWith("=0", StringComparison.Ordinal))) + $" counters#{sum:x16}";
        return (cpu, wall.Elapsed.TotalSeconds, fates, summary.Sightings, entries, compile.Elapsed.TotalSeconds);
    }

    /// <summary>Counts each simulated sighting's fate and keeps nothing else (mode "none").</summary>
    private sealed class FateSink : IReplaySink
    {
        public long[] Fates { get; } = new long[8];

        public void Add(in ReplayedSighting sighting, in DecodedPacket packet)
        {
            if (sighting.Handling == SightingHandling.Simulated)
                Fates[(int)sighting.Result.Fate & 7]++;
        }
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "?";
}
