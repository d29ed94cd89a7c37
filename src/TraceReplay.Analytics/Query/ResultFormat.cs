using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;

namespace TraceReplay.Analytics.Query;

/// <summary>How `tracereplay query` prints a result: an aligned text table, CSV (RFC 4180) or JSON (an array of objects).</summary>
public static class ResultFormat
{
    /// <summary>The result in the format `--format` named: csv, json, or (anything else) the text table.</summary>
    public static void Write(TextWriter o, QueryResult r, string? format)
    {
        switch (format)
        {
            case "csv":
                Csv(o, r);
                break;
            case "json":
                Json(o, r);
                break;
            default:
                Table(o, r);
                break;
        }
    }

    /// <summary>A value as text: times in ISO 8601 UTC (as DESIGN.md's command line takes them), numbers invariant.</summary>
    public static string Text(object? v) => v switch
    {
        null => string.Empty,
        DateTime d => (d.Kind == DateTimeKind.Local ? d.ToUniversalTime() : d).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture),
        DateTimeOffset d => d.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture),
        DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        byte[] bytes => Convert.ToHexString(bytes),
        System.Collections.IEnumerable e and not string => "[" + string.Join(", ", e.Cast<object?>().Select(Text)) + "]",
        _ => v.ToString() ?? string.Empty,
    };

    public static void Table(TextWriter o, QueryResult r)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(r);
        var cells = r.Rows.Select(row => row.Select(v => v is null ? "NULL" : Text(v).ReplaceLineEndings(" ")).ToArray()).ToList();
        var width = new int[r.Columns.Count];
        for (int i = 0; i < width.Length; i++)
            width[i] = Math.Max(r.Columns[i].Length, cells.Count == 0 ? 0 : cells.Max(c => c[i].Length));
        bool[] right = [.. r.Rows.Count == 0 ? r.Columns.Select(_ => false) : Enumerable.Range(0, width.Length).Select(i => r.Rows.All(row => row[i] is null or IFormattable and not DateTime and not DateTimeOffset and not DateOnly))];
        string Line(IReadOnlyList<string> values) => string.Join("  ", values.Select((v, i) => right[i] ? v.PadLeft(width[i]) : v.PadRight(width[i]))).TrimEnd();
        o.WriteLine(Line(r.Columns));
        o.WriteLine(string.Join("  ", width.Select(w => new string('-', w))));
        foreach (var c in cells)
            o.WriteLine(Line(c));
        o.WriteLine($"({r.Rows.Count:N0} row{(r.Rows.Count == 1 ? string.Empty : "s")})");
    }

    public static void Csv(TextWriter o, QueryResult r)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(r);
        o.Write(string.Join(",", r.Columns.Select(CsvField)) + "\r\n");
        foreach (var row in r.Rows)
            o.Write(string.Join(",", row.Select(v => CsvField(Text(v)))) + "\r\n");
    }

    private static string CsvField(string s) =>
        s.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;

    public static void Json(TextWriter o, QueryResult r)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(r);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartArray();
            foreach (var row in r.Rows)
            {
                w.WriteStartObject();
                for (int i = 0; i < row.Length; i++)
                {
                    w.WritePropertyName(r.Columns[i]);
                    WriteValue(w, row[i]);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        o.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    /// <summary>A value as JSON: numbers stay numbers (64-bit and wider as raw numbers), times ISO 8601.</summary>
    public static void WriteValue(Utf8JsonWriter w, object? v)
    {
        ArgumentNullException.ThrowIfNull(w);
        switch (v)
        {
            case null:
                w.WriteNullValue();
                break;
            case bool b:
                w.WriteBooleanValue(b);
                break;
            case sbyte or byte or short or ushort or int or uint or long:
                w.WriteNumberValue(Convert.ToInt64(v, CultureInfo.InvariantCulture));
                break;
            case ulong u:
                w.WriteNumberValue(u);
                break;
            case float or double or decimal:
                double d = Convert.ToDouble(v, CultureInfo.InvariantCulture);
                if (double.IsFinite(d))
                    w.WriteNumberValue(d);
                else
                    w.WriteStringValue(Text(v));
                break;
            case BigInteger or Int128 or UInt128:
                w.WriteRawValue(Text(v));
                break;
            default:
                w.WriteStringValue(Text(v));
                break;
        }
    }
}
