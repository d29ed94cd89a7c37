namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>`-m length --length MIN[:MAX]` (extensions/libxt_length.c; kernel xt_length.c): the IP packet length (IPv6: payload + 40).</summary>
[XtMatch("length")]
public sealed class LengthMatch : XtMatch
{
    private XtOptionSet _flags;

    public XtRange Length { get; private set; }
    public bool Invert { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--length")
            return false;
        _flags.Take(o, 1);
        Length = o.Range(o.Arg("LENGTH[:LENGTH]"), ushort.MaxValue);
        Invert = o.Invert;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_flags.None)
            throw check.Fail("needs --length (iptables: \"option --length must be specified\")", "--length MIN[:MAX]");
    }

    public override void Save(SaveWriter w) => w.Opt("--length", Length, Invert);
}
