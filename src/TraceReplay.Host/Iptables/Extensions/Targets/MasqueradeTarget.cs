using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j MASQUERADE [--to-ports PORT[-PORT]] [--random] [--random-fully]` (extensions/libxt_NAT.c;
/// kernel xt_MASQUERADE.c masquerade_tg): SNAT to the outgoing interface's primary address, chosen
/// per packet, so the range never maps addresses. Table nat, POSTROUTING only.
/// </summary>
[XtTarget("MASQUERADE")]
public sealed class MasqueradeTarget : XtTarget
{
    private const int OPorts = 0, ORandom = 1, ORandomFully = 2;
    private XtOptionSet _seen;
    private SourceLocation _portsAt;
    private string _portsText = string.Empty;

    /// <summary>Ports and flags; the address comes from the output interface (nf_nat_masquerade_ipv4/ipv6).</summary>
    public NfNatRange2 Range { get; private set; }

    public override bool IsTerminating => true;

    public override IReadOnlyCollection<string>? Tables => XtChains.Nat;

    public override IReadOnlyCollection<string>? Hooks => XtChains.Postrouting;

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
                TaHelpers.ParsePorts(o, _portsText, ref r);
                // SNAT_fcheck keeps the offset flag; the compat struct has no base port.
                Range = r with { BaseProto = 0 };
                return true;
            }
            case "--random":
                _seen.TakeNoInvert(o, 1u << ORandom);
                Range = Range with { Flags = Range.Flags | NfNatRangeFlags.ProtoRandom };
                return true;
            case "--random-fully":
                _seen.TakeNoInvert(o, 1u << ORandomFully);
                Range = Range with { Flags = Range.Flags | NfNatRangeFlags.ProtoRandomFully };
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check) =>
        TaHelpers.RequirePortProtocol(rule, Range, _portsAt, _portsText);

    public override void Save(SaveWriter w) => TaHelpers.SaveRange(w, Range, "--to-ports", skipColon: true);
}
