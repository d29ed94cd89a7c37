using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j DNAT --to-destination [ADDR[-ADDR]][:PORT[-PORT[/BASE]]] [--random] [--persistent]`
/// (extensions/libxt_NAT.c, revision 2 for both families; kernel xt_nat.c xt_dnat_target_v2). The
/// kernel allows it only in table nat at PREROUTING and OUTPUT. iptables 1.8 has no `--random-fully`
/// for DNAT.
/// </summary>
[XtTarget("DNAT")]
public sealed class DnatTarget : XtTarget
{
    private const int OTo = 0, ORandom = 1, OPersistent = 2;
    private XtOptionSet _seen;
    private SourceLocation _toAt;
    private string _toText = string.Empty;

    /// <summary>The mapping handed to nf_nat_setup_info for the destination (NF_NAT_MANIP_DST).</summary>
    public NfNatRange2 Range { get; private set; }

    public override bool IsTerminating => true;

    public override IReadOnlyCollection<string>? Tables => XtChains.Nat;

    public override IReadOnlyCollection<string>? Hooks => XtChains.PreroutingOutput;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--to-destination":
                _seen.TakeNoInvert(o, 1u << OTo);
                _toText = o.Arg("[ADDR[-ADDR]][:PORT[-PORT[/BASE]]]");
                _toAt = o.Location with { Column = o.LastColumn };
                var r = TaHelpers.ParseTo(o, _toText, o.Family);
                Range = r with { Flags = r.Flags | Range.Flags };
                return true;
            case "--random":
                _seen.TakeNoInvert(o, 1u << ORandom);
                Range = Range with { Flags = Range.Flags | NfNatRangeFlags.ProtoRandom };
                return true;
            case "--persistent":
                _seen.TakeNoInvert(o, 1u << OPersistent);
                Range = Range with { Flags = Range.Flags | NfNatRangeFlags.Persistent };
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_seen.Has((1u << OTo)))
            throw check.Fail("option --to-destination must be specified", "--to-destination ADDR[-ADDR][:PORT[-PORT]]");
        TaHelpers.RequirePortProtocol(rule, Range, _toAt, _toText);
    }

    public override void Save(SaveWriter w) => TaHelpers.SaveRange(w, Range, "--to-destination", skipColon: false);
}
