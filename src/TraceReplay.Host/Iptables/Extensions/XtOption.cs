using System.Globalization;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Net;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions;

/// <summary>
/// One option being handed to an extension: its name, whether `!` preceded it, and a cursor over its
/// arguments — the role of libxtables' `struct xt_option_call`. Every error names the argument's
/// file:line:column.
/// </summary>
public sealed class XtOption
{
    private readonly IReadOnlyList<RuleToken> _tokens;
    private readonly SourceLocation _line;
    private string? _attached;
    private int _attachedColumn;

    internal XtOption(IReadOnlyList<RuleToken> tokens, int next, SourceLocation line, string name, bool invert, int column, string? attached, XtRuleContext rule)
    {
        _tokens = tokens;
        Next = next;
        _line = line;
        Name = name;
        Invert = invert;
        Column = column;
        _attached = attached;
        _attachedColumn = column + name.Length + 1;
        Rule = rule;
    }

    /// <summary>The option as written, with its dashes: `--dport`.</summary>
    public string Name { get; }
    public bool Invert { get; private set; }
    public int Column { get; }
    public XtRuleContext Rule { get; }
    public IptFamily Family => Rule.Family;

    /// <summary>Index of the first token not consumed.</summary>
    internal int Next { get; private set; }

    public SourceLocation Location => _line with { Column = Column };

    private SourceLocation ArgLocation(int column) => _line with { Column = column };

    /// <summary>The next argument; getopt hands it over whatever it looks like. `--opt ! value` (the pre-1.4.3 spelling) inverts.</summary>
    public string Arg(string expected)
    {
        if (_attached is { } a)
        {
            _attached = null;
            LastColumn = _attachedColumn;
            LastQuoted = false;
            return a;
        }
        if (Next < _tokens.Count && Tokenizer.IsBang(_tokens[Next]) && Next + 1 < _tokens.Count)
        {
            Invert = !Invert;
            Next++;
        }
        if (Next >= _tokens.Count)
            throw new HostParseException(Location, $"option {Name} requires an argument", Name, expected);
        var t = _tokens[Next++];
        LastColumn = t.Column;
        LastQuoted = t.Quoted;
        return t.Text;
    }

    /// <summary>An argument that may be left out: taken when the next word is not another option.</summary>
    public string? OptionalArg()
    {
        if (_attached is not null)
            return Arg(string.Empty);
        if (Next < _tokens.Count && (_tokens[Next].Quoted || !IsOptionLike(_tokens[Next].Text)))
        {
            var t = _tokens[Next++];
            LastColumn = t.Column;
            LastQuoted = t.Quoted;
            return t.Text;
        }
        return null;
    }

    /// <summary>The next word if it is plain text (not an option, not `!`), without taking it.</summary>
    public string? PeekPlainWord() => _attached is null && Next < _tokens.Count && !_tokens[Next].Quoted && !IsOptionLike(_tokens[Next].Text) ? _tokens[Next].Text : null;

    internal static bool IsOptionLike(string s) => s == "!" || (s.Length > 1 && s[0] == '-' && !char.IsDigit(s[1]));

    /// <summary>Whether the argument last taken was written in quotes.</summary>
    public bool LastQuoted { get; private set; }

    /// <summary>Column of the argument last taken, for errors about its value.</summary>
    public int LastColumn { get; private set; }

    public HostParseException Fail(string problem, string? token, string? expected) =>
        new(ArgLocation(LastColumn == 0 ? Column : LastColumn), $"{Name}: {problem}", token, expected);

    /// <summary>Options xtables declares without XTOPT_INVERT refuse `!`.</summary>
    public void NoInvert()
    {
        if (Invert)
            throw new HostParseException(Location, $"{Name} cannot be inverted", "!", $"{Name} without '!'");
    }

    public uint UInt32(string text, uint min = 0, uint max = uint.MaxValue) =>
        XtValues.TryParseUInt(text, out ulong v) && v >= min && v <= max
            ? (uint)v
            : throw Fail("not a number in range", text, $"an integer from {min} to {max}");

    public ulong UInt64(string text, ulong max = ulong.MaxValue) =>
        XtValues.TryParseUInt(text, out ulong v) && v <= max ? v : throw Fail("not a number in range", text, $"an integer from 0 to {max}");

