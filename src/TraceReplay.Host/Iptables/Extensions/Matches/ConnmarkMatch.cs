namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>`-m connmark --mark VALUE[/MASK]` (extensions/libxt_connmark.c revision 1; kernel xt_connmark.c connmark_mt: ((ct->mark &amp; mask) == mark) ^ invert).</summary>
[XtMatch("connmark")]
public sealed class ConnmarkMatch : XtMatch
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

    public override void Save(SaveWriter w) => w.Opt("--mark", MarkMatch.MarkText(Mark), Invert);
}
