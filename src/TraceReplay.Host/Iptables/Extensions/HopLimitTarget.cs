namespace TraceReplay.Host.Iptables.Extensions;

/// <summary>The three modes of `-j TTL` and `-j HL` (IPT_TTL_SET/INC/DEC, IP6T_HL_SET/INC/DEC).</summary>
public enum HopLimitMode : byte
{
    Set = 0,
    Increment = 1,
    Decrement = 2,
}

/// <summary>
/// libipt_TTL.c and libip6t_HL.c are the same parser over different option names: one of
/// `--X-set 0-255`, `--X-inc 1-255`, `--X-dec 1-255` (all `.excl` of each other, one required);
/// the kernel (xt_HL.c ttl_tg_check/hl_tg6_check) takes them only in the mangle table.
/// </summary>
public abstract class HopLimitTarget(string prefix, string field) : XtTarget
{
    private XtOptionSet _seen;

    public HopLimitMode Mode { get; private set; }

    /// <summary>The value set, or the amount added or taken away.</summary>
    public byte Value { get; private set; }

    public override bool IsTerminating => false;

    public override IReadOnlyCollection<string>? Tables => XtChains.Mangle;

    protected internal override bool Parse(XtOption o)
    {
        HopLimitMode mode;
        if (o.Name == $"--{prefix}-set")
            mode = HopLimitMode.Set;
        else if (o.Name == $"--{prefix}-inc")
            mode = HopLimitMode.Increment;
        else if (o.Name == $"--{prefix}-dec")
            mode = HopLimitMode.Decrement;
        else
            return false;
        uint bit = 1u << (int)mode;
        _seen.TakeNoInvert(o, bit, excl: 7);
        // An increment or decrement of 0 is refused by the parser (.min = 1) and the kernel alike.
        uint min = mode == HopLimitMode.Set ? 0u : 1u;
        Value = (byte)o.UInt32(o.Arg($"a {field} value {min}-255"), min, 255);
        Mode = mode;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_seen.None)
            throw check.Missing("you must specify an action", $"--{prefix}-set, --{prefix}-inc or --{prefix}-dec");
    }

    public override void Save(SaveWriter w)
    {
        string suffix = Mode switch { HopLimitMode.Set => "-set", HopLimitMode.Increment => "-inc", _ => "-dec" };
        w.Opt($"--{prefix}{suffix}", Value);
    }
}
