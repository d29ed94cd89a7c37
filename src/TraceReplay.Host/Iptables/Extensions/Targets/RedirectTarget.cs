namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j REDIRECT [--to-ports PORT[-PORT]] [--random]` (extensions/libxt_NAT.c; kernel xt_REDIRECT.c):
/// DNAT to the primary address of the incoming interface (127.0.0.1 / ::1 for locally generated
/// packets), optionally to other ports. A `/BASE` is refused (DNAT_fcheck: "Shifted portmap ranges not
/// supported"). Table nat, PREROUTING and OUTPUT.
/// </summary>
[XtTarget("REDIRECT")]
public sealed class RedirectTarget : NatTarget
{
    public RedirectTarget()
        : base("--to-ports", portsOnly: true, NfNatRangeFlags.ProtoRandom)
    {
    }

    public override IReadOnlyCollection<string>? Hooks => XtChains.PreroutingOutput;

    private protected override string ToSyntax => "PORT[-PORT]";

    private protected override NfNatRange2 ParseTo(XtOption o, string text, NfNatRange2 range)
    {
        ParsePorts(o, text, ref range, allowOffset: false);
        return range;
    }
}
