namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>`struct xt_connmark_tginfo2` mode (XT_CONNMARK_SET/SAVE/RESTORE).</summary>
public enum ConnmarkMode : byte
{
    /// <summary>ctmark = (ctmark &amp; ~CtMask) ^ CtMark.</summary>
    Set,

    /// <summary>ctmark = (ctmark &amp; ~CtMask) ^ (nfmark &amp; NfMask), shifted.</summary>
    Save,

    /// <summary>nfmark = (nfmark &amp; ~NfMask) ^ (ctmark &amp; CtMask), shifted.</summary>
    Restore,
}

/// <summary>
/// `-j CONNMARK` revision 2 (extensions/libxt_CONNMARK.c connmark_tg_parse_v2 / connmark_tg_save_v2;
/// kernel xt_connmark.c connmark_tg_shift). Set operations fold into `--set-xmark CTMARK/CTMASK` as
/// MARK's do; save/restore print both masks; a non-zero shift prints `--left-shift-mark N` or
/// `--right-shift-mark N`. Exactly one operation; `--mask` sets both masks and excludes the other two.
/// </summary>
[XtTarget("CONNMARK")]
public sealed class ConnmarkTarget : XtTarget
{
    // Option ids as libxt_CONNMARK.c numbers them, so the exclusion masks read the same.
    private const int OSetMark = 0, OSaveMark = 1, ORestoreMark = 2, OAndMark = 3, OOrMark = 4, OXorMark = 5,
        OLeftShift = 6, ORightShift = 7, OSetXmark = 8, OCtmask = 9, ONfmask = 10, OMask = 11;

    private const uint FOpAny = (1u << OSetMark) | (1u << OSaveMark) | (1u << ORestoreMark) | (1u << OAndMark) | (1u << OOrMark) | (1u << OXorMark) | (1u << OSetXmark);

    private static readonly string[] Names =
        ["--set-mark", "--save-mark", "--restore-mark", "--and-mark", "--or-mark", "--xor-mark", "--left-shift-mark", "--right-shift-mark", "--set-xmark", "--ctmask", "--nfmask", "--mask"];

    private XtOptionSet _seen;

    public ConnmarkMode Mode { get; private set; }

    public uint CtMark { get; private set; }

    public uint CtMask { get; private set; } = uint.MaxValue;

    public uint NfMask { get; private set; } = uint.MaxValue;

    /// <summary>D_SHIFT_RIGHT when true, else D_SHIFT_LEFT.</summary>
    public bool ShiftRight { get; private set; }

    public byte ShiftBits { get; private set; }

    public override bool IsTerminating => false;

    protected internal override bool Parse(XtOption o)
    {
        int id = Array.IndexOf(Names, o.Name);
        if (id < 0)
            return false;
        uint excl = id switch
        {
            OCtmask or ONfmask => 1u << OMask,
            OMask => (1u << OCtmask) | (1u << ONfmask),
            OLeftShift or ORightShift => 0,
            _ => FOpAny,
        };
        _seen.TakeNoInvert(o, 1u << id, excl);
        switch (id)
        {
            case OSetXmark:
            {
                var mm = o.MarkMask(o.Arg("VALUE[/CTMASK]"));
                (Mode, CtMark, CtMask) = (ConnmarkMode.Set, mm.Value, mm.Mask);
                break;
            }
            case OSetMark:
            {
                var mm = o.MarkMask(o.Arg("VALUE[/MASK]"));
                (Mode, CtMark, CtMask) = (ConnmarkMode.Set, mm.Value, mm.Value | mm.Mask);
                break;
            }
            case OAndMark:
                (Mode, CtMark, CtMask) = (ConnmarkMode.Set, 0, ~o.UInt32(o.Arg("VALUE")));
                break;
            case OOrMark:
            {
                uint v = o.UInt32(o.Arg("VALUE"));
                (Mode, CtMark, CtMask) = (ConnmarkMode.Set, v, v);
                break;
            }
            case OXorMark:
                (Mode, CtMark, CtMask) = (ConnmarkMode.Set, o.UInt32(o.Arg("VALUE")), 0);
                break;
            case OSaveMark:
                Mode = ConnmarkMode.Save;
                break;
            case ORestoreMark:
                Mode = ConnmarkMode.Restore;
                break;
            case OCtmask:
                CtMask = o.UInt32(o.Arg("MASK"));
                break;
            case ONfmask:
                NfMask = o.UInt32(o.Arg("MASK"));
                break;
            case OMask:
                NfMask = CtMask = o.UInt32(o.Arg("MASK"));
                break;
            default:
                ShiftRight = id == ORightShift;
                ShiftBits = (byte)o.UInt32(o.Arg("BITS 0-32"), 0, 32);
                break;
        }
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_seen.Has(FOpAny))
            throw check.Fail("no operation specified (iptables: \"CONNMARK target: No operation specified\")", "--set-xmark, --save-mark, --restore-mark, --set-mark, --and-mark, --or-mark or --xor-mark");
    }

    public override void Save(SaveWriter w)
    {
        switch (Mode)
        {
            case ConnmarkMode.Set:
                w.Opt("--set-xmark", XtValues.Hex(CtMark) + "/" + XtValues.Hex(CtMask));
                break;
            case ConnmarkMode.Save:
                w.Opt("--save-mark").Opt("--nfmask", XtValues.Hex(NfMask)).Opt("--ctmask", XtValues.Hex(CtMask));
                break;
            default:
                w.Opt("--restore-mark").Opt("--nfmask", XtValues.Hex(NfMask)).Opt("--ctmask", XtValues.Hex(CtMask));
                break;
        }
        if (ShiftBits != 0)
            w.Opt(ShiftRight ? "--right-shift-mark" : "--left-shift-mark", ShiftBits);
    }
}
