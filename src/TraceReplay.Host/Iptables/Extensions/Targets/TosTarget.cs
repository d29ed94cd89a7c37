using static TraceReplay.Host.Iptables.Extensions.XtChains;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j TOS` revision 1 (extensions/libxt_TOS.c tos_tg_parse; kernel xt_DSCP.c tos_tg/tos_tg6):
/// the new TOS byte is `(old &amp; ~mask) ^ value`. `--set-tos VALUE[/MASK]` or a symbolic name,
/// `--and-tos`, `--or-tos` and `--xor-tos` all reduce to that value/mask pair, which is what
/// iptables-save prints.
/// </summary>
[XtTarget("TOS")]
public sealed class TosTarget : XtTarget
{
    private XtOptionSet _seen;

    /// <summary>The bits XORed into the TOS byte after <see cref="Mask"/> was cleared.</summary>
    public byte Value { get; private set; }

    /// <summary>The bits of the TOS byte that are cleared first.</summary>
    public byte Mask { get; private set; }

    public override bool IsTerminating => false;

    /// <summary>xt_DSCP registers TOS with `.table = "mangle"`.</summary>
    public override IReadOnlyCollection<string>? Tables => Mangle;

    protected internal override bool Parse(XtOption o)
    {
        uint bit = o.Name switch { "--set-tos" => 1u, "--and-tos" => 2u, "--or-tos" => 4u, "--xor-tos" => 8u, _ => 0u };
        if (bit == 0)
            return false;
        // Every action is `.excl = F_ANY`: one action per rule.
        _seen.TakeNoInvert(o, bit, excl: 0xf);
        switch (bit)
        {
            case 1:
                (Value, Mask) = o.TosMask(o.Arg("VALUE[/MASK] or a name such as Minimize-Delay"));
                break;
            case 2:
                // tos_tg_parse O_AND_TOS: value 0, mask ~bits — clears what the AND would clear.
                Value = 0;
                Mask = (byte)~o.UInt32(o.Arg("bits 0-255"), 0, 255);
                break;
            case 4:
                Value = Mask = (byte)o.UInt32(o.Arg("bits 0-255"), 0, 255);
                break;
            default:
                Value = (byte)o.UInt32(o.Arg("bits 0-255"), 0, 255);
                Mask = 0;
                break;
        }
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_seen.None)
            throw check.Missing("an action is required", "--set-tos, --and-tos, --or-tos or --xor-tos");
    }

    /// <summary>tos_tg_save: ` --set-tos 0x%02x/0x%02x` whatever the action was.</summary>
    public override void Save(SaveWriter w) => w.Opt("--set-tos", XtValues.Hex(Value, 2) + "/" + XtValues.Hex(Mask, 2));
}
