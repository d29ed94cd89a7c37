using System.Text;

namespace TraceReplay.Analytics.Query;

/// <summary>
/// Just enough SQL lexing to find statement boundaries and leading keywords: quotes ('…', "…", $$…$$)
/// and comments (-- …, /* … */) are skipped, so a ';' or keyword inside them does not count.
/// </summary>
internal static class SqlText
{
    public static List<string> SplitStatements(string sql)
    {
        var list = new List<string>();
        var sb = new StringBuilder();
        int i = 0;
        while (i < sql.Length)
        {
            int skip = SkipQuotedOrComment(sql, i);
            if (skip > i)
            {
                sb.Append(sql, i, skip - i);
                i = skip;
                continue;
            }
            if (sql[i] == ';')
            {
                Add(list, sb);
                i++;
                continue;
            }
            sb.Append(sql[i++]);
        }
        Add(list, sb);
        return list;
    }

    private static void Add(List<string> list, StringBuilder sb)
    {
        string s = sb.ToString();
        sb.Clear();
        if (FirstKeyword(s).Length > 0 || StripComments(s).Trim().Length > 0)
            list.Add(s.Trim());
    }

    /// <summary>Index after a quoted string or comment starting at <paramref name="i"/>, or <paramref name="i"/> when none starts there.</summary>
    private static int SkipQuotedOrComment(string s, int i)
    {
        char c = s[i];
        if (c is '\'' or '"')
        {
            int j = i + 1;
            while (j < s.Length)
            {
                if (s[j] == c)
                {
                    if (j + 1 < s.Length && s[j + 1] == c)
                    {
                        j += 2;
                        continue;
                    }
                    return j + 1;
                }
                j++;
            }
            return s.Length;
        }
        if (c == '-' && i + 1 < s.Length && s[i + 1] == '-')
        {
            int nl = s.IndexOf('\n', i);
            return nl < 0 ? s.Length : nl + 1;
        }
        if (c == '/' && i + 1 < s.Length && s[i + 1] == '*')
        {
            int end = s.IndexOf("*/", i + 2, StringComparison.Ordinal);
            return end < 0 ? s.Length : end + 2;
        }
        if (c == '$' && i + 1 < s.Length && s[i + 1] == '$')
        {
            int end = s.IndexOf("$$", i + 2, StringComparison.Ordinal);
            return end < 0 ? s.Length : end + 2;
        }
        return i;
    }

    private static string StripComments(string s)
    {
        var sb = new StringBuilder();
        int i = 0;
        while (i < s.Length)
        {
            int skip = SkipQuotedOrComment(s, i);
            if (skip > i)
            {
                if (s[i] is '\'' or '"' or '$')
                    sb.Append(s, i, skip - i);
                else
                    sb.Append(' ');
                i = skip;
                continue;
            }
            sb.Append(s[i++]);
        }
        return sb.ToString();
    }

    /// <summary>The first word of a statement (letters, digits, underscores), after whitespace, comments and opening parentheses.</summary>
    public static string FirstKeyword(string statement)
    {
        string s = StripComments(statement);
        int i = 0;
        while (i < s.Length && (char.IsWhiteSpace(s[i]) || s[i] == '('))
            i++;
        int start = i;
        while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] == '_'))
            i++;
        return s[start..i];
    }

    /// <summary>The statement after its first word.</summary>
    public static string AfterFirstKeyword(string statement)
    {
        string s = StripComments(statement);
        string k = FirstKeyword(s);
        int at = s.IndexOf(k, StringComparison.Ordinal);
        return k.Length == 0 ? string.Empty : s[(at + k.Length)..].Trim();
    }
}
