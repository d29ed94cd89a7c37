namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m rpfilter` (extensions/libxt_rpfilter.c; kernel ipt_rpfilter.c / ip6t_rpfilter.c): reverse path
/// check — a route back to the source must leave through the incoming interface (any interface with
/// --loose), using the packet mark with --validmark; --invert matches the packets that fail. The
/// kernel allows it in raw and mangle PREROUTING only.
/// </summary>
[XtMatch("rpfilter")]
public sealed class RpfilterMatch : XtMatch
{
    /// <summary>XT_RPFILTER_* bits.</summary>
    [Flags]
    public enum Options : byte
    {
        None = 0,
        Loose = 1,
        ValidMark = 2,
        AcceptLocal = 4,
        Invert = 8,
    }

    public Options Flags { get; private set; }

    private static readonly string[] TableNames = ["raw", "mangle"];
    private static readonly string[] HookNames = ["PREROUTING"];

    public override IReadOnlyCollection<string>? Tables => TableNames;

    public override IReadOnlyCollection<string>? Hooks => HookNames;

    protected internal override bool Parse(XtOption o)
    {
        Options f = o.Name switch
        {
            "--loose" => Options.Loose,
            "--validmark" => Options.ValidMark,
            "--accept-local" => Options.AcceptLocal,
            "--invert" => Options.Invert,
            _ => Options.None,
        };
        if (f == Options.None)
            return false;
        o.NoInvert();
        Flags |= f;
        return true;
    }

    public override void Save(SaveWriter w)
    {
        if ((Flags & Options.Loose) != 0)
            w.Opt("--loose");
        if ((Flags & Options.ValidMark) != 0)
            w.Opt("--validmark");
        if ((Flags & Options.AcceptLocal) != 0)
            w.Opt("--accept-local");
        if ((Flags & Options.Invert) != 0)
            w.Opt("--invert");
    }
}
