namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>Which fragment-header tests of `-m frag` are on (struct ip6t_frag flags, IP6T_FRAG_*).</summary>
[Flags]
public enum Ip6tFragFlags : byte
{
    None = 0,
    Ids = 0x01,
    Length = 0x02,

    /// <summary>--fragres: reserved fields must be zero.</summary>
    Reserved = 0x04,

    /// <summary>--fragfirst: fragment offset 0.</summary>
    First = 0x08,

    /// <summary>--fragmore: M flag set.</summary>
    More = 0x10,

    /// <summary>--fraglast: M flag clear (IP6T_FRAG_NMF).</summary>
    Last = 0x20,
}

/// <summary>
/// `-m frag` (extensions/libip6t_frag.c; kernel ip6t_frag.c frag_mt6): the IPv6 fragment header's
/// identification range, and first/more/last/reserved tests. `--fraglen` is kept and printed but,
/// as libip6t_frag.c notes, the kernel has not tested it since Linux 3.0.
/// </summary>
[XtMatch("frag", Family = IptFamily.IPv6)]
public sealed class FragMatch : XtMatch
{
    public XtRange Ids { get; private set; } = new(0, uint.MaxValue);
    public bool InvertIds { get; private set; }
    public uint HeaderLength { get; private set; }
    public bool InvertHeaderLength { get; private set; }
    public Ip6tFragFlags Flags { get; private set; }

    private XtOptionSet _options;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--fragid":
                _options.Take(o, 1);
                Ids = o.Range(o.Arg("ID[:ID]"), uint.MaxValue);
                InvertIds = o.Invert;
                Flags |= Ip6tFragFlags.Ids;
                return true;
            case "--fraglen":
                _options.Take(o, 2);
                HeaderLength = o.UInt32(o.Arg("a header length"));
                InvertHeaderLength = o.Invert;
                Flags |= Ip6tFragFlags.Length;
                return true;
            case "--fragres":
                return Flag(o, 2, Ip6tFragFlags.Reserved);
            case "--fragfirst":
                return Flag(o, 3, Ip6tFragFlags.First);
            case "--fragmore": // frag_opts' .excl: a fragment cannot be both followed by more and the last one
                return Flag(o, 4, Ip6tFragFlags.More, excl: 1u << 5);
            case "--fraglast":
                return Flag(o, 5, Ip6tFragFlags.Last, excl: 1u << 4);
            default:
                return false;
        }
    }

    private bool Flag(XtOption o, int id, Ip6tFragFlags flag, uint excl = 0)
    {
        _options.Take(o, 1u << id, excl);
        o.NoInvert();
        Flags |= flag;
        return true;
    }

    public override void Save(SaveWriter w)
    {
        w.OptRange("--fragid", Ids, InvertIds, uint.MaxValue);
        if ((Flags & Ip6tFragFlags.Length) != 0)
            w.Opt("--fraglen", HeaderLength, InvertHeaderLength);
        if ((Flags & Ip6tFragFlags.Reserved) != 0)
            w.Opt("--fragres");
        if ((Flags & Ip6tFragFlags.First) != 0)
            w.Opt("--fragfirst");
        if ((Flags & Ip6tFragFlags.More) != 0)
            w.Opt("--fragmore");
        if ((Flags & Ip6tFragFlags.Last) != 0)
            w.Opt("--fraglast");
    }
}
