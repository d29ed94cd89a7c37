namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m dscp --dscp N | --dscp-class CLASS` (extensions/libxt_dscp.c with dscp_helper.c; kernel
/// xt_dscp.c dscp_mt): the upper six bits of the TOS / traffic class byte.
/// </summary>
[XtMatch("dscp")]
public sealed class DscpMatch : XtMatch
{
    private XtOptionSet _flags;

    /// <summary>DSCP value 0-63.</summary>
    public byte Dscp { get; private set; }
    public bool Invert { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--dscp":
                _flags.Take(o, 1, excl: 2);
                // XTTYPE_UINT8 with .max = XT_DSCP_MAX (0x3f).
                Dscp = (byte)o.UInt32(o.Arg("a DSCP value 0-0x3f"), 0, 0x3F);
                break;
            case "--dscp-class":
                _flags.Take(o, 2, excl: 1);
                Dscp = o.DscpClass(o.Arg("a DiffServ class such as EF or AF41"));
                break;
            default:
                return false;
        }
        Invert = o.Invert;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_flags.None)
            throw check.Fail("needs --dscp or --dscp-class (iptables: \"DSCP match: Parameter --dscp is required\")", "--dscp N");
    }

    /// <summary>dscp_save: always the number as 0x%02x.</summary>
    public override void Save(SaveWriter w) => w.Opt("--dscp", XtValues.Hex(Dscp, 2), Invert);
}
