using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j REDIRECT [--to-ports PORT[-PORT]] [--random]` (extensions/libxt_NAT.c; kernel xt_REDIRECT.c):
/// DNAT to the primary address of the incoming interface (127.0.0.1 / ::1 for locally generated
/// packets), optionally to other ports. A `/BASE` is refused (DNAT_fcheck: "Shifted portmap ranges not
/// supported"). Table nat, PREROUTING and OUTPUT.
/// </summary>
[XtTarget("REDIRECT")]
public sealed class RedirectTarget : XtTarget
{
    private const int OPorts = 0, ORandom = 1;
    private XtOptionSet _seen;
    private SourceLocation _portsAt;
    private string _portsText = string.Empty;

    /// <summary>Ports and flags; the address is chosen per packet (nf_nat_redirect_ipv4/ipv6).</summary>
    public NfNatRange2 Range { get; private set; }

    public override bool IsTerminating => true;

    public override IReadOnlyCollection<string>? Tables => XtChains.Nat;

    public override IReadOnlyCollection<string>? Hooks => XtChains.PreroutingOutput;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--to-ports":
            {
                _seen.TakeNoInvert(o, 1u << OPorts);
                _portsText = o.Arg("PORT[-PORT]");
                _portsAt = o.Location with { Column = o.LastColumn };
                var r = Range;
                TaHelpers.ParsePorts(o, _portsText, ref r, allowOffset: false);
                Range = r;
                return true;
            }
            case "--random":
                _seen.TakeNoInvert(o, 1u << ORandom);
                Range = Range with { Flags = Range.Flags | NfNatRangeFlags.ProtoRandom };
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check) =>
        TaHelpers.RequirePortProtocol(rule, Range, _portsAt, _portsText);

    public override void Save(SaveWriter w) => TaHelpers.SaveRange(w, Range, "--to-ports", skipColon: true);
}
