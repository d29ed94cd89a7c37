using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Ipset;

/// <summary>A word of an ipset line and the 1-based column it starts at.</summary>
internal readonly record struct IpsetToken(string Text, int Column);

/// <summary>
/// Splits a restore line into words as ipset's build_argv does: whitespace separates, a double-quoted
/// string (a comment) is one word without its quotes.
/// </summary>
internal static class IpsetTokenizer
{
    public static List<IpsetToken> Split(string line, string file, int lineNo)
    {
        var tokens = new List<IpsetToken>();
        int i = 0;
        while (i < line.Length)
        {
            if (char.IsWhiteSpace(line[i]))
            {
                i++;
                continue;
            }
            int start = i;
            if (line[i] == '"')
            {
                int close = line.IndexOf('"', i + 1);
                if (close < 0)
                    throw new HostParseException(new SourceLocation(file, lineNo, start + 1), "unterminated quoted string", line[start..], "a closing '\"'");
                tokens.Add(new IpsetToken(line[(i + 1)..close], start + 1));
                i = close + 1;
                if (i < line.Length && !char.IsWhiteSpace(line[i]))
                    throw new HostParseException(new SourceLocation(file, lineNo, i + 1), "text right after a quoted string", line[i..], "whitespace");
                continue;
            }
            while (i < line.Length && !char.IsWhiteSpace(line[i]))
                i++;
            tokens.Add(new IpsetToken(line[start..i], start + 1));
        }
        return tokens;
    }
}
