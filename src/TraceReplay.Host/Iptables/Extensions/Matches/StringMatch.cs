using System.Globalization;
using System.Text;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>The kernel textsearch algorithms `--algo` can name (lib/ts_bm.c, lib/ts_kmp.c).</summary>
public enum XtStringAlgo : byte
{
    Bm,
    Kmp,
}

/// <summary>
/// `-m string --algo bm|kmp [--from N] [--to N] [!] --string TEXT | --hex-string HEX [--icase]`
/// (extensions/libxt_string.c; kernel xt_string.c string_mt). The pattern is bytes; save prints it
/// as `--hex-string "|…|"` when any byte is not printable ASCII (or the last one is a backslash), as
/// string_save does. string_mt_check refuses an empty pattern, from > to, and algorithms the kernel
/// has no textsearch module for (witnessed: `fsm` and unknown names fail with EINVAL/ENOENT).
/// </summary>
[XtMatch("string")]
public sealed class StringMatch : XtMatch
{
    /// <summary>XT_STRING_MAX_PATTERN_SIZE.</summary>
    public const int MaxPatternSize = 128;

    private const int OFrom = 0, OTo = 1, OAlgo = 2, OIcase = 3, OString = 4, OHexString = 5;

    private XtOptionSet _options;
    private byte[] _pattern = [];

    /// <summary>The bytes searched for (pattern[0..patlen]).</summary>
    public ReadOnlyMemory<byte> Pattern => _pattern;
    public XtStringAlgo Algorithm { get; private set; }

    /// <summary>Offsets into the packet (from the network header) the search starts and stops at: from_offset / to_offset.</summary>
    public ushort From { get; private set; }
    public ushort To { get; private set; } = ushort.MaxValue;
    public bool Invert { get; private set; }

