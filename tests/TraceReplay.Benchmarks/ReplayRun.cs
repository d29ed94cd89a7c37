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
/// `replay`: the whole pipeline of `tracereplay replay` (read, decode, correlate, conntrack, the hook
/// graph with docker-host's rules, rows into the run database) on a generated capture of N sightings
/// (<see cref="DockerHostTraffic"/>), several ways: no storage (a sink that drops the rows), DuckDB (the
/// RunDatabaseSink as the CLI builds it), DuckDB plus `--arrow`, and both again with the writer thread
/// (`-2t`: storage on a second core, RunWriterOptions.WriterThread), with the receive stage on a
/// thread of its own (`-rx`: ReplayJob.ReceiveThread), and with both (`-staged`: three threads, what
/// `tracereplay replay` does on two cores or more). `read` and `correlate` time the first stages
/// alone (PacketStream; and the correlator's fingerprint of each; and the SightingCorrelator), so the cost of each stage is a
/// difference of CPU times: read, correlate, simulate (`none`), store (`duckdb`). Each way runs in a child process
/// of its own so its peak memory is its own, after a warm-up pass on a smaller capture so tiered JIT
/// has reached its optimised code. Reported per way: wall and CPU time per sighting (CPU time is the
/// honest one-core figure on a shared machine), bytes allocated per sighting in the steady state
/// (this thread and all threads), peak resident set (VmHWM), and `tcpdump -r FILE -w /dev/null` on the
/// same file as the floor for reading it.
/// </summary>
internal static class ReplayRun
{
    // Steady state: the second half of the run (first batches, buffers and tables grown by then).

    private const string Usage =
        "usage: replay [--packets N] [--snaplen N] [--flows N] [--rate PPS] [--modes none,duckdb,arrow,duckdb-2t,arrow-2t,none-rx,duckdb-rx,duckdb-staged,arrow-staged,read,fingerprint,correlate] [--dir DIR] [--keep] [--cpu N] [--runs N]";

    private static readonly string[] AllModes = ["none", "duckdb", "arrow", "duckdb-2t", "arrow-2t", "none-rx", "duckdb-rx", "duckdb-staged", "arrow-staged", "read", "fingerprint", "correlate"];

    private sealed class Options
    {
        public long Packets = 10_000_000;
        public int SnapLength = 262144;
        public int Flows = 20_000;
        public string[] Modes = ["none", "duckdb", "arrow"];
        public string? Dir;
        public bool Keep;
        public int? Cpu;
        public int Runs = 1;
        public int Rate = 50_000;
        public string? Host;
    }

