namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>What `-j CONNSECMARK` copies (CONNSECMARK_SAVE = 1, CONNSECMARK_RESTORE = 2).</summary>
public enum ConnSecMarkMode : byte
{
    Save = 1,
    Restore = 2,
}

/// <summary>
/// `-j CONNSECMARK --save | --restore` (extensions/libxt_CONNSECMARK.c; kernel
/// xt_CONNSECMARK.c connsecmark_tg): copies the security mark from the packet to its connection or
/// back, and goes on.
/// </summary>
[XtTarget("CONNSECMARK")]
public sealed class ConnSecMarkTarget : XtTarget
{
    private XtOptionSet _seen;

    public ConnSecMarkMode Mode { get; private set; }

    public override bool IsTerminating => false;

    /// <summary>connsecmark_tg_check: only the mangle and security tables.</summary>
    public override IReadOnlyCollection<string>? Tables => ["mangle", "security"];

    protected internal override bool Parse(XtOption o)
    {
        ConnSecMarkMode mode = o.Name switch { "--save" => ConnSecMarkMode.Save, "--restore" => ConnSecMarkMode.Restore, _ => 0 };
        if (mode == 0)
            return false;
        uint bit = (uint)mode;
        _seen.TakeNoInvert(o, bit, excl: 3);
        Mode = mode;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_seen.None)
            throw check.Missing("parameter required", "--save or --restore");
    }

    public override void Save(SaveWriter w) => w.Opt(Mode == ConnSecMarkMode.Save ? "--save" : "--restore");
}
