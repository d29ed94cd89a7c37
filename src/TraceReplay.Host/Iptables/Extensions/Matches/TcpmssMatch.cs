namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>`-m tcpmss --mss MIN[:MAX]` (extensions/libxt_tcpmss.c; kernel xt_tcpmss.c tcpmss_mt): the MSS option of a SYN.</summary>
[XtMatch("tcpmss")]
public sealed class TcpmssMatch : XtMatch
{
    private XtOptionSet _flags;

    public XtRange Mss { get; private set; }
    public bool Invert { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--mss")
            return false;
        _flags.Take(o, 1);
        // XTTYPE_UINT16RC: open ends default to 0 and 65535.
        Mss = o.Range(o.Arg("MSS[:MSS]"), ushort.MaxValue);
        Invert = o.Invert;
        return true;
    }

    /// <summary>XTOPT_MAND on --mss; the kernel's tcpmss_mt_reg has .proto = IPPROTO_TCP.</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_flags.None)
            throw check.Fail("needs --mss (iptables: \"option --mss must be specified\")", "--mss VALUE[:VALUE]");
        check.RequireProtocol(Protocols.Tcp);
    }

    public override void Save(SaveWriter w) => w.Opt("--mss", Mss, Invert);
}
