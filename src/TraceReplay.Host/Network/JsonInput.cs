using System.Globalization;
using System.Text;
using System.Text.Json;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Net;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Network;

/// <summary>
/// The top-level array `ip -j` prints, with the line and column each element starts at. JsonElement
/// does not know its position, so one extra Utf8JsonReader pass records where each array element
/// begins; a wrong-shaped element is then reported at file:line:column like a bad text line.
/// </summary>
internal sealed class JsonInput
{
    private JsonInput(string file, List<JsonElement> elements, List<SourceLocation> locations)
    {
        File = file;
        Elements = elements;
        Locations = locations;
    }

    public string File { get; }
    public List<JsonElement> Elements { get; }
    public List<SourceLocation> Locations { get; }

    /// <exception cref="InvalidDataException">Not JSON; the message names file and line.</exception>
    /// <exception cref="HostParseException">JSON, but not an array of objects.</exception>
    public static JsonInput Parse(string text, string file, string command)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            long line = (e.LineNumber ?? 0) + 1;
            long col = (e.BytePositionInLine ?? 0) + 1;
            throw new InvalidDataException($"{file}:{line}:{col}: not valid JSON ({e.Message}); expected the output of `{command}`", e);
        }
        // Cloned elements outlive the document; the snapshot files are small (kilobytes to a few MB).
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Array)
                throw new HostParseException(new SourceLocation(file, 1, 1), $"a JSON {Kind(root)} where `{command}` prints an array", Kind(root), "a JSON array");
            var starts = ElementStarts(utf8, file);
            var elements = new List<JsonElement>();
            var locations = new List<SourceLocation>();
            int i = 0;
            foreach (var e in root.EnumerateArray())
            {
                var loc = i < starts.Count ? starts[i] : new SourceLocation(file, 1, 1);
                if (e.ValueKind != JsonValueKind.Object)
                    throw new HostParseException(loc, $"array element #{i + 1} is a JSON {Kind(e)}", Kind(e), "a JSON object");
                elements.Add(e.Clone());
                locations.Add(loc);
                i++;
            }
            return new JsonInput(file, elements, locations);
        }
    }

    private static List<SourceLocation> ElementStarts(byte[] utf8, string file)
    {
        var list = new List<SourceLocation>();
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 64 });
        // Line starts, to turn byte offsets into line:column.
        var lineStarts = new List<int> { 0 };
        for (int i = 0; i < utf8.Length; i++)
        {
            if (utf8[i] == (byte)'\n')
                lineStarts.Add(i + 1);
        }
        while (reader.Read())
        {
            if (reader.CurrentDepth == 1 && reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray
                or JsonTokenType.String or JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null)
            {
                int offset = (int)reader.TokenStartIndex;
                int line = lineStarts.BinarySearch(offset);
                if (line < 0)
                    line = ~line - 1;
                list.Add(new SourceLocation(file, line + 1, offset - lineStarts[line] + 1));
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                    reader.Skip();
            }
        }
        return list;
    }

    internal static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => "value",
    };
}

/// <summary>Typed field access on one `ip -j` object; a wrong type names the field, its path and the object's location.</summary>
internal readonly struct JsonFields(JsonElement obj, SourceLocation location, string path)
{
    public JsonElement Object => obj;
    public SourceLocation Location => location;

    public bool Has(string name) => obj.TryGetProperty(name, out _);

    private HostParseException Wrong(string name, JsonElement v, string expected) =>
        new(location, $"field \"{path}{name}\" is a JSON {JsonInput.Kind(v)}", Shorten(v), expected);

    private static string Shorten(JsonElement v)
    {
        string raw = v.GetRawText();
        return raw.Length > 60 ? raw[..60] + "…" : raw;
    }

    public HostParseException Error(string name, string problem, string token, string expected) =>
        new(location, $"field \"{path}{name}\": {problem}", token, expected);

    public string? String(string name)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Wrong(name, v, "a string");
    }

    public string RequiredString(string name) =>
        String(name) ?? throw new HostParseException(location, $"field \"{path}{name}\" is missing", path.Length == 0 ? "{" : path, $"a string \"{name}\"");

    /// <summary>A number; iproute2 prints some numbers as strings ("table":"100"), so both are accepted.</summary>
    public long? Number(string name, long min = 0, long max = uint.MaxValue)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            return null;
        long n;
        if (v.ValueKind == JsonValueKind.Number)
        {
            if (!v.TryGetInt64(out n))
                throw Wrong(name, v, $"an integer {min}..{max}");
        }
        else if (v.ValueKind == JsonValueKind.String)
        {
            if (!TextNumbers.TryParseUInt(v.GetString()!, out uint u))
                throw Wrong(name, v, $"an integer {min}..{max}");
            n = u;
        }
        else
        {
            throw Wrong(name, v, $"an integer {min}..{max}");
        }
        return n < min || n > max ? throw Error(name, "out of range", n.ToString(CultureInfo.InvariantCulture), $"{min}..{max}") : n;
    }

    public long RequiredNumber(string name, long min = 0, long max = uint.MaxValue) =>
        Number(name, min, max) ?? throw new HostParseException(location, $"field \"{path}{name}\" is missing", path.Length == 0 ? "{" : path, $"a number \"{name}\"");

    /// <summary>A flag iproute2 prints as `"name": true` (addr flags) or `"name": null` (rule `not`, `l3mdev`).</summary>
    public bool Flag(string name)
    {
        if (!obj.TryGetProperty(name, out var v))
            return false;
        return v.ValueKind switch
        {
            JsonValueKind.True or JsonValueKind.Null => true,
            JsonValueKind.False => false,
            _ => throw Wrong(name, v, "true, false or null"),
        };
    }

    public IReadOnlyList<string> StringArray(string name)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            return [];
        if (v.ValueKind != JsonValueKind.Array)
            throw Wrong(name, v, "an array of strings");
        var list = new List<string>();
        foreach (var s in v.EnumerateArray())
            list.Add(s.ValueKind == JsonValueKind.String ? s.GetString()! : throw Wrong(name, s, "an array of strings"));
        return list;
    }

    public IEnumerable<JsonFields> Objects(string name)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            yield break;
        if (v.ValueKind != JsonValueKind.Array)
            throw Wrong(name, v, "an array of objects");
        int i = 0;
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Object)
                throw Wrong($"{name}[{i}]", e, "an object");
            yield return new JsonFields(e, location, $"{path}{name}[{i}].");
            i++;
        }
    }

    public JsonFields? Child(string name)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            return null;
        return v.ValueKind == JsonValueKind.Object ? new JsonFields(v, location, $"{path}{name}.") : throw Wrong(name, v, "an object");
    }

    public IpAddr? Address(string name)
    {
        string? s = String(name);
        if (s is null)
            return null;
        return NetParse.TryAddress(s, out var a) ? a : throw Error(name, "not an IP address", s, "an IPv4 or IPv6 address");
    }

    public IpNetwork? Prefix(string name)
    {
        string? s = String(name);
        if (s is null)
            return null;
        return NetParse.TryPrefix(s, out var n) ? n : throw Error(name, "not an address or prefix", s, "ADDRESS or ADDRESS/PREFIXLEN");
    }
}
