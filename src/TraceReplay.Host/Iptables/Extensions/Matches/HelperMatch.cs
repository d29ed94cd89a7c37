namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>`-m helper --helper NAME` (extensions/libxt_helper.c; kernel xt_helper.c): the conntrack helper of the connection's master, e.g. `ftp` or `ftp-2121`.</summary>
[XtMatch("helper")]
public sealed class HelperMatch : XtMatch
{
    /// <summary>Helper name; the kernel compares the first strlen(name) characters.</summary>
    public string Helper { get; private set; } = string.Empty;
    public bool Invert { get; private set; }
    private XtOptionSet _given;

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--helper")
            return false;
        _given.Take(o, 1);
        string name = o.Arg("a helper name such as ftp");
        if (name.Length > 29)
            throw o.Fail("helper name is too long", name, "at most 29 characters");
        Helper = name;
        Invert = o.Invert;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_given.None)
            throw check.Fail("needs --helper", "--helper NAME");
    }

    public override void Save(SaveWriter w) => w.OptString("--helper", Helper, Invert);
}
