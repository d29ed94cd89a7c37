using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j SNAT --to-source [ADDR[-ADDR]][:PORT[-PORT]] [--random] [--random-fully] [--persistent]`
/// (extensions/libxt_NAT.c: revision 0 with `nf_nat_ipv4_multi_range_compat` for iptables, revision 1
/// with `nf_nat_range` for ip6tables; kernel xt_nat.c). Neither struct has a base port, so a
/// `/BASE` keeps NF_NAT_RANGE_PROTO_OFFSET with base 0 and prints back as `/0`, as iptables does.
/// The kernel allows it only in table nat at POSTROUTING and INPUT.
/// </summary>
[XtTarget("SNAT")]
public sealed class SnatTarget : XtTarget
{
    private const int OTo = 0, ORandom = 1, ORandomFully = 2, OPersistent = 3;
    private XtOptionSet _seen;
    private SourceLocation _toAt;
    private string _toText = string.Empty;

    /// <summary>The mapping handed to nf_nat_setup_info for the source (NF_NAT_MANIP_SRC).</summary>
    public NfNatRange2 Range { get; private set; }

    public override bool IsTerminating => true;

    public override IReadOnlyCollection<string>? Tables => XtChains.Nat;

    public override IReadOnlyCollection<string>? Hooks => XtChains.PostroutingInput;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--to-source":
                _seen.TakeNoInvert(o, 1u << OTo);
                _toText = o.Arg("[ADDR[-ADDR]][:PORT[-PORT]]");
                _toAt = o.Location with { Column = o.LastColumn };
                var r = TaHelpers.ParseTo(o, _toText, o.Family);
                Range = r with { Flags = r.Flags | Range.Flags, BaseProto = 0 };
                return true;
            case "--random":
                _seen.TakeNoInvert(o, 1u << ORandom);
                Range = Range with { Flags = Range.Flags | NfNatRangeFlags.ProtoRandom };
                return true;
            case "--random-fully":
                _seen.TakeNoInvert(o, 1u << ORandomFully);
                Range = Range with { Flags = Range.Flags | NfNatRangeFlags.ProtoRandomFully };
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
            throw check.Fail("option --to-source must be specified", "--to-source ADDR[-ADDR][:PORT[-PORT]]");
        TaHelpers.RequirePortProtocol(rule, Range, _toAt, _toText);
    }

    public override void Save(SaveWriter w) => TaHelpers.SaveRange(w, Range, "--to-source", skipColon: false);
}