    /// <summary>XT_STRING_FLAG_IGNORECASE (revision 1).</summary>
    public bool IgnoreCase { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--from":
                _options.Take(o, 1u << OFrom);
                o.NoInvert();
                From = (ushort)o.UInt32(o.Arg("an offset 0-65535"), 0, ushort.MaxValue);
                return true;
            case "--to":
                _options.Take(o, 1u << OTo);
                o.NoInvert();
                To = (ushort)o.UInt32(o.Arg("an offset 0-65535"), 0, ushort.MaxValue);
                return true;
            case "--algo":
                _options.Take(o, 1u << OAlgo);
                o.NoInvert();
                Algorithm = o.Choice(o.Arg("bm or kmp"), Algorithms, caseSensitive: true);
                return true;
            case "--icase":
                _options.Take(o, 1u << OIcase);
                o.NoInvert();
                IgnoreCase = true;
                return true;
            case "--string":
            case "--hex-string":
            {
                bool hex = o.Name == "--hex-string";
                _options.Take(o, 1u << (hex ? OHexString : OString), excl: 1u << (hex ? OString : OHexString));
                string text = o.Arg(hex ? "a hex string such as \"|0d0a|\"" : "the string to search for");
                byte[] bytes = Encoding.UTF8.GetBytes(text);
                _pattern = hex ? ParseHex(o, text, bytes) : bytes;
                if (_pattern.Length > MaxPatternSize)
                    throw o.Fail($"pattern is {_pattern.Length} bytes long (iptables: \"STRING too long\")", Shorten(text), $"at most {MaxPatternSize} bytes");
                Invert = o.Invert;
                return true;
            }
            default:
                return false;
        }
    }

    private static readonly Dictionary<string, XtStringAlgo> Algorithms = new(StringComparer.Ordinal)
    {
        ["bm"] = XtStringAlgo.Bm,
        ["kmp"] = XtStringAlgo.Kmp,
    };

    private static string Shorten(string s) => s.Length > 24 ? s[..24] + "…" : s;

    /// <summary>
    /// parse_hex_string: plain bytes, `|hex pairs|` blocks (spaces allowed between pairs), and `\c`
    /// for a literal character outside a block.
    /// </summary>
    private static byte[] ParseHex(XtOption o, string text, byte[] s)
    {
        if (s.Length == 0)
            throw o.Fail("empty hex string (iptables: \"STRING must contain at least one char\")", text, "at least one byte");
        var pattern = new List<byte>();
        bool hexBlock = false, literal = false;
        int i = 0, n = s.Length;
        while (i < n)
        {
            if (pattern.Count >= MaxPatternSize)
                throw o.Fail("pattern is too long (iptables: \"STRING too long\")", Shorten(text), $"at most {MaxPatternSize} bytes");
            if (s[i] == '\\' && !hexBlock)
            {
                literal = true;
            }
            else if (s[i] == '\\')
            {
                throw o.Fail("a backslash inside a |hex| block (iptables: \"Cannot include literals in hex data\")", text, "hex digit pairs between '|'");
            }
            else if (s[i] == '|')
            {
                if (hexBlock)
                {
                    hexBlock = false;
                }
                else
                {
                    hexBlock = true;
                    while (i + 1 < n && s[i + 1] == ' ')
                        i++;
                }
                if (i + 1 >= n)
                    break;
                i++;
            }

            if (literal)
            {
                if (i + 1 >= n)
                    throw o.Fail("a backslash at the end (iptables: \"Bad literal placement at end of string\")", text, "a character after '\\'");
                pattern.Add(s[i + 1]);
                i += 2;
                literal = false;
            }
            else if (hexBlock)
            {
                if (i + 1 >= n)
                    throw o.Fail("odd number of hex digits", text, "hex digit pairs");
                if (i + 2 >= n)
                    throw o.Fail("hex block not closed (iptables: \"Invalid hex block\")", text, "a '|' after the hex digits");
                if (!char.IsAsciiHexDigit((char)s[i]) || !char.IsAsciiHexDigit((char)s[i + 1]))
                    throw o.Fail($"invalid hex character '{(char)(char.IsAsciiHexDigit((char)s[i]) ? s[i + 1] : s[i])}'", text, "hex digits 0-9 a-f");
                pattern.Add(byte.Parse(Encoding.ASCII.GetString(s, i, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
                i += s[i + 2] == ' ' ? 3 : 2;
            }
            else
            {
                pattern.Add(s[i]);
                i++;
            }
        }
        return [.. pattern];
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_options.Has(1u << OString) && !_options.Has(1u << OHexString))
            throw check.Fail("needs --string or --hex-string (iptables: \"STRING match: You must specify `--string' or `--hex-string'\")", "--string TEXT or --hex-string HEX");
        if (!_options.Has(1u << OAlgo))
            throw check.Fail("needs --algo (iptables: \"option \\\"--algo\\\" must be specified\")", "--algo bm or --algo kmp");
        if (_pattern.Length == 0)
            throw check.Fail("the pattern is empty (the kernel refuses it: textsearch_prepare EINVAL)", "a pattern of at least one byte");
        if (From > To)
            throw check.Fail($"--from {From} is beyond --to {To} (the kernel's string_mt_check refuses it)", "--from <= --to");
    }

    public override void Save(SaveWriter w)
    {
        w.Opt(IsHexString(_pattern) ? "--hex-string" : "--string", Invert).Raw(" ").Raw(PatternText(_pattern));
        w.Opt("--algo", Algorithm == XtStringAlgo.Bm ? "bm" : "kmp");
        if (From != 0)
            w.Opt("--from", From);
        if (To != ushort.MaxValue)
            w.Opt("--to", To);
        if (IgnoreCase)
            w.Opt("--icase");
    }

    /// <summary>is_hex_string: a byte outside isprint (0x20-0x7e), or a trailing backslash.</summary>
    public static bool IsHexString(ReadOnlySpan<byte> p)
    {
        foreach (byte b in p)
        {
            if (b is < 0x20 or > 0x7e)
                return true;
        }
        return p.Length > 0 && p[^1] == '\\';
    }

    /// <summary>print_hex_string / print_string: `"|6162|"`, or the text in quotes with `"` and `\` escaped.</summary>
    public static string PatternText(ReadOnlySpan<byte> p)
    {
        var sb = new StringBuilder("\"");
        if (IsHexString(p))
        {
            sb.Append('|');
            foreach (byte b in p)
                sb.Append(b.ToString("x2", CultureInfo.InvariantCulture));
            sb.Append('|');
        }
        else
        {
            foreach (byte b in p)
            {
                if (b is (byte)'"' or (byte)'\\')
                    sb.Append('\\');
                sb.Append((char)b);
            }
        }
        return sb.Append('"').ToString();
    }
}
