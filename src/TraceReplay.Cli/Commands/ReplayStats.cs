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
/// </summary>
internal sealed class ReplayStats
{
    private readonly Stopwatch _wall = Stopwatch.StartNew();
    private readonly TimeSpan _cpu0 = ProcessCpu();

    // All threads (the writer thread's too), precise: the counter is what issue 9's "bytes allocated per packet" asks for.
    private readonly long _allocated0 = GC.GetTotalAllocatedBytes(precise: true);
    private TimeSpan _wallEnd, _cpuEnd;
    private long _allocatedEnd;

    /// <summary>Ends the measurement: call when the run and its database are complete.</summary>
    public void Stop()
    {
        _wallEnd = _wall.Elapsed;
        _cpuEnd = ProcessCpu() - _cpu0;
        _allocatedEnd = GC.GetTotalAllocatedBytes(precise: true) - _allocated0;
    }

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
        Line(o, "load_average", File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown");
    }

    /// <summary>User and system time of every thread of the process (the run database's writer and DuckDB's own threads too).</summary>
    private static TimeSpan ProcessCpu()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    private static void Line(TextWriter o, string name, string value) => o.WriteLine($"  {name}: {value}");

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
