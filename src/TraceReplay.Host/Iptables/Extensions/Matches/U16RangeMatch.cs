namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// A match of one mandatory XTTYPE_UINT16RC option, `--OPTION MIN[:MAX]` with open ends 0 and
/// 65535, that takes `!` and prints back as `MIN:MAX` (or `N`): libxt_length.c and libxt_tcpmss.c
/// are the same parser and printer over `{min, max, invert}` (xt_length_info, xt_tcpmss_match_info).
/// </summary>
public abstract class U16RangeMatch(string option, string syntax, string expected) : XtMatch
{
    private XtOptionSet _given;

    /// <summary>The range the kernel compares the value with.</summary>
    private protected XtRange Range { get; private set; }

    public bool Invert { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != option)
            return false;
        _given.Take(o, 1);
        Range = o.Range(o.Arg(syntax), ushort.MaxValue);
        Invert = o.Invert;
        return true;
    }

    /// <summary>XTOPT_MAND on the option.</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_given.None)
            throw check.Fail($"needs {option} (iptables: \"option {option} must be specified\")", expected);
    }

    public override void Save(SaveWriter w) => w.Opt(option, Range, Invert);
}
