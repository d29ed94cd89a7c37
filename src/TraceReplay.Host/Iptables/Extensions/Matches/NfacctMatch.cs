namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m nfacct --nfacct-name NAME` (extensions/libxt_nfacct.c; kernel xt_nfacct.c): always matches and
/// counts the packet into the named nfacct object (kube-proxy uses it for its metrics). The kernel
/// refuses the rule when the object does not exist, which a rule file alone cannot tell.
/// </summary>
[XtMatch("nfacct")]
public sealed class NfacctMatch : XtMatch
{
    public string ObjectName { get; private set; } = string.Empty;

    private XtOptionSet _options;

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--nfacct-name")
            return false;
        _options.TakeNoInvert(o, 1);
        string name = o.Arg("an nfacct object name");
        if (name.Length is 0 or > 31)
            throw o.Fail("bad object name length", name, "1 to 31 characters (NFACCT_NAME_MAX)");
        ObjectName = name;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (ObjectName.Length == 0)
            throw check.Fail("needs --nfacct-name", "--nfacct-name NAME");
    }

    /// <summary>nfacct_save prints " --nfacct-name " and then xtables_save_string adds its own space: two spaces, as iptables-save really prints.</summary>
    public override void Save(SaveWriter w) => w.Raw(" --nfacct-name ").Quoted(ObjectName);
}
