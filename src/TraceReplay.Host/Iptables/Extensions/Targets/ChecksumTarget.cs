using static TraceReplay.Host.Iptables.Extensions.XtChains;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j CHECKSUM --checksum-fill` (extensions/libxt_CHECKSUM.c; kernel xt_CHECKSUM.c
/// checksum_tg): computes a checksum left to offload (CHECKSUM_PARTIAL) — for DHCP to old guests
/// over virtual links — and goes on. Nothing about the packet's path changes.
/// </summary>
[XtTarget("CHECKSUM")]
public sealed class ChecksumTarget : XtTarget
{
    private XtOptionSet _seen;

    /// <summary>XT_CHECKSUM_OP_FILL, the only operation.</summary>
    public bool Fill { get; private set; }

    public override bool IsTerminating => false;

    /// <summary>xt_CHECKSUM registers with `.table = "mangle"`.</summary>
    public override IReadOnlyCollection<string>? Tables => Mangle;

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--checksum-fill")
            return false;
        _seen.TakeNoInvert(o, 1);
        Fill = true;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!Fill)
            throw check.Missing("option --checksum-fill must be specified", "--checksum-fill");
    }

    public override void Save(SaveWriter w) => w.Opt("--checksum-fill");
}
