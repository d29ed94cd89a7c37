namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>`-m quota --quota BYTES` (extensions/libxt_quota.c; kernel xt_quota.c): matches until BYTES have passed (shared counter, decremented per packet).</summary>
[XtMatch("quota")]
public sealed class QuotaMatch : XtMatch
{
    public ulong Quota { get; private set; }
    public bool Invert { get; private set; }
    private XtOptionSet _given;

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--quota")
            return false;
        _given.Take(o, 1);
        Quota = o.UInt64(o.Arg("a number of bytes"));
        Invert = o.Invert;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_given.None)
            throw check.Fail("needs --quota", "--quota BYTES");
    }

    public override void Save(SaveWriter w) => w.Opt("--quota", Quota, Invert);
}
