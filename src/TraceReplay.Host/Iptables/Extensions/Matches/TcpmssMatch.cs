namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>`-m tcpmss --mss MIN[:MAX]` (extensions/libxt_tcpmss.c; kernel xt_tcpmss.c tcpmss_mt): the MSS option of a SYN.</summary>
[XtMatch("tcpmss")]
public sealed class TcpmssMatch() : U16RangeMatch("--mss", "MSS[:MSS]", "--mss VALUE[:VALUE]")
{
    public XtRange Mss => Range;

    /// <summary>The kernel's tcpmss_mt_reg has .proto = IPPROTO_TCP.</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        base.FinalCheck(rule, check);
        check.RequireProtocol(Protocols.Tcp);
    }
}
