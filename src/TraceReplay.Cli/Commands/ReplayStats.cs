using System.Diagnostics;
using System.Globalization;
using TraceReplay.Replay.Pipeline;

namespace TraceReplay.Cli.Commands;

/// <summary>
/// `replay --stats`: what the run cost, measured by the command itself so `make bench` (scripts/bench.sh)
/// reports the figures a user's own run would have (issue 9): wall and CPU time, throughput by sighting
/// and by real packet, managed bytes allocated per sighting, and the peak resident set. Measured from
/// the start of the command's work (snapshot load) to the run database's completion, so everything a
/// user waits for is in it except the runtime's own start. Printed as `name: value` lines with invariant
/// numbers, one per line, for scripts (awk -F': ').
/// The run is cut in three phases — start-up (snapshot load, host build, database create), the replay
/// loop (ReplayJob.Run) and the tail (Complete: rules, connections, the database's commit) — and the CPU
/// time is split by thread (<see cref="ThreadCpuLedger"/>): on a loaded machine the simulate thread's CPU
/// time per sighting, not the wall time, is the figure that compares builds (issue 9).
/// </summary>
internal sealed class ReplayStats : IDisposable
{
    private readonly Stopwatch _wall = Stopwatch.StartNew();
    private readonly TimeSpan _cpu0 = ProcessCpu();
    private readonly TimeSpan _runtimeStart = SinceProcessStart();
    private readonly ThreadCpuLedger? _threads;
    private readonly double[] _threads0 = new double[ThreadCpuLedger.Groups];
    private double[] _threadsRun0 = new double[ThreadCpuLedger.Groups], _threadsRunEnd = new double[ThreadCpuLedger.Groups], _threadsEnd = new double[ThreadCpuLedger.Groups];
    private TimeSpan _wallRun0, _wallRunEnd, _cpuRun0, _cpuRunEnd;

    // All threads (the writer thread's too), precise: the counter is what issue 9's "bytes allocated per packet" asks for.
    private readonly long _allocated0 = GC.GetTotalAllocatedBytes(precise: true);
    private readonly int[] _collections0 = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
    private readonly TimeSpan _pause0 = GC.GetTotalPauseDuration();
    private int[] _collections = [0, 0, 0];
    private TimeSpan _pause;
    private TimeSpan _wallEnd, _cpuEnd;
    private long _allocatedEnd;

    /// <summary>Starts measuring; <paramref name="perThread"/> (--stats) also samples each thread's CPU time, on the calling thread's side the replay loop.</summary>
    public ReplayStats(bool perThread)
    {
        if (!perThread)
            return;
        _threads = new ThreadCpuLedger();
        _threads.Now().CopyTo(_threads0, 0);
    }

    /// <summary>The replay loop starts (everything before it is start-up): call on the thread that runs it.</summary>
    public void RunStarting()
    {
        _wallRun0 = _wall.Elapsed;
        _cpuRun0 = ProcessCpu() - _cpu0;
        _threadsRun0 = _threads?.Now() ?? _threadsRun0;
    }

    /// <summary>The replay loop returned: every sighting has been simulated; the tail (Complete) follows.</summary>
    public void RunEnded()
    {
        _wallRunEnd = _wall.Elapsed;
        _cpuRunEnd = ProcessCpu() - _cpu0;
        _threadsRunEnd = _threads?.Now() ?? _threadsRunEnd;
    }

    /// <summary>Ends the measurement: call when the run and its database are complete.</summary>
    public void Stop()
    {
        _wallEnd = _wall.Elapsed;
        _cpuEnd = ProcessCpu() - _cpu0;
        _threadsEnd = _threads?.Now() ?? _threadsEnd;
        _allocatedEnd = GC.GetTotalAllocatedBytes(precise: true) - _allocated0 - (_threads?.OwnAllocatedBytes ?? 0);
        _collections = [GC.CollectionCount(0) - _collections0[0], GC.CollectionCount(1) - _collections0[1], GC.CollectionCount(2) - _collections0[2]];
        _pause = GC.GetTotalPauseDuration() - _pause0;
    }

    public void Dispose() => _threads?.Dispose();