    /// <summary>`MIN[:MAX]` with either side optional, as xtables_parse_range does for XTTYPE_UINT*RC.</summary>
    public XtRange Range(string text, uint max, char separator = ':') =>
        Range(text, max, separator, s => UInt32(s, 0, max), "range start is above its end");

    /// <summary>
    /// The shape of every `MIN:MAX` argument (xtables_parse_range, parse_tcp_ports, parse_mh_types):
    /// `N`, `N:M`, `:M`, `N:` or `:`, open ends being 0 and <paramref name="max"/>; each end is read by
    /// <paramref name="end"/> (a number, a service name, a type name), and a reversed range is refused
    /// with <paramref name="reversed"/>.
    /// </summary>
    public XtRange Range(string text, uint max, char separator, Func<string, uint> end, string reversed)
    {
        ArgumentNullException.ThrowIfNull(end);
        int sep = text.IndexOf(separator, StringComparison.Ordinal);
        uint lo, hi;
        if (sep < 0)
        {
            lo = hi = end(text);
        }
        else
        {
            lo = sep == 0 ? 0 : end(text[..sep]);
            hi = sep == text.Length - 1 ? max : end(text[(sep + 1)..]);
        }
        if (lo > hi)
            throw Fail(reversed, text, $"MIN{separator}MAX with MIN <= MAX");
        return new XtRange(lo, hi);
    }

    /// <summary>
    /// XTTYPE_STRING put into a char[<paramref name="arraySize"/>] (xtopt_parse_string): with `.min = 1`
    /// (<paramref name="nonEmpty"/>) an empty text is refused; a longer one is cut to the array size
    /// minus the NUL, silently.
    /// </summary>
    public string FixedString(string text, int arraySize, bool nonEmpty = false)
    {
        if (nonEmpty && text.Length == 0)
            throw Fail("argument must have a minimum length of 1 characters", text, "a non-empty string");
        return text.Length >= arraySize ? text[..(arraySize - 1)] : text;
    }

    /// <summary>A port by number or service name (`--dport ssh`), as xtables_parse_port does.</summary>
    public ushort Port(string text, string protocol = "tcp")
    {
        if (XtValues.TryParseUInt(text, out ulong v) && v <= 65535 && !text.StartsWith('-'))
            return (ushort)v;
        if (Services.TryGetPort(text, protocol, out ushort p))
            return p;
        throw Fail("not a port number or known service name", text, "a port 0-65535 or a service name");
    }

    /// <summary>`PORT[:PORT]` with open ends, as libxt_tcp's parse_tcp_ports does.</summary>
    public XtRange PortRange(string text, string protocol = "tcp") =>
        Range(text, ushort.MaxValue, ':', s => Port(s, protocol), "port range start is above its end");

    /// <summary>`VALUE[/MASK]` (marks, connmarks): the mask defaults to all ones.</summary>
    public XtMarkMask MarkMask(string text, uint defaultMask = uint.MaxValue)
    {
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
            return new XtMarkMask(UInt32(text), defaultMask, false);
        return new XtMarkMask(UInt32(text[..slash]), UInt32(text[(slash + 1)..]), true);
    }

    /// <summary>ds_classes[] of extensions/dscp_helper.c.</summary>
    private static readonly (string Name, byte Dscp)[] DscpClasses =
    [
        ("CS0", 0x00), ("CS1", 0x08), ("CS2", 0x10), ("CS3", 0x18), ("CS4", 0x20), ("CS5", 0x28), ("CS6", 0x30), ("CS7", 0x38),
        ("BE", 0x00), ("AF11", 0x0a), ("AF12", 0x0c), ("AF13", 0x0e), ("AF21", 0x12), ("AF22", 0x14), ("AF23", 0x16),
        ("AF31", 0x1a), ("AF32", 0x1c), ("AF33", 0x1e), ("AF41", 0x22), ("AF42", 0x24), ("AF43", 0x26), ("EF", 0x2e),
    ];

