using System.Globalization;
using DuckDB.NET.Data;

namespace TraceReplay.Analytics.Diff;

public static partial class RunDiff
{
    /// <summary>A replayed capture as the captures table records it; the folder is left out, so a capture moved or named by another relative path still matches.</summary>
    private sealed record CaptureInput(string File, string Format, string LinkType, string? Interface, long Packets, long? FirstUs, long? LastUs)
    {
        public override string ToString() =>
            string.Create(CultureInfo.InvariantCulture, $"{File} ({Format}, {LinkType}{(Interface is null ? string.Empty : ", " + Interface)}, {Packets} packets, {Time(FirstUs)} .. {Time(LastUs)})");

        private static string Time(long? us) => us is { } v ? DateTimeOffset.FromUnixTimeMilliseconds(v / 1000).AddTicks(v % 1000 * 10).ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture) : "-";
    }

    /// <summary>
    /// Refuses runs of different captures: the same files (by name), formats, packet counts and time
    /// ranges. Packet ids only denote the same packet in replays of the same captures; the per-packet
    /// check of <see cref="RunDiffSql.Changes"/> (same time and tuple) catches what this cannot see.
    /// </summary>
    private static void CheckInputs(DuckDBConnection db, string runA, string runB, bool force, List<string> warnings)
    {
        var a = Captures(db, "run_a");
        var b = Captures(db, "run_b");
        string? va = Query(db, "SELECT value FROM run_a.run_info WHERE key = 'schema_version'", r => r.GetString(0)).FirstOrDefault();
        string? vb = Query(db, "SELECT value FROM run_b.run_info WHERE key = 'schema_version'", r => r.GetString(0)).FirstOrDefault();
        if (va != vb)
            throw new InvalidDataException($"{runB}: run database schema {vb}, but {runA} has schema {va}: replay both with the same tracereplay");
        if (a.SequenceEqual(b))
            return;
        string what = $"{runA} and {runB} are not replays of the same captures:\n  A: {Describe(a)}\n  B: {Describe(b)}";
        if (!force)
            throw new InvalidDataException(what + "\n(replay the same capture files into both runs, or use --force to compare the packets that are the same)");
        warnings.Add(what.Replace("\n", string.Empty, StringComparison.Ordinal));
    }

    private static string Describe(List<CaptureInput> c) => c.Count == 0 ? "no captures" : string.Join("; ", c);

    private static List<CaptureInput> Captures(DuckDBConnection db, string run) =>
        Query(db, $"SELECT file, format, link_type, interface, packets, epoch_us(first_ts), epoch_us(last_ts) FROM {run}.captures",
            r => new CaptureInput(
                Path.GetFileName(r.GetString(0)), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetInt64(4),
                r.IsDBNull(5) ? null : r.GetInt64(5), r.IsDBNull(6) ? null : r.GetInt64(6)))
        .OrderBy(c => c.File, StringComparer.Ordinal).ThenBy(c => c.FirstUs).ToList();
}
