using System.Globalization;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>How a TTL / hop limit is compared (IPT_TTL_EQ/NE/LT/GT, IP6T_HL_* in the same order).</summary>
public enum TtlMode : byte
{
    Equal,
    NotEqual,
    Less,
    Greater,
}

/// <summary>
/// `-m ttl --ttl-eq|--ttl-lt|--ttl-gt N` (extensions/libipt_ttl.c; kernel xt_hl.c ttl_mt) and,
/// for ip6tables, `-m hl --hl-eq|--hl-lt|--hl-gt N` (libip6t_hl.c; hl_mt). Only the equality test
/// takes `!`, which becomes the NE mode.
/// </summary>
[XtMatch("ttl", Family = IptFamily.IPv4)]
[XtMatch("hl", Family = IptFamily.IPv6)]
public sealed class TtlMatch : XtMatch
{
    private XtOptionSet _flags;

    public TtlMode Mode { get; private set; }
    public byte Value { get; private set; }

    private string Prefix => Name == "hl" ? "--hl" : "--ttl";

    protected internal override bool Parse(XtOption o)
    {
        TtlMode mode;
        string p = Prefix;
        if (o.Name == p + "-eq" || (p == "--hl" && o.Name == "--hl"))
            mode = o.Invert ? TtlMode.NotEqual : TtlMode.Equal;
        else if (o.Name == p + "-lt")
            mode = TtlMode.Less;
        else if (o.Name == p + "-gt")
            mode = TtlMode.Greater;
        else
            return false;
        if (mode is TtlMode.Less or TtlMode.Greater || o.Name == "--hl")
            o.NoInvert();
        // The three options are .excl = F_ANY of each other.
        _flags.Take(o, 1);
        Value = (byte)o.UInt32(o.Arg("a number 0-255"), 0, 255);
        if (o.Invert && mode == TtlMode.Equal)
            mode = TtlMode.NotEqual; // `--ttl-eq ! N`, the old spelling
        Mode = mode;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_flags.None)
        {
            string p = Prefix;
            throw check.Fail($"needs one of {p}-eq, {p}-lt, {p}-gt", $"{p}-eq N");
        }
    }

    /// <summary>ttl_save / hl_save: `! --ttl-eq N` for NE.</summary>
    public override void Save(SaveWriter w)
    {
        string p = Prefix;
        w.Raw(Mode switch
        {
            TtlMode.Equal => $" {p}-eq",
            TtlMode.NotEqual => $" ! {p}-eq",
            TtlMode.Less => $" {p}-lt",
            _ => $" {p}-gt",
        }).Raw(" ").Raw(Value.ToString(CultureInfo.InvariantCulture));
    }
}
