namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m esp --espspi SPI[:SPI]` (extensions/libxt_esp.c; kernel xt_esp.c esp_mt). The kernel
/// registers the match with .proto = IPPROTO_ESP for both families, so xt_check_match refuses it
/// without `-p esp`.
/// </summary>
[XtMatch("esp")]
public sealed class EspMatch : XtMatch
{
    /// <summary>The SPI range (struct xt_esp spis[2]); 0:4294967295 when not given.</summary>
    public XtRange Spis { get; private set; } = new(0, uint.MaxValue);

    /// <summary>XT_ESP_INV_SPI.</summary>
    public bool InvertSpis { get; private set; }

    private XtOptionSet _options;

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--espspi")
            return false;
        _options.Take(o, 1);
        Spis = o.Range(o.Arg("SPI[:SPI]"), uint.MaxValue);
        InvertSpis = o.Invert;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check) => check.RequireProtocol(Protocols.Esp);

    public override void Save(SaveWriter w) => w.OptRange("--espspi", Spis, InvertSpis, uint.MaxValue);
}
