namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m tos --tos VALUE[/MASK]|NAME` (extensions/libxt_tos.c revision 1 with tos_values.c; kernel
/// xt_dscp.c tos_mt): `(tos &amp; mask) == value`. A symbolic name implies mask 0x3f (the old RFC 1349
/// bits without the ECN field), a number alone mask 0xff.
/// </summary>
[XtMatch("tos")]
public sealed class TosMatch : XtMatch
{
    private XtOptionSet _flags;

    public byte Value { get; private set; }
    public byte Mask { get; private set; }
    public bool Invert { get; private set; }

    /// <summary>tos_symbol_names[] of tos_values.c.</summary>
    internal static readonly (string Name, byte Value)[] SymbolNames =
    [
        ("Minimize-Delay", 0x10), ("Maximize-Throughput", 0x08), ("Maximize-Reliability", 0x04), ("Minimize-Cost", 0x02), ("Normal-Service", 0x00),
    ];

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--tos")
            return false;
        _flags.Take(o, 1);
        (Value, Mask) = ParseSymbolic(o, o.Arg("a TOS name or VALUE[/MASK]"), 0x3F);
        Invert = o.Invert;
        return true;
    }

    /// <summary>tos_parse_symbolic: `VALUE[/MASK]` 0-255 (mask defaults to 0xff), else a name with <paramref name="nameMask"/>.</summary>
    internal static (byte Value, byte Mask) ParseSymbolic(XtOption o, string text, byte nameMask)
    {
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string v = slash < 0 ? text : text[..slash];
        if (XtValues.TryParseUInt(v, out ulong value))
        {
            if (value > 0xFF)
                throw o.Fail("TOS value out of range", text, "a value 0-0xff");
            ulong mask = 0xFF;
            if (slash >= 0 && (!XtValues.TryParseUInt(text[(slash + 1)..], out mask) || mask > 0xFF))
                throw o.Fail("bad TOS mask", text, "VALUE/MASK with a mask 0-0xff");
            return ((byte)value, (byte)mask);
        }
        foreach (var (name, val) in SymbolNames)
        {
            if (name.Equals(text, StringComparison.OrdinalIgnoreCase))
                return (val, nameMask);
        }
        throw o.Fail("not a TOS value or name", text, "VALUE[/MASK] or one of " + string.Join(", ", SymbolNames.Select(s => s.Name)));
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_flags.None)
            throw check.Fail("needs --tos (iptables: \"option --tos must be specified\")", "--tos VALUE[/MASK]");
    }

    /// <summary>tos_mt_save: always `0x%02x/0x%02x`.</summary>
    public override void Save(SaveWriter w) => w.Opt("--tos", XtValues.Hex(Value, 2) + "/" + XtValues.Hex(Mask, 2), Invert);
}
