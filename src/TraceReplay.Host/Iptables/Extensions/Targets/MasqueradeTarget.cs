namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j MASQUERADE [--to-ports PORT[-PORT]] [--random] [--random-fully]` (extensions/libxt_NAT.c;
/// kernel xt_MASQUERADE.c masquerade_tg): SNAT to the outgoing interface's primary address, chosen
/// per packet, so the range never maps addresses. Table nat, POSTROUTING only.
/// </summary>
[XtTarget("MASQUERADE")]
public sealed class MasqueradeTarget : NatTarget
{
    public MasqueradeTarget()
        : base("--to-ports", portsOnly: true, NfNatRangeFlags.ProtoRandom | NfNatRangeFlags.ProtoRandomFully)
    {
    }

    public override IReadOnlyCollection<string>? Hooks => XtChains.Postrouting;

    private protected override string ToSyntax => "PORT[-PORT]";

    private protected override NfNatRange2 ParseTo(XtOption o, string text, NfNatRange2 range)
    {
        ParsePorts(o, text, ref range);
        // SNAT_fcheck keeps the offset flag; the compat struct has no base port.
        return range with { BaseProto = 0 };
    }
}