    /// <summary>class_to_dscp of extensions/dscp_helper.c (libxt_dscp `--dscp-class`, libxt_DSCP `--set-dscp-class`): a DiffServ class name, any case.</summary>
    public byte DscpClass(string name)
    {
        foreach (var (n, v) in DscpClasses)
        {
            if (string.Equals(n, name, StringComparison.OrdinalIgnoreCase))
                return v;
        }
        throw Fail("invalid DSCP class value", name, "one of " + string.Join(", ", DscpClasses.Select(c => c.Name)));
    }

    /// <summary>tos_symbol_names[] of extensions/tos_values.c: the RFC 1349 names.</summary>
    private static readonly (string Name, byte Value)[] TosNames =
    [
        ("Minimize-Delay", 0x10), ("Maximize-Throughput", 0x08), ("Maximize-Reliability", 0x04), ("Minimize-Cost", 0x02), ("Normal-Service", 0x00),
    ];

    /// <summary>
    /// XTTYPE_TOSMASK (xtopt_parse_tosmask, libxt_tos and libxt_TOS): `VALUE[/MASK]` 0-255 with the
    /// mask 0xff when left out, or an RFC 1349 name (any case), whose mask is 0x3f.
    /// </summary>
    public (byte Value, byte Mask) TosMask(string text)
    {
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string valueText = slash < 0 ? text : text[..slash];
        if (XtValues.TryParseUInt(valueText, out ulong value))
        {
            if (value > 0xFF)
                throw Fail("TOS value out of range", valueText, "a value 0-0xff");
            ulong mask = 0xFF;
            if (slash >= 0 && (!XtValues.TryParseUInt(text[(slash + 1)..], out mask) || mask > 0xFF))
                throw Fail("bad TOS mask", text[(slash + 1)..], "VALUE/MASK with a mask 0-0xff");
            return ((byte)value, (byte)mask);
        }
        foreach (var (name, v) in TosNames)
        {
            if (name.Equals(text, StringComparison.OrdinalIgnoreCase))
                return (v, 0x3F);
        }
        throw Fail("not a TOS value or name", text, "VALUE[/MASK] (0-255) or one of " + string.Join(", ", TosNames.Select(s => s.Name)));
    }

    public IpNetwork Network(string text)
    {
        if (!IpNetwork.TryParse(text, out var n) || n.IsV6 != (Family == IptFamily.IPv6))
            throw Fail("not an address or network of this family", text, Family == IptFamily.IPv6 ? "an IPv6 ADDR[/LEN]" : "an IPv4 ADDR[/LEN|/MASK]");
        return n;
    }

    public IpAddr Address(string text)
    {
        if (!System.Net.IPAddress.TryParse(text, out var ip) || (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) != (Family == IptFamily.IPv6)
            || (Family == IptFamily.IPv4 && text.Count(c => c == '.') != 3))
            throw Fail("not an address of this family", text, Family == IptFamily.IPv6 ? "an IPv6 address" : "an IPv4 address");
        return IpAddr.FromIPAddress(ip);
    }

    /// <summary>XTTYPE_HOSTMASK / XTTYPE_HOST: ADDR[/LEN|/MASK] of the rule's family, the address kept unmasked.</summary>
    public XtHostMask HostMask(string text)
    {
        var net = Network(text);
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        var address = Address(slash < 0 ? text : text[..slash]);
        return new XtHostMask(address, net);
    }

    /// <summary>XTTYPE_PLEN: a prefix length up to the family's address width.</summary>
    public byte PrefixLength(string text) =>
        (byte)UInt32(text, 0, Family == IptFamily.IPv6 ? 128u : 32u);

    /// <summary>A value from a fixed set of names (case-insensitive unless <paramref name="caseSensitive"/>).</summary>
    public T Choice<T>(string text, IReadOnlyDictionary<string, T> names, bool caseSensitive = false)
    {
        foreach (var (k, v) in names)
        {
            if (string.Equals(k, text, caseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase))
                return v;
        }
        throw Fail("unknown value", text, "one of " + string.Join(", ", names.Keys));
    }
}

/// <summary>An inclusive range of unsigned numbers (ports, lengths, expiry times).</summary>
public readonly record struct XtRange(uint Min, uint Max)
{
    public bool Contains(uint v) => v >= Min && v <= Max;

    /// <summary>`N` when both ends agree, else `MIN:MAX`.</summary>
    public string ToString(char separator) => Min == Max ? Min.ToString(CultureInfo.InvariantCulture) : $"{Min}{separator}{Max}";

    public override string ToString() => ToString(':');
}

