using System.Globalization;

namespace TraceReplay.Host.Iptables.Extensions;

/// <summary>One entry of `--hbh-opts`/`--dst-opts TYPE[:LEN]`: an option type and, when given, its data length.</summary>
public readonly record struct Ip6tOptSpec(byte Type, byte? Length)
{
    /// <summary>print_options: `TYPE`, or `TYPE:LEN` unless the length is 0xFF (which the kernel treats as "any length").</summary>
    public override string ToString() => Length is { } l and not 0xFF
        ? $"{Type.ToString(CultureInfo.InvariantCulture)}:{l.ToString(CultureInfo.InvariantCulture)}"
        : Type.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// The common part of `-m hbh` and `-m dst` (libip6t_hbh.c / libip6t_dst.c over one kernel module,
/// ip6t_hbh.c, and one struct, ip6t_opts): `--PREFIX-len N` and `--PREFIX-opts TYPE[:LEN],…`.
/// </summary>
public abstract class Ip6tOptsMatch : XtMatch
{
    /// <summary>IP6T_OPTS_OPTSNR: at most 16 option specs.</summary>
    public const int MaxOptions = 16;

    private readonly string _lenOption;
    private readonly string _optsOption;
    private XtOptionSet _given;
    private readonly List<Ip6tOptSpec> _options = [];

    private protected Ip6tOptsMatch(string prefix)
    {
        _lenOption = $"--{prefix}-len";
        _optsOption = $"--{prefix}-opts";
    }

    /// <summary>The header length the kernel compares with ipv6_optlen (bytes), when <see cref="HasLength"/>.</summary>
    public uint HeaderLength { get; private set; }
    public bool HasLength { get; private set; }
    public bool InvertHeaderLength { get; private set; }

    /// <summary>Options that must appear in this order (IP6T_OPTS_OPTS); empty when not given.</summary>
    public IReadOnlyList<Ip6tOptSpec> Options => _options;
    public bool HasOptions { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name == _lenOption)
        {
            _given.Take(o, 1);
            HeaderLength = o.UInt32(o.Arg("a header length"));
            InvertHeaderLength = o.Invert;
            HasLength = true;
            return true;
        }
        if (o.Name == _optsOption)
        {
            _given.Take(o, 2);
            o.NoInvert();
            ParseOptions(o, o.Arg("TYPE[:LEN][,TYPE[:LEN]...]"));
            HasOptions = true;
            return true;
        }
        return false;
    }

    /// <summary>
    /// parse_options: each number is read with strtoul and cut to 8 bits (`300` is stored, and
    /// printed, as 44 — witnessed with ip6tables 1.8.9); type 0 (Pad1) has no length; the 16th
    /// entry cannot carry a length (an upstream off-by-one kept for fidelity).
    /// </summary>
    private void ParseOptions(XtOption o, string text)
    {
        string[] parts = text.Split(',');
        if (parts.Length > MaxOptions)
            throw o.Fail($"{parts.Length} options given", text, $"at most {MaxOptions} TYPE[:LEN] entries");
        for (int i = 0; i < parts.Length; i++)
        {
            string part = parts[i];
            int colon = part.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0 && i == MaxOptions - 1)
                throw o.Fail("the 16th option cannot have a length (iptables: \"too many ports specified\")", part, "TYPE without :LEN");
            byte type = (byte)Number(o, colon < 0 ? part : part[..colon], "option type");
            byte? length = null;
            if (colon >= 0)
            {
                if (type == 0)
                    throw o.Fail("Pad1 (type 0) has no length (iptables: \"PAD0 has not got length\")", part, "0 without :LEN");
                length = (byte)Number(o, part[(colon + 1)..], "option length");
            }
            _options.Add(new Ip6tOptSpec(type, length));
        }
    }

    /// <summary>strtoul(…, 0) as the old hand-written parsers call it (decimal, 0x hex, 0 octal), limited to 32 bits.</summary>
    private static uint Number(XtOption o, string text, string what)
    {
        if (!XtValues.TryParseUInt(text, out ulong v) || v > uint.MaxValue)
            throw o.Fail($"not a valid {what}", text, $"a {what} (decimal, 0x hex or 0 octal) up to {uint.MaxValue.ToString(CultureInfo.InvariantCulture)}");
        return (uint)v;
    }

    public override void Save(SaveWriter w)
    {
        if (HasLength)
            w.Opt(_lenOption, HeaderLength, InvertHeaderLength);
        if (HasOptions)
            w.Opt(_optsOption, string.Join(',', _options));
    }
}