    public static int Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "--child")
            return Child(args[1..]);
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string? next = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--packets" when next is not null: o.Packets = long.Parse(next, CultureInfo.InvariantCulture); i++; break;
                case "--snaplen" when next is not null: o.SnapLength = int.Parse(next, CultureInfo.InvariantCulture); i++; break;
                case "--flows" when next is not null: o.Flows = int.Parse(next, CultureInfo.InvariantCulture); i++; break;
                case "--modes" when next is not null: o.Modes = next.Split(','); i++; break;
                case "--dir" when next is not null: o.Dir = next; i++; break;
                case "--cpu" when next is not null: o.Cpu = int.Parse(next, CultureInfo.InvariantCulture); i++; break;
                case "--runs" when next is not null: o.Runs = int.Parse(next, CultureInfo.InvariantCulture); i++; break;
                case "--rate" when next is not null: o.Rate = int.Parse(next, CultureInfo.InvariantCulture); i++; break;
                case "--host" when next is not null: o.Host = next; i++; break;
                case "--keep": o.Keep = true; break;
                default:
                    Console.Error.WriteLine($"replay: unexpected argument '{args[i]}'\n{Usage}");
                    return 2;
            }
        }
        if (o.Packets < 1000 || o.Flows < 1 || o.SnapLength < 64 || o.Rate is < 1 or > 250_000 || o.Modes.Any(m => !AllModes.Contains(m)))
        {
            Console.Error.WriteLine($"replay: --packets at least 1000, --flows at least 1, --snaplen at least 64, --rate 1 to 250000, modes {string.Join('|', AllModes)}\n{Usage}");
            return 2;
        }
        string host = o.Host ?? FindSnapshot();
        CheckTopology(host);
        bool ownDirectory = o.Dir is null;
        string work = o.Dir ?? Directory.CreateTempSubdirectory("tracereplay-replay-").FullName;
        Directory.CreateDirectory(work);
        try
        {
            return Measure(o, host, work);
        }
        finally
        {
            if (ownDirectory && !o.Keep)
                Directory.Delete(work, recursive: true);
        }
    }

    private static int Measure(Options o, string host, string work)
    {
        string capture = Path.Combine(work, "replay.pcap"), warmup = Path.Combine(work, "warmup.pcap");
        var generate = Stopwatch.StartNew();
        var traffic = DockerHostTraffic.Write(capture, o.Packets, o.Flows, o.SnapLength, seed: 1, o.Rate);
        generate.Stop();
        DockerHostTraffic.Write(warmup, Math.Min(o.Packets, 300_000), o.Flows, o.SnapLength, seed: 2, o.Rate);
        Print("sightings", traffic.Sightings);
        Print("real_packets", traffic.RealPackets);
        Print("flows", traffic.Flows);
        Print("snaplen", o.SnapLength);
        Print("rate_packets_per_capture_second", o.Rate);
        Print("file_mb", new FileInfo(capture).Length / 1e6, "F1");
        Print("generate_seconds", generate.Elapsed.TotalSeconds, "F1");
        Print("load_average", File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "?");

        // The first read warms the page cache; the second is the floor.
        if (TimeTcpdump(capture) is not null && TimeTcpdump(capture) is double t)
        {
            Print("tcpdump_seconds", t, "F3");
            Print("tcpdump_ns_per_sighting", t * 1e9 / traffic.Sightings, "F1");
        }
        for (int run = 0; run < o.Runs; run++)
        {
            foreach (string mode in o.Modes)
            {
                Console.WriteLine($"--- {mode}{(o.Runs > 1 ? $" (run {run + 1})" : string.Empty)}");
                int code = Spawn(o, host, mode, capture, warmup, work);
                if (code != 0)
                    return code;
            }
        }
        return 0;
    }

    /// <summary>Runs this program again as `replay --child MODE ...`, pinned to one CPU with taskset when asked.</summary>
    private static int Spawn(Options o, string host, string mode, string capture, string warmup, string work)
    {
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var start = new ProcessStartInfo(o.Cpu is null ? self : "taskset") { UseShellExecute = false };
        if (o.Cpu is int cpu)
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(cpu.ToString(CultureInfo.InvariantCulture));
            start.ArgumentList.Add(self);
        }
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            start.ArgumentList.Add(typeof(ReplayRun).Assembly.Location);
        foreach (string a in new[] { "replay", "--child", mode, capture, warmup, host, work, o.Packets.ToString(CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(a);
        using var p = Process.Start(start) ?? throw new InvalidOperationException("child did not start");
        p.WaitForExit();
        return p.ExitCode;
    }

    /// <summary>One way, one process: warm-up pass, then the timed pass.</summary>
    private static int Child(string[] args)
    {
        var (mode, capture, warmup, host, work) = (args[0], args[1], args[2], args[3], args[4]);
        long sightings = long.Parse(args[5], CultureInfo.InvariantCulture);
        Pass(mode, warmup, host, work, timed: false, steadyFrom: long.MaxValue);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        Pass(mode, capture, host, work, timed: true, steadyFrom: sightings / 2);
        return 0;
    }

    private static void Pass(string mode, string capture, string host, string work, bool timed, long steadyFrom)
    {
        if (mode is "read" or "fingerprint" or "correlate")
        {
            FirstStages(mode, capture, host, timed);
            return;
        }
        var snapshot = HostSnapshot.Load(host);
        var relay = new RunDatabaseSink.EventRelay();
        bool store = !mode.StartsWith("none", StringComparison.Ordinal);
        bool writerThread = mode.EndsWith("-2t", StringComparison.Ordinal) || mode.EndsWith("-staged", StringComparison.Ordinal);
        bool receiveThread = mode.EndsWith("-rx", StringComparison.Ordinal) || mode.EndsWith("-staged", StringComparison.Ordinal);
        var nf = NfHost.Create(snapshot, new NfHostOptions { Seed = 1, Events = store ? relay : null });
        string db = Path.Combine(work, $"run-{mode}.duckdb");
        string? arrowDir = mode.StartsWith("arrow", StringComparison.Ordinal) ? Path.Combine(work, "arrow") : null;
        if (arrowDir is not null)
            Directory.CreateDirectory(arrowDir);
        File.Delete(db);
        RunDatabaseSink? sink = !store ? null : new RunDatabaseSink(db, snapshot, nf, new RunWriterOptions { ArrowDirectory = arrowDir, WriterThread = writerThread });
        if (sink is not null)
            relay.Target = sink;
        var counting = new CountingSink(sink, steadyFrom);
        using var self = Process.GetCurrentProcess();
        var cpu0 = self.TotalProcessorTime;
        long thread0 = GC.GetAllocatedBytesForCurrentThread(), total0 = GC.GetTotalAllocatedBytes(true);
        int gen0 = GC.CollectionCount(0), gen2 = GC.CollectionCount(2);
        double thisThread0 = ThreadCpuSeconds();
        var wall = Stopwatch.StartNew();
        var summary = new ReplayJob(snapshot, nf) { ReceiveThread = receiveThread }.Run([new CaptureSource(capture, null)], counting);
        double replaySeconds = wall.Elapsed.TotalSeconds;
        double simulateCpu = ThreadCpuSeconds() - thisThread0;
        self.Refresh();
        double replayCpu = (self.TotalProcessorTime - cpu0).TotalSeconds;
        long threadEnd = GC.GetAllocatedBytesForCurrentThread(), totalEnd = GC.GetTotalAllocatedBytes(true);
        sink?.Complete(summary, [("benchmark", "replay " + mode)]);
        sink?.Dispose();
        wall.Stop();
        self.Refresh();
        var cpu = self.TotalProcessorTime - cpu0;
        if (!timed)
            return;
        long n = summary.Sightings;
        double seconds = wall.Elapsed.TotalSeconds;
        long steadyN = n - steadyFrom;
        Print("sightings", n);
        Print("simulated", summary.Simulated);
        Print("observations", summary.Observations);
        Print("fates", string.Join(' ', counting.Fates.Select((c, i) => $"{(NfFate)i}={c}").Where(s => !s.EndsWith("=0", StringComparison.Ordinal))));
        Print("conntrack_entries_at_end", nf.Conntrack.ConfirmedEntries().Count());
        Print("seconds", seconds, "F3");
        Print("seconds_before_complete", replaySeconds, "F3");
        Print("sightings_per_second", n / seconds, "F0");
        Print("simulated_per_second", summary.Simulated / seconds, "F0");
        Print("ns_per_sighting", seconds * 1e9 / n, "F1");
        Print("cpu_seconds", cpu.TotalSeconds, "F3");
        Print("cpu_ns_per_sighting", cpu.TotalSeconds * 1e9 / n, "F1");
        Print("sightings_per_cpu_second", n / cpu.TotalSeconds, "F0");
        // The simulate thread (this one) is the pipeline's critical path once the other stages have
        // threads of their own: on free cores the replay takes about the larger of its CPU time and
        // the other threads' (receive, writer, GC, JIT), whatever the load was when measured.
        double others = replayCpu - simulateCpu;
        Print("simulate_thread_cpu_ns_per_sighting", simulateCpu * 1e9 / n, "F1");
        Print("other_threads_cpu_ns_per_sighting_before_complete", others * 1e9 / n, "F1");
        Print("projected_sightings_per_second_on_two_free_cores", n / Math.Max(simulateCpu, others), "F0");
        Print("alloc_bytes_per_sighting_thread_steady", steadyN > 0 ? (threadEnd - counting.SteadyThread) / (double)steadyN : double.NaN, "F3");
        Print("alloc_bytes_per_sighting_all_threads_steady", steadyN > 0 ? (totalEnd - counting.SteadyTotal) / (double)steadyN : double.NaN, "F3");
        // What grows with connections rather than packets: the conntrack table and the open NAT bindings,
        // up to the live set (closed bindings leave as nat_mappings rows).
        Print("alloc_bytes_per_new_connection_steady", counting.New > counting.NewAtSteady ? (threadEnd - counting.SteadyThread) / (double)(counting.New - counting.NewAtSteady) : double.NaN, "F1");
        Print("alloc_bytes_total_pass", totalEnd - total0);
        Print("alloc_bytes_thread_pass", threadEnd - thread0);
        Print("gc_gen0", GC.CollectionCount(0) - gen0);
        Print("gc_gen2", GC.CollectionCount(2) - gen2);
        Print("peak_rss_mb", ProcStatus.Kb("VmHWM:") / 1024.0, "F1");
        if (File.Exists(db))
            Print("db_mb", new FileInfo(db).Length / 1e6, "F1");
    }

    /// <summary>The receive stage (read, decode, merge, capture points) and, in `correlate`, the sighting correlator after it: what the simulation does not cost.</summary>
    private static void FirstStages(string mode, string capture, string host, bool timed)
    {
        var snapshot = HostSnapshot.Load(host);
        var interfaces = new InterfaceTable(snapshot.Network.Devices.Select(d => new HostInterface(d.IfIndex, d.Name, d.Mac, d.Master, d.Kind)));
        bool correlate = mode == "correlate";
        var correlator = new TraceReplay.Replay.Correlate.SightingCorrelator(TraceReplay.Replay.Correlate.SightingCorrelator.DefaultWindowNs);
        using var self = Process.GetCurrentProcess();
        var cpu0 = self.TotalProcessorTime;
        long alloc0 = GC.GetAllocatedBytesForCurrentThread();
        var wall = Stopwatch.StartNew();
        long n = 0, bytes = 0, entries = 0;
        using (var stream = new TraceReplay.Capture.PacketStream([new CaptureSource(capture, null)], interfaces))
        {
            while (stream.MoveNext())
            {
                n++;
                bytes += stream.Frame.Length;
                if (mode == "fingerprint")
                    bytes += (long)(TraceReplay.Replay.Correlate.SightingCorrelator.Fingerprint(stream.Packet, stream.Frame) & 1);
                else if (correlate && correlator.Classify(stream.Packet, stream.Frame, stream.Point, stream.Direction, stream.Record.TimestampNs).Role == TraceReplay.Replay.Correlate.SightingRole.Entry)
                    entries++;
            }
        }
        wall.Stop();
        self.Refresh();
        var cpu = self.TotalProcessorTime - cpu0;
        if (!timed)
            return;
        Print("sightings", n);
        Print("bytes", bytes);
        if (correlate)
            Print("entries", entries);
        Print("seconds", wall.Elapsed.TotalSeconds, "F3");
        Print("sightings_per_second", n / wall.Elapsed.TotalSeconds, "F0");
        Print("cpu_seconds", cpu.TotalSeconds, "F3");
        Print("cpu_ns_per_sighting", cpu.TotalSeconds * 1e9 / n, "F1");
        Print("alloc_bytes_per_sighting_thread", (GC.GetAllocatedBytesForCurrentThread() - alloc0) / (double)n, "F3");
    }

    /// <summary>Counts fates and marks the allocation counters once the steady state is reached; passes rows on.</summary>
    private sealed class CountingSink(IReplaySink? inner, long steadyFrom) : IReplaySink
    {
        public long[] Fates { get; } = new long[8];
        public long SteadyThread { get; private set; }
        public long SteadyTotal { get; private set; }

        /// <summary>Packets in conntrack state NEW (connections opened, SYN retransmissions included), all and after the steady mark.</summary>
        public long New { get; private set; }
        public long NewAtSteady { get; private set; }
        private long _n;

        public void Decide(long sightingNumber, TraceReplay.Replay.Fidelity.FidelityOutcome outcome) => inner?.Decide(sightingNumber, outcome);

        public void Add(in ReplayedSighting sighting, in DecodedPacket packet)
        {
            if (++_n == steadyFrom)
            {
                SteadyThread = GC.GetAllocatedBytesForCurrentThread();
                SteadyTotal = GC.GetTotalAllocatedBytes(true);
                NewAtSteady = New;
            }
            if (sighting.Handling == SightingHandling.Simulated)
            {
                Fates[(int)sighting.Result.Fate & 7]++;
                if (sighting.Result.CtState == TraceReplay.Netfilter.Conntrack.CtState.New)
                    New++;
            }
            inner?.Add(sighting, packet);
        }
    }

    /// <summary>CPU time of the calling thread (utime + stime of /proc/thread-self/stat, in clock ticks of 10 ms).</summary>
    private static double ThreadCpuSeconds()
    {
        string stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>VmHWM of /proc/self/status: the peak resident set, native memory (DuckDB, libpcap) included.</summary>
    private static string FindSnapshot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "datasets", "docker-host", "snapshot");
            if (Directory.Exists(candidate))
                return candidate;
        }
        throw new DirectoryNotFoundException("datasets/docker-host/snapshot not found above the benchmark's folder: pass --host DIR");
    }

    /// <summary>The generator writes docker-host's interface indexes into SLL2 headers: make sure the snapshot agrees.</summary>
    private static void CheckTopology(string host)
    {
        var snapshot = HostSnapshot.Load(host);
        foreach (var (index, name) in new[] { (DockerHostTraffic.VethIfIndex, "veth1"), (DockerHostTraffic.Docker0IfIndex, "docker0"), (DockerHostTraffic.Eth0IfIndex, "eth0") })
        {
            if (snapshot.Network.Devices.FirstOrDefault(d => d.IfIndex == index)?.Name != name)
                throw new InvalidDataException($"{host}: link.json has no {name} with ifindex {index}; the generated capture follows datasets/docker-host");
        }
    }

    private static double? TimeTcpdump(string file)
    {
        string? tcpdump = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "tcpdump")).FirstOrDefault(File.Exists);
        if (tcpdump is null)
        {
            Console.WriteLine("tcpdump: not on PATH, no floor");
            return null;
        }
        var start = new ProcessStartInfo(tcpdump) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string arg in new[] { "-r", file, "-w", "/dev/null" })
            start.ArgumentList.Add(arg);
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("tcpdump did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        watch.Stop();
        if (process.ExitCode != 0)
        {
            Console.WriteLine($"tcpdump: exit {process.ExitCode}: {stderr.Result.Trim()}");
            return null;
        }
        return watch.Elapsed.TotalSeconds;
    }

    private static void Print(string name, double value, string format) =>
        Console.WriteLine($"{name}: {value.ToString(format, CultureInfo.InvariantCulture)}");

    private static void Print(string name, long value) =>
        Console.WriteLine($"{name}: {value.ToString(CultureInfo.InvariantCulture)}");

    private static void Print(string name, string value) => Console.WriteLine($"{name}: {value}");
}
