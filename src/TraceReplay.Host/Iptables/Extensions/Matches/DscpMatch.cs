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

    /// <summary>ds_classes[] of dscp_helper.c.</summary>
    internal static readonly (string Name, byte Dscp)[] Classes =
    [
        ("CS0", 0x00), ("CS1", 0x08), ("CS2", 0x10), ("CS3", 0x18), ("CS4", 0x20), ("CS5", 0x28), ("CS6", 0x30), ("CS7", 0x38),
        ("BE", 0x00), ("AF11", 0x0a), ("AF12", 0x0c), ("AF13", 0x0e), ("AF21", 0x12), ("AF22", 0x14), ("AF23", 0x16),
        ("AF31", 0x1a), ("AF32", 0x1c), ("AF33", 0x1e), ("AF41", 0x22), ("AF42", 0x24), ("AF43", 0x26), ("EF", 0x2e),
    ];

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
                Dscp = o.Choice(o.Arg("a DiffServ class such as EF or AF41"), Classes.ToDictionary(c => c.Name, c => c.Dscp));
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
