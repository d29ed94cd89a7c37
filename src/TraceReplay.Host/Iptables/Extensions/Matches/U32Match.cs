using System.Globalization;
using System.Text;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>How a location number combines with the value so far (enum xt_u32_ops).</summary>
public enum XtU32Op : byte
{
    /// <summary>`&amp;`: mask the value.</summary>
    And,

    /// <summary>`&lt;&lt;`.</summary>
    LeftShift,

    /// <summary>`&gt;&gt;`.</summary>
    RightShift,

    /// <summary>`@`: move the base by the value and read 4 bytes at the next number.</summary>
    At,
}

/// <summary>
/// One element of a location (struct xt_u32_location_element): the first is the starting offset
/// (its <see cref="NextOp"/> is unused); each later one applies its operator with its number.
/// </summary>
public readonly record struct XtU32Location(uint Number, XtU32Op NextOp);

/// <summary>One `LOCATION=VALUE[,VALUE...]` test (struct xt_u32_test); it holds when the 32-bit value read falls in any range.</summary>
public sealed record XtU32Test(IReadOnlyList<XtU32Location> Location, IReadOnlyList<XtRange> Values);

/// <summary>
/// `-m u32 [!] --u32 TESTS` (extensions/libxt_u32.c; kernel xt_u32.c u32_mt): tests joined by
/// `&amp;&amp;`, all of which must hold. Parsed into the xt_u32.h tree with its limits (XT_U32_MAXSIZE:
/// 10 tests, 10 location numbers and 10 value ranges per test) and printed back as u32_dump does,
/// every number in lower-case hex: `--u32 "0x6&amp;0xff=0x1"`.
/// </summary>
[XtMatch("u32")]
public sealed class U32Match : XtMatch
{
    /// <summary>XT_U32_MAXSIZE.</summary>
    public const int MaxSize = 10;

    private XtOptionSet _options;

    public IReadOnlyList<XtU32Test> Tests { get; private set; } = [];
    public bool Invert { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--u32")
            return false;
        _options.Take(o, 1);
        string text = o.Arg("tests, e.g. \"6&0xFF=6\"");
        Tests = ParseTests(o, text);
        Invert = o.Invert;
        return true;
    }

