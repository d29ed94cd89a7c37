using System.Globalization;

namespace TraceReplay.Replay.Pipeline;

/// <summary>
/// `--trace-filter`: which packets `--trace` records, as packet ids (packets.packet_id) and ranges,
/// e.g. "45", "1-100", "3,7,20-30". A small list rather than a BPF program: the trace is for
/// following particular packets, and the ids are what `trace` and the packets table name.
/// </summary>
public sealed class TracePacketFilter
{
    private readonly (long From, long To)[] _ranges;

    private TracePacketFilter((long, long)[] ranges) => _ranges = ranges;

    /// <summary>Every packet.</summary>
    public static TracePacketFilter All { get; } = new([(1, long.MaxValue)]);

    /// <summary>The one packet given.</summary>
    public static TracePacketFilter Only(long packetId) => new([(packetId, packetId)]);

    public bool Contains(long packetId)
    {
        foreach (var (from, to) in _ranges)
        {
            if (packetId >= from && packetId <= to)
                return true;
        }
        return false;
    }

    /// <summary>The largest packet id it can contain (long.MaxValue when open-ended).</summary>
    public long Last => _ranges.Max(r => r.To);

    /// <summary>Reads "N", "N-M", "N-" and comma lists of them; <see cref="FormatException"/> says what is wrong.</summary>
    public static TracePacketFilter Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ranges = new List<(long, long)>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            int dash = part.IndexOf('-', StringComparison.Ordinal);
            string a = dash < 0 ? part : part[..dash], b = dash < 0 ? part : part[(dash + 1)..];
            if (!long.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out long from) || from < 1)
                throw new FormatException($"'{part}': expected a packet id (1, 2, ...) or a range such as 10-20");
            long to = long.MaxValue;
            if (b.Length > 0 && (!long.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out to) || to < from))
                throw new FormatException($"'{part}': expected a packet id (1, 2, ...) or a range such as 10-20, low to high");
            ranges.Add((from, to));
        }
        return new TracePacketFilter([.. ranges]);
    }
}
