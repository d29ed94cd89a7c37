namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m socket` (extensions/libxt_socket.c revision 3; kernel xt_socket.c): a local socket exists for
/// the packet (optionally only transparent ones, not wildcard-bound ones; --restore-skmark copies its
/// mark). Offline there are no sockets: evaluated as unknown.
/// </summary>
[XtMatch("socket")]
public sealed class SocketMatch : XtMatch
{
    public bool Transparent { get; private set; }
    public bool NoWildcard { get; private set; }
    public bool RestoreSkMark { get; private set; }

    public override bool IsOfflineUnknowable => true;

    private static readonly string[] HookNames = ["PREROUTING", "INPUT"];

    public override IReadOnlyCollection<string>? Hooks => HookNames;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--transparent":
                o.NoInvert();
                Transparent = true;
                return true;
            case "--nowildcard":
                o.NoInvert();
                NoWildcard = true;
                return true;
            case "--restore-skmark":
                o.NoInvert();
                RestoreSkMark = true;
                return true;
            default:
                return false;
        }
    }

    public override void Save(SaveWriter w)
    {
        if (Transparent)
            w.Opt("--transparent");
        if (NoWildcard)
            w.Opt("--nowildcard");
        if (RestoreSkMark)
            w.Opt("--restore-skmark");
    }
}
