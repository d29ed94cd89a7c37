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
                Dscp = ClassToDscp(o, o.Arg("a DiffServ class such as EF, AF41, CS1 or BE"));
                return true;
            default:
                return false;
        }
    }

    /// <summary>class_to_dscp (extensions/dscp_helper.c): the DiffServ class names, case-insensitive.</summary>
    internal static byte ClassToDscp(XtOption o, string name)
    {
        foreach (var (n, v) in Classes)
        {
            if (string.Equals(n, name, StringComparison.OrdinalIgnoreCase))
                return v;
        }
        throw o.Fail("invalid DSCP class value", name, "one of " + string.Join(", ", Classes.Select(c => c.Name)));
    }

    private static readonly (string Name, byte Value)[] Classes =
    [
        ("CS0", 0x00), ("CS1", 0x08), ("CS2", 0x10), ("CS3", 0x18), ("CS4", 0x20), ("CS5", 0x28), ("CS6", 0x30), ("CS7", 0x38),
        ("BE", 0x00), ("AF11", 0x0a), ("AF12", 0x0c), ("AF13", 0x0e), ("AF21", 0x12), ("AF22", 0x14), ("AF23", 0x16),
        ("AF31", 0x1a), ("AF32", 0x1c), ("AF33", 0x1e), ("AF41", 0x22), ("AF42", 0x24), ("AF43", 0x26), ("EF", 0x2e),
    ];

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_seen.None)
            throw check.Missing("parameter --set-dscp is required", "--set-dscp VALUE or --set-dscp-class CLASS");
    }

    /// <summary>DSCP_save: always the number, `0x%02x`; a class name does not survive.</summary>
    public override void Save(SaveWriter w) => w.Opt("--set-dscp", XtValues.Hex(Dscp, 2));
}
