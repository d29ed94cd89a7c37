using System.Globalization;

namespace TraceReplay.Analytics.Anomaly;

/// <summary>Window lengths as users write them: 10s, 500ms, 1m, 1h, or a plain number of seconds.</summary>
public static class BucketSpan
{
    public static TimeSpan Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim();
        (string unit, long us) = t.EndsWith("ms", StringComparison.Ordinal) ? ("ms", 1_000L)
            : t.EndsWith("us", StringComparison.Ordinal) ? ("us", 1L)
            : t.EndsWith('s') ? ("s", 1_000_000L)
            : t.EndsWith('m') ? ("m", 60_000_000L)
            : t.EndsWith('h') ? ("h", 3_600_000_000L)
            : (string.Empty, 1_000_000L);
        string number = t[..^unit.Length];
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double v) || v <= 0 || v * us < 1 || v * us > 86_400_000_000d)
            throw new ArgumentException($"--bucket {text}: expected a duration between 1us and 24h like 10s, 500ms, 1m or 1h");
        return TimeSpan.FromTicks((long)Math.Round(v * us) * 10);
    }

    /// <summary>The length as the parser reads it back (10 s, 1 m…), for messages and the model file.</summary>
    public static string Format(TimeSpan span)
    {
        long us = span.Ticks / 10;
        return us % 3_600_000_000L == 0 ? $"{us / 3_600_000_000L}h"
            : us % 60_000_000L == 0 ? $"{us / 60_000_000L}m"
            : us % 1_000_000L == 0 ? $"{us / 1_000_000L}s"
            : us % 1000 == 0 ? $"{us / 1000}ms" : $"{us}us";
    }
}
