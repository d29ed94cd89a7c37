using System.Diagnostics;
using System.Globalization;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Host;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Replay.Pipeline;
using TraceReplay.Store;

namespace TraceReplay.Benchmarks;

/// <summary>
/// `scale [--connections N] [--packets M] [--dir DIR] [--keep]`: issue 9's bounded memory. Writes
/// <see cref="ScaleTraffic"/>'s capture of N concurrent connections and M records (defaults 1,000,000
/// and 100,000,000) to a file under DIR (default the temp folder; ~88 bytes a record), then replays it
/// in a child process exactly as `tracereplay replay --host datasets/docker-host/snapshot --sysctl
/// net.netfilter.nf_conntrack_max=… --out RUN.duckdb` does (ReplayJob into RunDatabaseSink, then
/// Complete), so the child's peak resident set (VmHWM: managed heap, DuckDB and libpcap together) is
/// the replay's own. The snapshot's nf_conntrack_max (262,144) is raised to hold N connections, as an
/// operator of such a host would have. Prints sightings/s, CPU ns per sighting, bytes allocated per
/// sighting, VmHWM (before and after the end-of-run tables), the managed heap, and the database size;
/// every 10 s of the replay the child prints its resident set so growth shows.
/// </summary>
internal static class ScaleRun
{
    private const string Usage = "usage: scale [--connections N] [--packets M] [--duckdb-memory MB] [--dir DIR] [--keep]";

