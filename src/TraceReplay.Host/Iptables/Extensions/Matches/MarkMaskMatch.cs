namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m mark` and `-m connmark` are one parser over two marks: libxt_connmark.c's connmark_mt_parse
/// and print are libxt_mark.c's over the same `{mark, mask, invert}` (xt_mark_mtinfo1,
/// xt_connmark_mtinfo1), and the kernel compares ((mark &amp; mask) == value) ^ invert in both.
/// </summary>
public abstract class MarkMaskMatch : XtMatch
{
    private XtOptionSet _given;

    public XtMarkMask Mark { get; private set; }
    public bool Invert { get; private set; }

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
