using System.CommandLine;
using System.Globalization;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Cli.Commands;

/// <summary>
/// `tracereplay conntrack RUN [--at TIME]`: the simulated connection table of a run, at its end (the
/// last packet) or at TIME, rebuilt from connections, conntrack_events and packets (RunReader.ConntrackAt)
/// and printed through the simulated table's own `conntrack -L -o extended` printer.
/// </summary>
internal static class RunConntrack
{
    public static Option<string?> AtOption() => new("--at")
    {
        Description = "With a run database: the table at this time — ISO 8601 UTC (2026-11-25T18:25:49.5Z), seconds since the epoch (1795631149.5), or +SECONDS since the run's first packet (+1.5).",
    };

    public static int Print(string path, string? at, TextWriter output, TextWriter error)
    {
        using var run = RunArgument.Open(path);
        var range = run.TimeRange() ?? throw new InvalidDataException($"{path}: the run has no packets, so no connection table");
        long atUs = at is null ? range.LastUs : ParseTime(at, range.FirstUs);
        if (atUs < range.FirstUs)
            throw new InvalidDataException($"--at {at}: before the run's first packet ({Iso(range.FirstUs)}); the table before it is the snapshot's starting table (tracereplay conntrack SNAPSHOT_DIR)");
        if (atUs > range.LastUs)
            error.WriteLine($"note: --at {at} is after the run's last packet ({Iso(range.LastUs)}): entries are aged to then, nothing new is known");
        var entries = run.ConntrackAt(atUs, withCounters: at is null);
        // Through the simulated table, so the lines are the printer's (ConntrackList.Dump) and in slot order.
        var table = new NfConntrackTable(new NfConntrackSettings());
        table.LoadInitial(entries);
        long nowNs = atUs * 1000;
        table.Start(nowNs);
        ConntrackList.Dump(table, nowNs, output);
        error.WriteLine($"conntrack (tracereplay): {table.Count} flow entries have been shown ({(at is null ? "end of the run" : "at")} {Iso(atUs)}).");
        return ExitCodes.Success;
    }

    /// <summary>ISO 8601 (UTC unless it says otherwise), seconds since the epoch, or +seconds since <paramref name="firstUs"/>.</summary>
    internal static long ParseTime(string text, long firstUs)
    {
        var inv = CultureInfo.InvariantCulture;
        string t = text.Trim();
        if (t.StartsWith('+') && decimal.TryParse(t.AsSpan(1), NumberStyles.AllowDecimalPoint, inv, out decimal rel))
            return firstUs + (long)(rel * 1_000_000m);
        if (decimal.TryParse(t, NumberStyles.AllowDecimalPoint, inv, out decimal epoch))
            return (long)(epoch * 1_000_000m);
        if (DateTimeOffset.TryParse(t, inv, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var dto))
            return (dto.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
        throw new InvalidDataException($"--at {text}: not a time; expected ISO 8601 (2026-11-25T18:25:49.5Z), seconds since the epoch, or +SECONDS since the first packet");
    }

    private static string Iso(long us) =>
        DateTimeOffset.UnixEpoch.AddTicks(us * 10).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
}
