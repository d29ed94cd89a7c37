using TraceReplay.Capture.Decode;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>The tests of `-m srh` that are on (struct ip6t_srh1 mt_flags, IP6T_SRH_*); the same bits mark inversions.</summary>
[Flags]
public enum Ip6tSrhFlags : ushort
{
    None = 0,
    NextHeader = 0x0001,
    LengthEq = 0x0002,
    LengthGt = 0x0004,
    LengthLt = 0x0008,
    SegmentsLeftEq = 0x0010,
    SegmentsLeftGt = 0x0020,
    SegmentsLeftLt = 0x0040,
    LastEntryEq = 0x0080,
    LastEntryGt = 0x0100,
    LastEntryLt = 0x0200,
    Tag = 0x0400,
    PreviousSid = 0x0800,
    NextSid = 0x1000,
    LastSid = 0x2000,
}

/// <summary>A segment id test of `-m srh`: the address as written (ip6tables does not mask it) and the prefix length compared.</summary>
public readonly record struct Ip6tSrhSid(IpAddr Address, int PrefixLength);

/// <summary>
/// `-m srh` (extensions/libip6t_srh.c revision 1; kernel ip6t_srh.c srh1_mt6): Segment Routing
/// Header fields compared for equality / greater / less, the tag, and the previous/next/last
/// segment ids with a prefix. The -eq/-gt/-lt options of one field share its value, as they share
/// one struct member upstream.
/// </summary>
[XtMatch("srh", Family = IptFamily.IPv6)]
public sealed class SrhMatch : XtMatch
{
    private static readonly (string Name, Ip6tSrhFlags Flag)[] Options =
    [
        ("--srh-next-hdr", Ip6tSrhFlags.NextHeader), ("--srh-hdr-len-eq", Ip6tSrhFlags.LengthEq),
        ("--srh-hdr-len-gt", Ip6tSrhFlags.LengthGt), ("--srh-hdr-len-lt", Ip6tSrhFlags.LengthLt),
        ("--srh-segs-left-eq", Ip6tSrhFlags.SegmentsLeftEq), ("--srh-segs-left-gt", Ip6tSrhFlags.SegmentsLeftGt),
        ("--srh-segs-left-lt", Ip6tSrhFlags.SegmentsLeftLt), ("--srh-last-entry-eq", Ip6tSrhFlags.LastEntryEq),
        ("--srh-last-entry-gt", Ip6tSrhFlags.LastEntryGt), ("--srh-last-entry-lt", Ip6tSrhFlags.LastEntryLt),
        ("--srh-tag", Ip6tSrhFlags.Tag), ("--srh-psid", Ip6tSrhFlags.PreviousSid), ("--srh-nsid", Ip6tSrhFlags.NextSid),
        ("--srh-lsid", Ip6tSrhFlags.LastSid),
    ];

    private XtOptionSet _options;

    public Ip6tSrhFlags Flags { get; private set; }
    public Ip6tSrhFlags InvertFlags { get; private set; }
    public byte NextHeader { get; private set; }
    public byte HeaderLength { get; private set; }
    public byte SegmentsLeft { get; private set; }
    public byte LastEntry { get; private set; }
    public ushort Tag { get; private set; }
    public Ip6tSrhSid PreviousSid { get; private set; }
    public Ip6tSrhSid NextSid { get; private set; }
    public Ip6tSrhSid LastSid { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        int id = Array.FindIndex(Options, x => x.Name == o.Name);
        if (id < 0)
            return false;
        _options.Take(o, 1u << id);
        var flag = Options[id].Flag;
        switch (flag)
        {
            case Ip6tSrhFlags.NextHeader:
                NextHeader = Byte(o);
                break;
            case Ip6tSrhFlags.LengthEq or Ip6tSrhFlags.LengthGt or Ip6tSrhFlags.LengthLt:
                HeaderLength = Byte(o);
                break;
            case Ip6tSrhFlags.SegmentsLeftEq or Ip6tSrhFlags.SegmentsLeftGt or Ip6tSrhFlags.SegmentsLeftLt:
                SegmentsLeft = Byte(o);
                break;
            case Ip6tSrhFlags.LastEntryEq or Ip6tSrhFlags.LastEntryGt or Ip6tSrhFlags.LastEntryLt:
                LastEntry = Byte(o);
                break;
            case Ip6tSrhFlags.Tag:
                Tag = (ushort)o.UInt32(o.Arg("a tag 0-65535"), 0, ushort.MaxValue);
                break;
            case Ip6tSrhFlags.PreviousSid:
                PreviousSid = Sid(o);
                break;
            case Ip6tSrhFlags.NextSid:
                NextSid = Sid(o);
                break;
            default:
                LastSid = Sid(o);
                break;
        }
        Flags |= flag;
        if (o.Invert)
            InvertFlags |= flag;
        return true;
    }

    private static byte Byte(XtOption o) => (byte)o.UInt32(o.Arg("a number 0-255"), 0, 255);

    /// <summary>ADDR[/LEN]: LEN 0-128, 128 when left out.</summary>
    private static Ip6tSrhSid Sid(XtOption o)
    {
        string text = o.Arg("an IPv6 ADDR[/LEN]");
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        var address = o.Address(slash < 0 ? text : text[..slash]);
        int prefix = slash < 0 ? 128 : (int)o.UInt32(text[(slash + 1)..], 0, 128);
        return new Ip6tSrhSid(address, prefix);
    }

    public override void Save(SaveWriter w)
    {
        foreach (var (name, flag) in Options)
        {
            if ((Flags & flag) == 0)
                continue;
            bool inv = (InvertFlags & flag) != 0;
            switch (flag)
            {
                case Ip6tSrhFlags.NextHeader:
                    w.Opt(name, NextHeader, inv);
                    break;
                case Ip6tSrhFlags.LengthEq or Ip6tSrhFlags.LengthGt or Ip6tSrhFlags.LengthLt:
                    w.Opt(name, HeaderLength, inv);
                    break;
                case Ip6tSrhFlags.SegmentsLeftEq or Ip6tSrhFlags.SegmentsLeftGt or Ip6tSrhFlags.SegmentsLeftLt:
                    w.Opt(name, SegmentsLeft, inv);
                    break;
                case Ip6tSrhFlags.LastEntryEq or Ip6tSrhFlags.LastEntryGt or Ip6tSrhFlags.LastEntryLt:
                    w.Opt(name, LastEntry, inv);
                    break;
                case Ip6tSrhFlags.Tag:
                    w.Opt(name, Tag, inv);
                    break;
                default:
                    var sid = flag == Ip6tSrhFlags.PreviousSid ? PreviousSid : flag == Ip6tSrhFlags.NextSid ? NextSid : LastSid;
                    w.Opt(name, $"{RtMatch.Ip6Text(sid.Address)}/{sid.PrefixLength}", inv);
                    break;
            }
        }
    }
}
