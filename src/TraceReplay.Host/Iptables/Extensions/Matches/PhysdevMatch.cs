namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m physdev` (extensions/libxt_physdev.c; kernel xt_physdev.c): the bridge ports a bridged packet
/// came in on / goes out of (a trailing `+` matches a prefix), and whether it is bridged at all.
/// The kernel refuses --physdev-out/--physdev-is-out in OUTPUT, FORWARD and POSTROUTING unless the
/// rule also requires --physdev-is-bridged (the output port is unknown there for routed traffic).
/// </summary>
[XtMatch("physdev")]
public sealed class PhysdevMatch : XtMatch
{
    /// <summary>XT_PHYSDEV_OP_* bits.</summary>
    public const byte OpIn = 1, OpOut = 2, OpBridged = 4, OpIsIn = 8, OpIsOut = 16;

    public byte Bitmask { get; private set; }
    public byte InvertMask { get; private set; }
    public InterfaceMatch InPort { get; private set; } = new(string.Empty, false);
    public InterfaceMatch OutPort { get; private set; } = new(string.Empty, false);

    private static readonly string[] InOnlyHooks = ["PREROUTING", "INPUT"];

    public override IReadOnlyCollection<string>? Hooks =>
        (Bitmask & (OpOut | OpIsOut)) != 0 && ((Bitmask & OpBridged) == 0 || (InvertMask & OpBridged) != 0) ? InOnlyHooks : null;

    private XtOptionSet _options;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--physdev-in":
                Take(o, OpIn);
                InPort = new InterfaceMatch(Port(o), o.Invert);
                return true;
            case "--physdev-out":
                Take(o, OpOut);
                OutPort = new InterfaceMatch(Port(o), o.Invert);
                return true;
            case "--physdev-is-in":
                Take(o, OpIsIn);
                return true;
            case "--physdev-is-out":
                Take(o, OpIsOut);
                return true;
            case "--physdev-is-bridged":
                Take(o, OpBridged);
                return true;
            default:
                return false;
        }
    }

    private void Take(XtOption o, byte op)
    {
        _options.Take(o, op);
        Bitmask |= op;
        if (o.Invert)
            InvertMask |= op;
    }

    private static string Port(XtOption o)
    {
        string name = o.Arg("a bridge port name (a trailing '+' matches a prefix)");
        if (name.Length is 0 or > 15)
            throw o.Fail("not a valid interface name", name, "1 to 15 characters (IFNAMSIZ)");
        return name;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (Bitmask == 0)
            throw check.Fail("no physdev option specified", "--physdev-in, --physdev-out, --physdev-is-in, --physdev-is-out or --physdev-is-bridged");
    }

    /// <summary>physdev_save: is-in, in, is-out, out, is-bridged.</summary>
    public override void Save(SaveWriter w)
    {
        if ((Bitmask & OpIsIn) != 0)
            w.Opt("--physdev-is-in", (InvertMask & OpIsIn) != 0);
        if ((Bitmask & OpIn) != 0)
            w.Opt("--physdev-in", InPort.Name, InPort.Invert);
        if ((Bitmask & OpIsOut) != 0)
            w.Opt("--physdev-is-out", (InvertMask & OpIsOut) != 0);
        if ((Bitmask & OpOut) != 0)
            w.Opt("--physdev-out", OutPort.Name, OutPort.Invert);
        if ((Bitmask & OpBridged) != 0)
            w.Opt("--physdev-is-bridged", (InvertMask & OpBridged) != 0);
    }
}
