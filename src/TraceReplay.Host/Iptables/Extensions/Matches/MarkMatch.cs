namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>`-m mark --mark VALUE[/MASK]` (extensions/libxt_mark.c revision 1; kernel xt_mark.c mark_mt: ((skb->mark &amp; mask) == mark) ^ invert).</summary>
[XtMatch("mark")]
public sealed class MarkMatch : XtMatch
{
    public XtMarkMask Mark { get; private set; }
    public bool Invert { get; private set; }
    private XtOptionSet _given;

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--mark")
            return false;
        _given.Take(o, 1);
        Mark = o.MarkMask(o.Arg("VALUE[/MASK]"));
        Invert = o.Invert;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_given.None)
            throw check.Fail("needs --mark", "--mark VALUE[/MASK]");
    }

    public override void Save(SaveWriter w) => w.Opt("--mark", MarkText(Mark), Invert);

    /// <summary>print_mark: hex, `/mask` only when the mask is not all ones.</summary>
    internal static string MarkText(XtMarkMask m) =>
        m.Mask == uint.MaxValue ? XtValues.Hex(m.Value) : XtValues.Hex(m.Value) + "/" + XtValues.Hex(m.Mask);
}
