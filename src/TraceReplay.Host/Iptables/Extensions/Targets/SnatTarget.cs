namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j SNAT --to-source [ADDR[-ADDR]][:PORT[-PORT]] [--random] [--random-fully] [--persistent]`
/// (extensions/libxt_NAT.c: revision 0 with `nf_nat_ipv4_multi_range_compat` for iptables, revision 1
/// with `nf_nat_range` for ip6tables; kernel xt_nat.c). Neither struct has a base port, so a
/// `/BASE` keeps NF_NAT_RANGE_PROTO_OFFSET with base 0 and prints back as `/0`, as iptables does.
/// The kernel allows it only in table nat at POSTROUTING and INPUT.
/// </summary>
[XtTarget("SNAT")]
public sealed class SnatTarget : NatTarget
{
    public SnatTarget()
        : base("--to-source", portsOnly: false, NfNatRangeFlags.ProtoRandom | NfNatRangeFlags.ProtoRandomFully | NfNatRangeFlags.Persistent)
    {
    }

    public override IReadOnlyCollection<string>? Hooks => XtChains.PostroutingInput;

    private protected override string ToSyntax => "[ADDR[-ADDR]][:PORT[-PORT]]";

    private protected override NfNatRange2 ParseTo(XtOption o, string text, NfNatRange2 range)
    {
        var r = ParseAddressesAndPorts(o, text, o.Family);
        return r with { Flags = r.Flags | range.Flags, BaseProto = 0 };
    }
}
