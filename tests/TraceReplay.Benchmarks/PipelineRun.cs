using System.Diagnostics;
using System.Globalization;
using TraceReplay.Capture;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;
using TraceReplay.Capture.Writers;

namespace TraceReplay.Benchmarks;

/// <summary>
/// The receive stage end to end on generated captures: libpcap read, decode, capture point and the
/// two-way merge, timed on a warm page cache so the figure is the tool's cost, not the disk's.
/// </summary>
internal static class PipelineRun
{
    /// <summary>Allocation before this many packets (opening files, first buffers) is not the per-packet cost.</summary>
    private const long SteadyStateAfter = 10_000;

    /// <summary>2023-11-14T22:13:20Z: any fixed time works, a realistic one keeps tcpdump's output plausible.</summary>
    private const long StartNs = 1_700_000_000_000_000_000L;

    public static int Run(string[] args)
    {
        long packets = 5_000_000;
        int snapLength = 262144;
        string? dir = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--packets" when i + 1 < args.Length:
                    packets = long.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--dir" when i + 1 < args.Length:
                    dir = args[++i];
                    break;
                case "--snaplen" when i + 1 < args.Length:
                    snapLength = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    Console.Error.WriteLine($"pipeline: unexpected argument '{args[i]}' (usage: pipeline [--packets N] [--snaplen N] [--dir DIR])");
                    return 2;
            }
        }
        if (packets < 2)
        {
            Console.Error.WriteLine("pipeline: --packets must be at least 2");
            return 2;
        }

        bool ownDirectory = dir is null;
        string work = dir ?? Directory.CreateTempSubdirectory("tracereplay-pipeline-").FullName;
        Directory.CreateDirectory(work);
        try
        {
            return Measure(work, packets, snapLength);
        }
        finally
        {
            if (ownDirectory)
                Directory.Delete(work, recursive: true);
        }
    }

    private static int Measure(string work, long packets, int snapLength)
    {
        string a = Path.Combine(work, "a.pcap"), b = Path.Combine(work, "b.pcap");
        var generate = Stopwatch.StartNew();
        long countA = (packets + 1) / 2, countB = packets / 2;
        Generate(a, countA, offsetUs: 0, seed: 1, snapLength);
        Generate(b, countB, offsetUs: 1, seed: 2, snapLength);
        generate.Stop();
        long inputBytes = new FileInfo(a).Length + new FileInfo(b).Length;
        CaptureSource[] sources = [new(a, null), new(b, null)];

        Print("packets", packets);
        Print("snaplen", snapLength);
        Print("input_mb", inputBytes / 1e6, "F1");
        Print("generate_seconds", generate.Elapsed.TotalSeconds, "F2");

        // Warms the page cache and lets tiered JIT reach its optimised code before anything is timed.
        var warm = Stopwatch.StartNew();
        Pass(sources, packets, out _);
        Print("warmup_seconds", warm.Elapsed.TotalSeconds, "F2");

        var readOnly = Stopwatch.StartNew();
        long read = ReadOnly(a) + ReadOnly(b);
        readOnly.Stop();

        long allocatedBefore = GC.GetTotalAllocatedBytes(true);
        var timed = Stopwatch.StartNew();
        long steadyAllocated = Pass(sources, packets, out long checksum);
        timed.Stop();
        long allocated = GC.GetTotalAllocatedBytes(true) - allocatedBefore;

        double seconds = timed.Elapsed.TotalSeconds;
        Print("seconds", seconds, "F3");
        Print("packets_per_second", packets / seconds, "F0");
        Print("ns_per_packet", seconds * 1e9 / packets, "F1");
        Print("alloc_bytes_per_packet", (double)steadyAllocated / (packets - SteadyStateAfter), "F3");
        Print("alloc_bytes_total_pass", allocated);
        Print("input_mb_per_second", inputBytes / 1e6 / seconds, "F1");
        Print("read_only_ns_per_packet", readOnly.Elapsed.TotalSeconds * 1e9 / read, "F1");
        Print("checksum", checksum);

        double? tcpdump = TimeTcpdump(a, b);
        if (tcpdump is double t)
        {
            Print("tcpdump_seconds", t, "F3");
            Print("tcpdump_packets_per_second", packets / t, "F0");
            Print("ratio_tracereplay_to_tcpdump", seconds / t, "F2");
        }

        using var self = Process.GetCurrentProcess();
        self.Refresh();
        Print("peak_working_set_mb", self.PeakWorkingSet64 / 1e6, "F1");
        return 0;
    }

    /// <param name="snapLength">Frames are cut to it as `tcpdump -s N` would (headers-only captures are common for firewall forensics).</param>
    private static void Generate(string path, long count, int offsetUs, int seed, int snapLength)
    {
        var rng = new Random(seed);
        var frame = new byte[Frames.MaxLength];
        using var writer = PcapWriter.Create(path, LinkType.Ethernet, snapLength);
        for (long i = 0; i < count; i++)
        {
            int length = Frames.WriteTraffic(frame, rng, out _);
            writer.Write(StartNs + (((2 * i) + offsetUs) * 1000), frame.AsSpan(0, Math.Min(length, snapLength)), length);
        }
    }

    /// <summary>One full pass; returns the bytes allocated after <see cref="SteadyStateAfter"/> packets.</summary>
    private static long Pass(CaptureSource[] sources, long expected, out long checksum)
    {
        long n = 0, previousNs = long.MinValue, steadyStart = 0;
        checksum = 0;
        using (var stream = new PacketStream(sources))
        {
            while (stream.MoveNext())
            {
                ref readonly var p = ref stream.Packet;
                ref readonly var r = ref stream.Record;
                if (r.TimestampNs < previousNs || p.IsMalformed || !p.HasTransport)
                    throw new InvalidOperationException($"packet {stream.PacketNumber}: out of order or not decoded ({p.Layers}, {p.Issue})");
                previousNs = r.TimestampNs;
                checksum += (p.SrcPort ^ p.DstPort) + p.Protocol + p.IpTotalLength + p.PayloadLength
                    + (long)(p.Src.Lo ^ p.Dst.Lo) + p.TcpSeq + stream.Point + (int)stream.Direction;
                if (++n == SteadyStateAfter)
                    steadyStart = GC.GetTotalAllocatedBytes(true);
            }
        }
        long steady = GC.GetTotalAllocatedBytes(true) - steadyStart;
        if (n != expected)
            throw new InvalidOperationException($"read {n} packets, wrote {expected}");
        return steady;
    }

    /// <summary>libpcap through the reader with no decode or merge: the floor under the pipeline figure.</summary>
    private static long ReadOnly(string path)
    {
        long n = 0, bytes = 0;
        using var reader = CaptureFile.Open(path);
        while (reader.MoveNext())
        {
            bytes += reader.Data.Length;
            n++;
        }
        GC.KeepAlive(bytes);
        return n;
    }

    /// <summary>tcpdump reading and rewriting each file: the same libpcap read with no decode, as a reference point.</summary>
    private static double? TimeTcpdump(params string[] files)
    {
        string? tcpdump = FindOnPath("tcpdump");
        if (tcpdump is null)
        {
            Console.WriteLine("tcpdump: not on PATH, no comparison");
            return null;
        }
        double total = 0;
        foreach (string file in files)
        {
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
                Console.WriteLine($"tcpdump: exit {process.ExitCode} on {file}: {stderr.Result.Trim()}");
                return null;
            }
            total += watch.Elapsed.TotalSeconds;
        }
        return total;
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);

    private static void Print(string name, double value, string format) =>
        Console.WriteLine($"{name}: {value.ToString(format, CultureInfo.InvariantCulture)}");

    private static void Print(string name, long value) =>
        Console.WriteLine($"{name}: {value.ToString(CultureInfo.InvariantCulture)}");
}
