namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m cgroup` (extensions/libxt_cgroup.c revision 2; kernel xt_cgroup.c): the sending socket's
/// cgroup v2 path or net_cls classid. Offline there is no socket: evaluated as unknown.
/// </summary>
[XtMatch("cgroup")]
public sealed class CgroupMatch : XtMatch
{
    public string? Path { get; private set; }
    public bool InvertPath { get; private set; }
    public uint? ClassId { get; private set; }
    public bool InvertClassId { get; private set; }

    public override bool IsOfflineUnknowable => true;

    private static readonly string[] HookNames = ["INPUT", "OUTPUT", "POSTROUTING"];

    public override IReadOnlyCollection<string>? Hooks => HookNames;

    private XtOptionSet _options;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--path":
            {
                _options.Take(o, 1);
                string p = o.Arg("a cgroup v2 path");
                if (p.Length > 4095)
                    throw o.Fail("path too long", p[..20] + "…", "at most 4095 characters");
                Path = p;
                InvertPath = o.Invert;
                return true;
            }
            case "--cgroup":
                _options.Take(o, 2);
                ClassId = o.UInt32(o.Arg("a net_cls classid"));
                InvertClassId = o.Invert;
                return true;
            default:
                return false;
        }
    }

    /// <summary>cgroup_mt_check_v2: exactly one of --path and --cgroup.</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (Path is null && ClassId is null)
            throw check.Fail("needs --path or --cgroup", "--path PATH or --cgroup CLASSID");
        if (Path is not null && ClassId is not null)
            throw check.Fail("either --path or --cgroup can be specified, not both", "--path PATH or --cgroup CLASSID");
    }

    public override void Save(SaveWriter w)
    {
        if (Path is not null)
            w.OptString("--path", Path, InvertPath);
        if (ClassId is { } id)
            w.Opt("--cgroup", id, InvertClassId);
    }
}
