using System.Text;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables;

/// <summary>A word of a rule line and the 1-based column it starts at.</summary>
/// <param name="Quoted">Whether any part was in quotes: a quoted `"!"` is text, not negation.</param>
public readonly record struct RuleToken(string Text, int Column, bool Quoted = false);

/// <summary>
/// Splits an iptables-restore line into words as add_param_to_argv (iptables/xshared.c) does:
/// blanks separate words, double quotes group them, and inside quotes a backslash takes the next
/// character literally (`--comment "a \"b\""`). Quotes may open mid-word (`--comment=a" b"`).
/// </summary>
public static class Tokenizer
{
    /// <summary>An unquoted `!`: negation of the next option.</summary>
    public static bool IsBang(in RuleToken t) => !t.Quoted && t.Text == "!";

    public static List<RuleToken> Split(string line, SourceLocation lineLocation)
    {
        var tokens = new List<RuleToken>();
        var word = new StringBuilder();
        bool inWord = false, quoted = false, wasQuoted = false;
        int start = 0, quoteColumn = 0;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '\\' && i + 1 < line.Length)
                {
                    word.Append(line[++i]);
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    word.Append(c);
                }
                continue;
            }
            if (c is ' ' or '\t' or '\r')
            {
                if (inWord)
                {
                    tokens.Add(new RuleToken(word.ToString(), start + 1, wasQuoted));
                    word.Clear();
                    inWord = false;
                    wasQuoted = false;
                }
                continue;
            }
            if (!inWord)
            {
                inWord = true;
                start = i;
            }
            if (c == '"')
            {
                quoted = true;
                wasQuoted = true;
                quoteColumn = i + 1;
            }
            else
            {
                word.Append(c);
            }
        }
        if (quoted)
            throw new HostParseException(lineLocation with { Column = quoteColumn }, "unterminated quote", "\"", "a closing '\"' before the end of the line");
        if (inWord)
            tokens.Add(new RuleToken(word.ToString(), start + 1, wasQuoted));
        return tokens;
    }
}
