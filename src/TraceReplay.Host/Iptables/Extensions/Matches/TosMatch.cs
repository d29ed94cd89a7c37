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

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--tos")
            return false;
        _flags.Take(o, 1);
        (Value, Mask) = o.TosMask(o.Arg("a TOS name or VALUE[/MASK]"));
        Invert = o.Invert;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_flags.None)
            throw check.Fail("needs --tos (iptables: \"option --tos must be specified\")", "--tos VALUE[/MASK]");
    }

    /// <summary>tos_mt_save: always `0x%02x/0x%02x`.</summary>
    public override void Save(SaveWriter w) => w.Opt("--tos", XtValues.Hex(Value, 2) + "/" + XtValues.Hex(Mask, 2), Invert);
}
