using System.Globalization;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Net;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Network;

/// <summary>One whitespace-separated word of an `ip` text line and the 1-based column it starts at.</summary>
internal readonly record struct Word(string Text, int Column);

/// <summary>
/// A line of `ip` text output cut into words, with a cursor. iproute2 prints `key value` pairs and bare
/// flags separated by one or two spaces or tabs; every error names the word's column so a user can find it.
/// </summary>
internal sealed class TextLine
{
    private readonly List<Word> _words = [];
    private int _next;

    public TextLine(string file, int line, string text)
    {
        File = file;
        Line = line;
        int i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
                i++;
            int start = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i]))
                i++;
            if (i > start)
                _words.Add(new Word(text[start..i], start + 1));
        }
    }

    public string File { get; }
    public int Line { get; }
    public int Count => _words.Count;
    public bool AtEnd => _next >= _words.Count;
    public int Position { get => _next; set => _next = value; }
    public Word this[int index] => _words[index];

    public Word? Peek() => _next < _words.Count ? _words[_next] : null;

    public SourceLocation Here => new(File, Line, _next < _words.Count ? _words[_next].Column : EndColumn);

    private int EndColumn => _words.Count == 0 ? 1 : _words[^1].Column + _words[^1].Text.Length;

    public SourceLocation At(Word w) => new(File, Line, w.Column);

    public Word Take(string expected)
    {
        if (_next >= _words.Count)
            throw new HostParseException(Here, "line ends too early", "end of line", expected);
        return _words[_next++];
    }

    /// <summary>The value after a keyword (`metric 10`): the keyword names what was expected.</summary>
    public Word Value(Word keyword, string expected)
    {
        if (_next >= _words.Count)
            throw new HostParseException(new SourceLocation(File, Line, EndColumn), $"'{keyword.Text}' needs a value", keyword.Text, expected);
        return _words[_next++];
    }

    public HostParseException Error(Word w, string problem, string expected) => new(At(w), problem, w.Text, expected);

    public uint UInt(Word w, string expected) =>
        TextNumbers.TryParseUInt(w.Text, out uint v) ? v : throw Error(w, "not a number", expected);

    public int Int(Word w, string expected) =>
        int.TryParse(w.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v) ? v : throw Error(w, "not a number", expected);

    public IpAddr Address(Word w, string expected) =>
        NetParse.TryAddress(w.Text, out var a) ? a : throw Error(w, "not an IP address", expected);

    public IpNetwork Prefix(Word w, string expected) =>
        NetParse.TryPrefix(w.Text, out var n) ? n : throw Error(w, "not an address or ADDRESS/PREFIXLEN", expected);
}

internal static class TextNumbers
{
    /// <summary>Decimal or 0x-hex, as iproute2's get_u32(…, 0) accepts.</summary>
    public static bool TryParseUInt(string text, out uint value)
    {
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return uint.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        return uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}

/// <summary>Address and prefix forms as iproute2 prints them: `default`, `ADDR`, `ADDR/LEN` (contiguous masks only).</summary>
public static class NetParse
{
    public static bool TryAddress(string? text, out IpAddr address)
    {
        address = default;
        if (string.IsNullOrEmpty(text) || text.Contains('/', StringComparison.Ordinal))
            return false;
        if (!IpNetwork.TryParse(text, out var n))
            return false;
        address = n.Address;
        return true;
    }

    /// <summary>A route or rule prefix. A host address without /LEN is a full-length prefix (iproute2 omits /32 and /128).</summary>
    public static bool TryPrefix(string? text, out IpNetwork network)
    {
        network = default;
        if (string.IsNullOrEmpty(text))
            return false;
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0 && !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            return false; // a dotted mask is not a form ip prints
        return IpNetwork.TryParse(text, out network);
    }

    public static IpNetwork Prefix(IpAddr address, int length, bool v6) =>
        IpNetwork.Create(address, v6 ? IpNetwork.V6Mask(length) : IpNetwork.V4Mask(length), v6);

    /// <summary>An anonymiser's stand-in (`XX:XX:…`, `fe80::XXXX:…`, `[PUBLIC IP HERE]`) rather than a typo.</summary>
    internal static bool IsRedacted(string text) =>
        text.Contains("XX", StringComparison.OrdinalIgnoreCase) || text.StartsWith('[');
}
