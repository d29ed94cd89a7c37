using static TraceReplay.Host.Iptables.Extensions.XtChains;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j DSCP --set-dscp VALUE | --set-dscp-class CLASS` (extensions/libxt_DSCP.c; kernel xt_DSCP.c
/// dscp_tg/dscp_tg6): rewrites the 6 DSCP bits of the TOS / traffic class byte and goes on.
/// </summary>
[XtTarget("DSCP")]
public sealed class DscpTarget : XtTarget
{
    private const uint SetDscp = 1, SetClass = 2;
    private XtOptionSet _seen;

    /// <summary>The DSCP value 0-63 (XT_DSCP_MAX 0x3f), the upper six bits of the TOS byte.</summary>
    public byte Dscp { get; private set; }

    public override bool IsTerminating => false;

    /// <summary>xt_DSCP registers DSCP with `.table = "mangle"`.</summary>
    public override IReadOnlyCollection<string>? Tables => Mangle;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--set-dscp":
                _seen.TakeNoInvert(o, SetDscp, excl: SetClass);
                Dscp = (byte)o.UInt32(o.Arg("a DSCP value 0-63"), 0, 0x3f);
                return true;
            case "--set-dscp-class":
                _seen.TakeNoInvert(o, SetClass, excl: SetDscp);
                Dscp = o.DscpClass(o.Arg("a DiffServ class such as EF, AF41, CS1 or BE"));
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_seen.None)
            throw check.Missing("parameter --set-dscp is required", "--set-dscp VALUE or --set-dscp-class CLASS");
    }

    /// <summary>DSCP_save: always the number, `0x%02x`; a class name does not survive.</summary>
    public override void Save(SaveWriter w) => w.Opt("--set-dscp", XtValues.Hex(Dscp, 2));
}
