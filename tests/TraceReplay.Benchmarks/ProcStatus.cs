using System.Globalization;

namespace TraceReplay.Benchmarks;

/// <summary>A field of /proc/self/status in kB (VmHWM: peak resident set, VmRSS: now), as the whole-pipeline runs print them.</summary>
internal static class ProcStatus
{
    /// <summary>The value of <paramref name="field"/> (with its colon, e.g. "VmHWM:") in kB, or -1 where the kernel does not list it.</summary>
    public static long Kb(string field)
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
                return long.Parse(line.AsSpan(field.Length).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
        }
        return -1;
    }
}
