namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j NETMAP --to ADDR[/LEN]` (extensions/libipt_NETMAP.c and libip6t_NETMAP.c; kernel xt_NETMAP.c):
/// maps a whole network 1:1, keeping the host bits. Prefix-or-source rewrite depends on the hook
/// (destination at PREROUTING/OUTPUT, source at POSTROUTING/INPUT). Table nat.
/// </summary>
[XtTarget("NETMAP")]
public sealed class NetmapTarget : XtTarget
{
    private const int OTo = 0;
    private XtOptionSet _seen;

    /// <summary>The target network as given, with host bits cleared (iptables-save prints it so).</summary>
    public Net.IpNetwork Network { get; private set; }

    /// <summary>MinAddr = network, MaxAddr = network | ~mask, NF_NAT_RANGE_MAP_IPS — what netmap_tg reads.</summary>
    public NfNatRange2 Range { get; private set; }

    public override bool IsTerminating => true;

    public override IReadOnlyCollection<string>? Tables => XtChains.Nat;

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--to")
            return false;
        _seen.TakeNoInvert(o, 1u << OTo);
        string text = o.Arg("ADDR[/LEN]");
        var n = o.Network(text);
        Network = n;
        // An IPv4 mask is all ones above the low 32 bits, so the OR keeps the IPv4-mapped prefix.
        var max = new Capture.Decode.IpAddr(n.Address.Hi | ~n.Mask.Hi, n.Address.Lo | ~n.Mask.Lo);
        Range = new NfNatRange2(NfNatRangeFlags.MapIps, n.Address, max, 0, 0, 0);
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_seen.None)
            throw check.Fail("option --to must be specified", "--to ADDR[/LEN]");
    }

    public override void Save(SaveWriter w) => w.Opt("--to", Network.ToString());
}
