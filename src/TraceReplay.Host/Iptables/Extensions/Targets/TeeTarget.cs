using TraceReplay.Capture.Decode;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j TEE --gateway ADDR [--oif DEV]` (extensions/libxt_TEE.c; kernel xt_TEE.c tee_tg4/tee_tg6):
/// sends a copy of the packet to a next hop and goes on with the original (XT_CONTINUE).
/// </summary>
[XtTarget("TEE")]
public sealed class TeeTarget : XtTarget
{
    private const uint Gateway = 1, Oif = 2;
    private const int IfNameMax = 15;
    private XtOptionSet _seen;

    /// <summary>The next hop the copy is routed to (xt_tee_tginfo.gw).</summary>
    public IpAddr GatewayAddress { get; private set; }

    /// <summary>The interface the copy must leave by; empty for the route's own.</summary>
    public string OutInterface { get; private set; } = string.Empty;

    public override bool IsTerminating => false;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--gateway":
                _seen.TakeNoInvert(o, Gateway);
                // XTTYPE_HOST would resolve a host name; offline only addresses are read.
                GatewayAddress = o.Address(o.Arg("the gateway address"));
                return true;
            case "--oif":
            {
                _seen.TakeNoInvert(o, Oif);
                string dev = o.Arg("an interface name");
                if (dev.Length == 0 || dev.Length > IfNameMax)
                    throw o.Fail("not an interface name", dev, $"1 to {IfNameMax} characters (IFNAMSIZ)");
                OutInterface = dev;
                return true;
            }
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_seen.Has(Gateway))
            throw check.Missing("option --gateway must be specified", "--gateway ADDR");
        // tee_tg_check: an all-zero gateway is refused (-EINVAL).
        if (GatewayAddress == default || (GatewayAddress.IsV4 && GatewayAddress.V4 == 0))
            throw check.Missing("the gateway may not be the unspecified address (the kernel refuses it)", "a gateway address other than 0.0.0.0 / ::");
    }

    public override void Save(SaveWriter w)
    {
        w.Opt("--gateway", GatewayAddress.ToString());
        if (OutInterface.Length > 0)
            w.Opt("--oif", OutInterface);
    }
}
