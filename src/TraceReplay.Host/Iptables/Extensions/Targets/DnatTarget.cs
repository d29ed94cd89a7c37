namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j DNAT --to-destination [ADDR[-ADDR]][:PORT[-PORT[/BASE]]] [--random] [--persistent]`
/// (extensions/libxt_NAT.c, revision 2 for both families; kernel xt_nat.c xt_dnat_target_v2). The
/// kernel allows it only in table nat at PREROUTING and OUTPUT. iptables 1.8 has no `--random-fully`
/// for DNAT.
/// </summary>
[XtTarget("DNAT")]
public sealed class DnatTarget : NatTarget
{
    public DnatTarget()
        : base("--to-destination", portsOnly: false, NfNatRangeFlags.ProtoRandom | NfNatRangeFlags.Persistent)
    {
    }

    public override IReadOnlyCollection<string>? Hooks => XtChains.PreroutingOutput;

    private protected override string ToSyntax => "[ADDR[-ADDR]][:PORT[-PORT[/BASE]]]";

    private protected override NfNatRange2 ParseTo(XtOption o, string text, NfNatRange2 range)
    {
        var r = ParseAddressesAndPorts(o, text, o.Family);
        return r with { Flags = r.Flags | range.Flags };
    }
}
