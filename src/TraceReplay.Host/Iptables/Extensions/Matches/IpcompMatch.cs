namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m ipcomp --ipcompspi SPI[:SPI] [--compres]` (extensions/libxt_ipcomp.c; kernel xt_ipcomp.c
/// comp_mt). Registered with .proto = IPPROTO_COMP, so the kernel wants `-p ipcomp` (108). The
/// SPI is the 16-bit CPI of RFC 3173 widened to 32 bits, as the kernel compares it.
/// </summary>
[XtMatch("ipcomp")]
public sealed class IpcompMatch : XtMatch
{
    private const byte IpprotoComp = 108;

    public XtRange Spis { get; private set; } = new(0, uint.MaxValue);
    public bool InvertSpis { get; private set; }

    /// <summary>--compres: the reserved header fields must be zero (hdrres).</summary>
    public bool CheckReserved { get; private set; }

    private XtOptionSet _options;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--ipcompspi":
                _options.Take(o, 1);
                Spis = o.Range(o.Arg("SPI[:SPI]"), uint.MaxValue);
                InvertSpis = o.Invert;
                return true;
            case "--compres":
                _options.Take(o, 2);
                o.NoInvert();
                CheckReserved = true;
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check) => check.RequireProtocol(IpprotoComp);

    public override void Save(SaveWriter w)
    {
        w.OptRange("--ipcompspi", Spis, InvertSpis, uint.MaxValue);
        if (CheckReserved)
            w.Opt("--compres");
    }
}
