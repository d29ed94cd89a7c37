namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j MARK` revision 2 (extensions/libxt_MARK.c mark_tg_parse; kernel xt_mark.c mark_tg):
/// `skb->mark = (skb->mark &amp; ~Mask) ^ Mark`. Every option folds into that pair, so iptables-save
/// always prints `--set-xmark MARK/MASK` in hex:
/// `--set-mark V[/M]` → V/(V|M), `--and-mark V` → 0/~V, `--or-mark V` → V/V, `--xor-mark V` → V/0.
/// Exactly one of them (xt_option .excl = F_ANY).
/// </summary>
[XtTarget("MARK")]
public sealed class MarkTarget : XtTarget
{
    private static readonly string[] Names = ["--set-xmark", "--set-mark", "--and-mark", "--or-mark", "--xor-mark"];
    private XtOptionSet _seen;

    /// <summary>`struct xt_mark_tginfo2` mark: XORed in after clearing <see cref="Mask"/>.</summary>
    public uint Mark { get; private set; }

    public uint Mask { get; private set; }

    public override bool IsTerminating => false;

    /// <summary>What mark_tg does to a packet's mark.</summary>
    public uint Apply(uint mark) => (mark & ~Mask) ^ Mark;

    protected internal override bool Parse(XtOption o)
    {
        int id = Array.IndexOf(Names, o.Name);
        if (id < 0)
            return false;
        _seen.TakeNoInvert(o, 1u << id, excl: 0x1F);
        string arg = o.Arg(id <= 1 ? "VALUE[/MASK]" : "VALUE");
        switch (id)
        {
            case 0:
            {
                var mm = o.MarkMask(arg);
                (Mark, Mask) = (mm.Value, mm.Mask);
                break;
            }
            case 1:
            {
                var mm = o.MarkMask(arg);
                (Mark, Mask) = (mm.Value, mm.Value | mm.Mask);
                break;
            }
            case 2:
                (Mark, Mask) = (0, ~o.UInt32(arg));
                break;
            case 3:
            {
                uint v = o.UInt32(arg);
                (Mark, Mask) = (v, v);
                break;
            }
            default:
                (Mark, Mask) = (o.UInt32(arg), 0);
                break;
        }
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_seen.None)
            throw check.Fail("one of the --set-xmark, --{and,or,xor,set}-mark options is required", "--set-xmark VALUE[/MASK]");
    }

    public override void Save(SaveWriter w) => w.Opt("--set-xmark", XtValues.Hex(Mark) + "/" + XtValues.Hex(Mask));
}