/// <summary>A value with a mask (`--mark 0x1/0xff`); <see cref="MaskGiven"/> keeps whether the rule spelled the mask.</summary>
public readonly record struct XtMarkMask(uint Value, uint Mask, bool MaskGiven)
{
    public bool Matches(uint mark) => (mark & Mask) == Value;
}

/// <summary>
/// An address with a mask as XTTYPE_HOSTMASK leaves it (conntrack --ctorigsrc, policy --tunnel-src,
/// ipvs --vaddr): unlike `-s`, the address is kept as written — iptables-save prints `1.2.3.4/24` back —
/// while <see cref="Network"/> holds the masked form the kernel compares with ((addr ^ x) &amp; mask).
/// </summary>
public readonly record struct XtHostMask(IpAddr Address, IpNetwork Network)
{
    public bool Matches(IpAddr a) => Network.Contains(a);

    /// <summary>xtables_ipaddr_to_numeric + xtables_ipmask_to_numeric: no suffix for a host mask, `/LEN` or `/MASK`.</summary>
    public override string ToString()
    {
        int len = Network.PrefixLength;
        if (len == (Network.IsV6 ? 128 : 32))
            return Address.ToString();
        if (len >= 0)
            return Address + "/" + len.ToString(CultureInfo.InvariantCulture);
        var mask = Network.IsV6 ? Network.Mask : IpAddr.FromV4((uint)Network.Mask.Lo);
        return Address + "/" + mask;
    }
}

/// <summary>Number parsing as strtoul with base 0 (decimal, 0x hex, 0 octal), which xtables_strtoui uses.</summary>
public static class XtValues
{
    public static bool TryParseUInt(string text, out ulong value)
    {
        value = 0;
        if (string.IsNullOrEmpty(text))
            return false;
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return text.Length > 2 && ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        if (text.Length > 1 && text[0] == '0')
        {
            foreach (char c in text)
            {
                if (c is < '0' or > '7' || value > ulong.MaxValue / 8)
                    return false;
                value = (value * 8) + (ulong)(c - '0');
            }
            return true;
        }
        return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>printf("0x%x"), or with <paramref name="digits"/> printf("0x%0Nx"): lower-case hex as the save hooks print marks, masks and DSCP values.</summary>
    public static string Hex(uint v, int digits = 1) => "0x" + v.ToString("x" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    /// <summary>
    /// The digits strtoul(s + start, &amp;end, 0) reads — `0x` hex when a hex digit follows, a leading
    /// `0` octal, else decimal — without the blanks and sign strtoul also skips (each caller allows
    /// what its upstream parser does). Returns where the digits end, <paramref name="start"/> when
    /// there are none; <paramref name="value"/> stops at uint.MaxValue + 1, so an overflow of 32 bits shows.
    /// </summary>
    public static int ScanUInt32(string s, int start, out ulong value)
    {
        int i = start;
        int radix = 10;
        if (i + 2 < s.Length && s[i] == '0' && s[i + 1] is 'x' or 'X' && char.IsAsciiHexDigit(s[i + 2]))
        {
            radix = 16;
            i += 2;
        }
        else if (i < s.Length && s[i] == '0')
        {
            radix = 8;
        }
        int digits = i;
        value = 0;
        for (; i < s.Length; i++)
        {
            char c = s[i];
            int d = c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'f' ? c - 'a' + 10 : c is >= 'A' and <= 'F' ? c - 'A' + 10 : 99;
            if (d >= radix)
                break;
            value = Math.Min((value * (ulong)radix) + (ulong)d, (ulong)uint.MaxValue + 1);
        }
        return i == digits ? start : i;
    }

    /// <summary>atoll: leading decimal digits, 0 when there are none.</summary>
    public static ulong Atoull(string s)
    {
        ulong v = 0;
        foreach (char c in s)
        {
            if (c is < '0' or > '9')
                break;
            v = unchecked((v * 10) + (ulong)(c - '0'));
        }
        return v;
    }

    /// <summary>printf("%llu").</summary>
    public static string Dec(ulong v) => v.ToString(CultureInfo.InvariantCulture);
}