    /// <summary>u32_parse's two-state scanner: state 0 reads a location (number, then operator number …) up to '='; state 1 reads ranges separated by ',' up to "&amp;&amp;" or the end.</summary>
    private static List<XtU32Test> ParseTests(XtOption o, string s)
    {
        var tests = new List<XtU32Test>();
        var location = new List<XtU32Location>();
        var values = new List<XtRange>();
        bool readingValues = false;
        int i = 0;

        HostParseException Error(string problem, string expected) =>
            o.Fail($"at char {i}: {problem}", s, expected);

        while (true)
        {
            while (i < s.Length && char.IsWhiteSpace(s[i]))
                i++;
            if (i >= s.Length)
            {
                if (!readingValues)
                    throw Error("abrupt end of input after location specifier", "'=' and a value after the location");
                if (values.Count == 0)
                    throw Error("test ended with no value specified", "a value after '='");
                tests.Add(new XtU32Test(location, values));
                if (tests.Count > MaxSize)
                    throw Error("too many \"&&\"s", $"at most {MaxSize} tests");
                return tests;
            }
            if (!readingValues)
            {
                if (s[i] == '=')
                {
                    if (location.Count == 0)
                        throw Error("location spec missing", "a number before '='");
                    i++;
                    readingValues = true;
                    continue;
                }
                var op = XtU32Op.And;
                if (location.Count != 0)
                {
                    switch (s[i])
                    {
                        case '&':
                            op = XtU32Op.And;
                            break;
                        case '<':
                            if (++i >= s.Length || s[i] != '<')
                                throw Error("a second '<' was expected", "<<");
                            op = XtU32Op.LeftShift;
                            break;
                        case '>':
                            if (++i >= s.Length || s[i] != '>')
                                throw Error("a second '>' was expected", ">>");
                            op = XtU32Op.RightShift;
                            break;
                        case '@':
                            op = XtU32Op.At;
                            break;
                        default:
                            throw Error("operator expected", "one of & << >> @ or '='");
                    }
                    i++;
                }
                location.Add(new XtU32Location(Number(ref i), op));
                if (location.Count > MaxSize)
                    throw Error("too many operators", $"at most {MaxSize} numbers in a location");
                continue;
            }
            if (s[i] == '&')
            {
                if (++i >= s.Length || s[i] != '&')
                    throw Error("a second '&' was expected", "&&");
                if (values.Count == 0)
                    throw Error("value spec missing", "a value before \"&&\"");
                tests.Add(new XtU32Test(location, values));
                if (tests.Count >= MaxSize)
                    throw Error("too many \"&&\"s", $"at most {MaxSize} tests");
                location = [];
                values = [];
                readingValues = false;
                i++;
                continue;
            }
            if (values.Count > 0)
            {
                if (s[i] != ',')
                    throw Error("expected \",\" or \"&&\"", ", or &&");
                i++;
            }
            uint min = Number(ref i);
            while (i < s.Length && char.IsWhiteSpace(s[i]))
                i++;
            uint max = min;
            if (i < s.Length && s[i] == ':')
            {
                i++;
                max = Number(ref i);
            }
            values.Add(new XtRange(min, max));
            if (values.Count > MaxSize)
                throw Error("too many \",\"s", $"at most {MaxSize} value ranges per test");
        }

        // parse_number: strtoul(…, 0) — blanks skipped, 0x hex, leading-0 octal, else decimal.
        uint Number(ref int at)
        {
            int p = at;
            while (p < s.Length && char.IsWhiteSpace(s[p]))
                p++;
            int end = XtValues.ScanUInt32(s, p, out ulong v);
            if (v > uint.MaxValue)
            {
                i = at;
                throw Error("number does not fit in 32 bits", "a number up to 0xffffffff");
            }
            if (end == p)
            {
                i = at;
                throw Error("expected number", "a number (decimal, 0x hex or 0 octal)");
            }
            at = end;
            return (uint)v;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_options.Has(1))
            throw check.Fail("needs --u32 TESTS", "--u32 \"LOCATION=VALUE[&&...]\"");
    }

    public override void Save(SaveWriter w) => w.Opt("--u32", Invert).Raw(" \"").Raw(Dump(Tests)).Raw("\"");

    /// <summary>u32_dump: `0xN[OP0xN...]=0xV[:0xV][,...]` joined by `&amp;&amp;`.</summary>
    public static string Dump(IReadOnlyList<XtU32Test> tests)
    {
        var sb = new StringBuilder();
        for (int t = 0; t < tests.Count; t++)
        {
            if (t > 0)
                sb.Append("&&");
            var loc = tests[t].Location;
            for (int k = 0; k < loc.Count; k++)
            {
                if (k > 0)
                {
                    sb.Append(loc[k].NextOp switch
                    {
                        XtU32Op.And => "&",
                        XtU32Op.LeftShift => "<<",
                        XtU32Op.RightShift => ">>",
                        _ => "@",
                    });
                }
                Hex(sb, loc[k].Number);
            }
            sb.Append('=');
            var values = tests[t].Values;
            for (int k = 0; k < values.Count; k++)
            {
                if (k > 0)
                    sb.Append(',');
                Hex(sb, values[k].Min);
                if (values[k].Min != values[k].Max)
                {
                    sb.Append(':');
                    Hex(sb, values[k].Max);
                }
            }
        }
        return sb.ToString();
    }

    private static void Hex(StringBuilder sb, uint v) => sb.Append("0x").Append(v.ToString("x", CultureInfo.InvariantCulture));
}