    public void Write(TextWriter o, ReplaySummary s)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(s);
        double wall = _wallEnd.TotalSeconds, cpu = _cpuEnd.TotalSeconds;
        long n = Math.Max(1, s.Sightings);
        o.WriteLine("Stats:");
        Line(o, "sightings", s.Sightings.ToString(CultureInfo.InvariantCulture));
        Line(o, "real_packets", s.Packets.ToString(CultureInfo.InvariantCulture));
        Line(o, "wall_seconds", wall.ToString("F3", CultureInfo.InvariantCulture));
        Line(o, "cpu_seconds", cpu.ToString("F3", CultureInfo.InvariantCulture));
        Line(o, "sightings_per_second", (s.Sightings / Math.Max(wall, 1e-9)).ToString("F0", CultureInfo.InvariantCulture));
        Line(o, "real_packets_per_second", (s.Packets / Math.Max(wall, 1e-9)).ToString("F0", CultureInfo.InvariantCulture));
        Line(o, "wall_ns_per_sighting", (wall * 1e9 / n).ToString("F1", CultureInfo.InvariantCulture));
        Line(o, "cpu_ns_per_sighting", (cpu * 1e9 / n).ToString("F1", CultureInfo.InvariantCulture));
        Line(o, "allocated_bytes", _allocatedEnd.ToString(CultureInfo.InvariantCulture));
        Line(o, "allocated_bytes_per_sighting", (_allocatedEnd / (double)n).ToString("F1", CultureInfo.InvariantCulture));
        Line(o, "peak_rss_mb", PeakRssKb() is long kb and >= 0 ? (kb / 1024.0).ToString("F1", CultureInfo.InvariantCulture) : "unknown");
        // CollectionCount(0) counts every collection (a gen1 or gen2 one collects gen0 too).
        Line(o, "gc_collections", string.Create(CultureInfo.InvariantCulture, $"{_collections[0]} gen0, {_collections[1]} gen1, {_collections[2]} gen2"));
        Line(o, "gc_pause_seconds", Seconds(_pause.TotalSeconds));
        WritePhases(o, n);
        Line(o, "load_average", File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown");
    }

    /// <summary>User and system time of every thread of the process (the run database's writer and DuckDB's own threads too).</summary>
    private static TimeSpan ProcessCpu()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    private static void Line(TextWriter o, string name, string value) => o.WriteLine($"  {name}: {value}");

    private static string Seconds(double s) => s.ToString("F3", CultureInfo.InvariantCulture);

    /// <summary>Start-up, loop and tail; the CPU time of each thread group over the whole command and, for the simulate thread, per sighting of the loop.</summary>
    private void WritePhases(TextWriter o, long n)
    {
        Line(o, "runtime_start_seconds", Seconds(_runtimeStart.TotalSeconds));
        Line(o, "startup_seconds", Seconds(_wallRun0.TotalSeconds));
        Line(o, "startup_cpu_seconds", Seconds(_cpuRun0.TotalSeconds));
        Line(o, "replay_loop_seconds", Seconds((_wallRunEnd - _wallRun0).TotalSeconds));
        Line(o, "replay_loop_cpu_seconds", Seconds((_cpuRunEnd - _cpuRun0).TotalSeconds));
        Line(o, "tail_seconds", Seconds((_wallEnd - _wallRunEnd).TotalSeconds));
        Line(o, "tail_cpu_seconds", Seconds((_cpuEnd - _cpuRunEnd).TotalSeconds));
        if (_threads is not { Available: true })
        {
            Line(o, "thread_cpu_seconds", "unknown (no /proc/self/task)");
            return;
        }
        string[] names = ["simulate", "receive", "writer", "other"];
        for (int g = 0; g < ThreadCpuLedger.Groups; g++)
            Line(o, $"{names[g]}_thread{(g == (int)ThreadCpuLedger.Group.Other ? "s" : string.Empty)}_cpu_seconds", Seconds(_threadsEnd[g] - _threads0[g]));
        for (int g = 0; g < ThreadCpuLedger.Groups; g++)
        {
            double loop = _threadsRunEnd[g] - _threadsRun0[g];
            Line(o, $"{names[g]}_thread{(g == (int)ThreadCpuLedger.Group.Other ? "s" : string.Empty)}_loop_cpu_ns_per_sighting", (loop * 1e9 / n).ToString("F1", CultureInfo.InvariantCulture));
        }
    }

    /// <summary>From the process's start (exec) to now: the runtime's start, the command line's parse and the JIT of both, before any of our work.</summary>
    private static TimeSpan SinceProcessStart()
    {
        try
        {
            using var self = Process.GetCurrentProcess();
            return DateTime.Now - self.StartTime;
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>VmHWM of /proc/self/status: the peak resident set, native memory (DuckDB, libpcap) included; -1 where there is none.</summary>
    private static long PeakRssKb()
    {
        const string Status = "/proc/self/status";
        if (!File.Exists(Status))
            return -1;
        foreach (string line in File.ReadLines(Status))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal)
                && long.TryParse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long kb))
                return kb;
        }
        return -1;
    }
}
