using System.Globalization;

namespace TraceReplay.Analytics.Nat;

/// <summary>The --bucket values: a number and a unit (s, m, h), e.g. 1s, 10s, 1m.</summary>
public static class NatBuckets
{
    /// <summary>Microseconds of a bucket such as "10s"; null when the text is not one.</summary>
    public static long? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Length < 2)
            return null;
        long unit = text[^1] switch { 's' => 1_000_000L, 'm' => 60_000_000L, 'h' => 3_600_000_000L, _ => 0 };
        if (unit == 0 || !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n <= 0 || n > 1_000_000)
            return null;
        return n * unit;
    }

    public static string Format(long us) =>
        us % 3_600_000_000L == 0 ? $"{us / 3_600_000_000L}h" : us % 60_000_000L == 0 ? $"{us / 60_000_000L}m" : us % 1_000_000 == 0 ? $"{us / 1_000_000}s" : $"{us}us";
}
