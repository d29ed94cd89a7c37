namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j TRACE` (extensions/libxt_TRACE.c; kernel xt_TRACE.c sets skb->nf_trace): every rule the packet
/// then meets is logged ("TRACE: table:chain:type:rulenum"). No options; the kernel allows it only in
/// table raw (the nf_tables back end accepts it anywhere, legacy iptables does not).
/// </summary>
[XtTarget("TRACE")]
public sealed class TraceTarget : XtTarget
{
    public override bool IsTerminating => false;

    public override IReadOnlyCollection<string>? Tables => XtChains.Raw;

    protected internal override bool Parse(XtOption o) => false;

    public override void Save(SaveWriter w)
    {
    }
}
