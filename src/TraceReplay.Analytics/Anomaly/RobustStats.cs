namespace TraceReplay.Analytics.Anomaly;

/// <summary>
/// Median and MAD, written plainly because Microsoft.ML.TimeSeries is not available here and the
/// job is small: a window is compared with a baseline (the normal runs, or the run itself) by a
/// robust z-score, (x - median) / (1.4826 MAD), which a minority of attack windows in the baseline
/// cannot drag along as they would a mean and a standard deviation. The same score against an
/// entity's own earlier windows is the time-series view: "this host, compared with itself".
/// </summary>
public static class RobustStats
{
    /// <summary>1.4826 MAD estimates the standard deviation of normally distributed data.</summary>
    public const double MadToSigma = 1.4826;

    public static double Median(Span<double> values)
    {
        if (values.Length == 0)
            return 0;
        values.Sort();
        int n = values.Length;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }

    /// <summary>Median and spread (1.4826 MAD, at least <paramref name="minSpread"/>) of the values.</summary>
    public static (double Median, double Spread) Of(ReadOnlySpan<double> values, double minSpread)
    {
        var buf = values.ToArray();
        double med = Median(buf);
        for (int i = 0; i < buf.Length; i++)
            buf[i] = Math.Abs(buf[i] - med);
        return (med, Math.Max(MadToSigma * Median(buf), minSpread));
    }
}
