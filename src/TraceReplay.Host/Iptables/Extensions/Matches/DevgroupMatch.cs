namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m devgroup --src-group G[/MASK] --dst-group G[/MASK]` (extensions/libxt_devgroup.c; kernel
/// xt_devgroup.c): the device group of the input / output interface. The kernel allows the source
/// group only where there is an input device, the destination group only where there is an output one.
/// </summary>
[XtMatch("devgroup")]
public sealed class DevgroupMatch : XtMatch
{
    public XtMarkMask? SourceGroup { get; private set; }
    public bool InvertSource { get; private set; }
    public XtMarkMask? DestinationGroup { get; private set; }
    public bool InvertDestination { get; private set; }

    private static readonly string[] SrcHooks = ["PREROUTING", "INPUT", "FORWARD"];
    private static readonly string[] DstHooks = ["FORWARD", "OUTPUT", "POSTROUTING"];
    private static readonly string[] BothHooks = ["FORWARD"];

    public override IReadOnlyCollection<string>? Hooks => (SourceGroup, DestinationGroup) switch
    {
        (not null, not null) => BothHooks,
        (not null, null) => SrcHooks,
        (null, not null) => DstHooks,
        _ => null,
    };

    private XtOptionSet _options;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--src-group":
                _options.Take(o, 1);
                SourceGroup = Group(o);
                InvertSource = o.Invert;
                return true;
            case "--dst-group":
                _options.Take(o, 2);
                DestinationGroup = Group(o);
                InvertDestination = o.Invert;
                return true;
            default:
                return false;
        }
    }

    /// <summary>A number[/mask], or `default` (group 0, the one name /etc/iproute2/group always has).</summary>
    private static XtMarkMask Group(XtOption o)
    {
        string text = o.Arg("a device group number[/mask]");
        return text == "default" ? new XtMarkMask(0, uint.MaxValue, false) : o.MarkMask(text);
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (SourceGroup is null && DestinationGroup is null)
            throw check.Fail("needs --src-group or --dst-group", "--src-group G or --dst-group G");
    }

    /// <summary>devgroup_show with save's numeric=0: a name from /etc/iproute2/group when the mask is full (only `default` is known offline), else hex.</summary>
    public override void Save(SaveWriter w)
    {
        if (SourceGroup is { } s)
            w.Opt("--src-group", Text(s), InvertSource);
        if (DestinationGroup is { } d)
            w.Opt("--dst-group", Text(d), InvertDestination);
    }

    private static string Text(XtMarkMask g) =>
        g.Mask != uint.MaxValue ? XtValues.Hex(g.Value) + "/" + XtValues.Hex(g.Mask) : g.Value == 0 ? "default" : XtValues.Hex(g.Value);
}