    public static int Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "--child")
            return Child(args[1..]);
        int connections = 1_000_000;
        long packets = 100_000_000;
        string? dir = null;
        bool keep = false;
        int duckdbMb = new RunWriterOptions().MemoryLimitMb;
        for (int i = 0; i < args.Length; i++)
        {
            string? next = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--connections" when next is not null: connections = int.Parse(next, CultureInfo.InvariantCulture); i++; break;
                case "--packets" when next is not null: packets = long.Parse(next, CultureInfo.InvariantCulture); i++; break;
                case "--duckdb-memory" when next is not null: duckdbMb = int.Parse(next, CultureInfo.InvariantCulture); i++; break;
                case "--dir" when next is not null: dir = next; i++; break;
                case "--keep": keep = true; break;
                default:
                    Console.Error.WriteLine($"scale: unexpected argument '{args[i]}'\n{Usage}");
                    return 2;
            }
        }
        if (connections < 1 || packets < ScaleTraffic.MinimumRecords(connections) || duckdbMb < 1)
        {
            Console.Error.WriteLine($"scale: --connections at least 1, --packets at least 9 per connection (the handshakes' three sightings of three packets)\n{Usage}");
            return 2;
        }
        string host = Path.Combine(TablesBenchmarks.RepoRoot(), "datasets", "docker-host", "snapshot");
        string work = dir ?? Directory.CreateTempSubdirectory("tracereplay-scale-").FullName;
        Directory.CreateDirectory(work);
        string capture = Path.Combine(work, "scale.pcap"), db = Path.Combine(work, "scale.duckdb");
        try
        {
            Console.WriteLine($"scale: {connections:N0} concurrent connections, {packets:N0} records, in {work}; load average {LoadAverage()}; {Environment.ProcessorCount} CPUs");
            var watch = Stopwatch.StartNew();
            ScaleTraffic traffic;
            using (var file = new FileStream(capture, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 20))
                traffic = ScaleTraffic.Write(file, connections, packets);
            Print("generate_seconds", watch.Elapsed.TotalSeconds, "F1");
            Print("sightings", traffic.Sightings);
            Print("data_packets", traffic.DataPackets);
            Print("connections_closed_at_end", traffic.Closes ? "yes (FIN both ways)" : "no (the record budget ends in the data phase)");
            Print("capture_seconds", (traffic.LastNs - DockerHostTraffic.StartNs) / 1e9, "F1");
            Print("file_gb", new FileInfo(capture).Length / 1e9, "F2");
            Print("duckdb_memory_limit_mb", duckdbMb);
            return Spawn(capture, host, db, connections, duckdbMb);
        }
        finally
        {
            File.Delete(capture);
            if (!keep)
            {
                File.Delete(db);
                if (dir is null)
                    Directory.Delete(work, recursive: true);
            }
        }
    }

    private static int Spawn(string capture, string host, string db, int connections, int duckdbMb)
    {
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var start = new ProcessStartInfo(self) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            start.ArgumentList.Add(typeof(ScaleRun).Assembly.Location);
        foreach (string a in new[] { "scale", "--child", capture, host, db, connections.ToString(CultureInfo.InvariantCulture), duckdbMb.ToString(CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(a);
        using var p = Process.Start(start) ?? throw new InvalidOperationException("child did not start");
        p.WaitForExit();
        return p.ExitCode;
    }

    /// <summary>The replay, as ReplayCommand runs it with --out.</summary>
    private static int Child(string[] args)
    {
        var (capture, host, db, connections) = (args[0], args[1], args[2], int.Parse(args[3], CultureInfo.InvariantCulture));
        int duckdbMb = int.Parse(args[4], CultureInfo.InvariantCulture);
        var snapshot = HostSnapshot.Load(host);
        // --sysctl: room for every connection (the kernel would early_drop unassured ones, then refuse).
        long max = Math.Max(262_144, connections + (connections / 4));
        snapshot.Network.Sysctls.Set("net.netfilter.nf_conntrack_max", max.ToString(CultureInfo.InvariantCulture));
        snapshot.Network.Sysctls.Set("net.netfilter.nf_conntrack_buckets", Math.Max(262_144, connections).ToString(CultureInfo.InvariantCulture));
        var relay = new RunDatabaseSink.EventRelay();
        var nf = NfHost.Create(snapshot, new NfHostOptions { Seed = 1, Events = relay });
        File.Delete(db);
        using var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        long total0 = GC.GetTotalAllocatedBytes(true);
        var wall = Stopwatch.StartNew();
        ReplaySummary summary;
        var counting = new CountingSink(9L * connections);
        using (var sink = new RunDatabaseSink(db, snapshot, nf, new RunWriterOptions { MemoryLimitMb = duckdbMb }))
        {
            relay.Target = sink;
            counting.Inner = sink;
            using var sampler = new Timer(_ => Console.WriteLine(
                $"  {wall.Elapsed.TotalSeconds,6:F0} s  {Volatile.Read(ref counting.Count),13:N0} sightings  rss {ProcStatus.Kb("VmRSS:") / 1024.0,7:F0} MB  managed heap {GC.GetGCMemoryInfo().HeapSizeBytes / 1e6,6:F0} MB  conntrack {nf.Conntrack.Count:N0}  nat open {nf.Nat.OpenCount:N0}"),
                null, 10_000, 10_000);
            summary = new ReplayJob(snapshot, nf).Run([new CaptureSource(capture, null)], counting);
            sampler.Dispose();
            process.Refresh();
            Print("seconds_before_complete", wall.Elapsed.TotalSeconds, "F1");
            Print("peak_rss_mb_before_complete", ProcStatus.Kb("VmHWM:") / 1024.0, "F0");
            Print("managed_heap_mb_before_complete", GC.GetGCMemoryInfo().HeapSizeBytes / 1e6, "F0");
            Print("managed_live_mb_before_complete", GC.GetTotalMemory(forceFullCollection: true) / 1e6, "F0");
            Print("conntrack_entries", nf.Conntrack.Count);
            Print("nat_bindings", $"{nf.Nat.MappingsMade} made, {nf.Nat.OpenCount} open");
            counting.MarkEnd();
            sink.Complete(summary, [("benchmark", $"scale {connections} connections")]);
        }
        wall.Stop();
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpu0;
        long n = summary.Sightings, steady = n - counting.SteadyFrom;
        Print("sightings", n);
        Print("simulated", summary.Simulated);
        Print("fates", string.Join(' ', counting.Fates.Select((c, i) => $"{(NfFate)i}={c}").Where(s => !s.EndsWith("=0", StringComparison.Ordinal))));
        Print("seconds", wall.Elapsed.TotalSeconds, "F1");
        Print("sightings_per_second", n / wall.Elapsed.TotalSeconds, "F0");
        Print("cpu_seconds", cpu.TotalSeconds, "F1");
        Print("cpu_ns_per_sighting", cpu.TotalSeconds * 1e9 / n, "F1");
        Print("alloc_bytes_per_sighting", (counting.TotalAtEnd - total0) / (double)n, "F2");
        Print("alloc_bytes_per_sighting_after_handshakes", steady > 0 ? (counting.TotalAtEnd - counting.TotalAtSteady) / (double)steady : double.NaN, "F3");
        Print("peak_rss_mb", ProcStatus.Kb("VmHWM:") / 1024.0, "F0");
        Print("db_mb", new FileInfo(db).Length / 1e6, "F0");
        Print("load_average", LoadAverage());
        return 0;
    }

    /// <summary>Counts fates and marks the allocation counter once every connection is open.</summary>
    private sealed class CountingSink(long steadyFrom) : IReplaySink
    {
        public IReplaySink? Inner;
        public long Count;
        public long[] Fates { get; } = new long[8];
        public long SteadyFrom => steadyFrom;
        public long TotalAtSteady { get; private set; }
        public long TotalAtEnd { get; private set; }

        /// <summary>The end of the packets: Complete's end-of-run tables (a row per live connection and binding) are not per-packet cost.</summary>
        public void MarkEnd() => TotalAtEnd = GC.GetTotalAllocatedBytes(true);

        public void Decide(long sightingNumber, TraceReplay.Replay.Fidelity.FidelityOutcome outcome) => Inner?.Decide(sightingNumber, outcome);

        public void Add(in ReplayedSighting sighting, in DecodedPacket packet)
        {
            if (++Count == steadyFrom)
                TotalAtSteady = GC.GetTotalAllocatedBytes(true);
            if (sighting.Handling == SightingHandling.Simulated)
                Fates[(int)sighting.Result.Fate & 7]++;
            Inner?.Add(sighting, packet);
        }
    }

    /// <summary>A kB field of /proc/self/status (VmRSS, VmHWM).</summary>
    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    private static void Print(string name, double value, string format) =>
        Console.WriteLine($"{name}: {value.ToString(format, CultureInfo.InvariantCulture)}");

    private static void Print(string name, long value) => Console.WriteLine($"{name}: {value.ToString(CultureInfo.InvariantCulture)}");

    private static void Print(string name, string value) => Console.WriteLine($"{name}: {value}");
}
