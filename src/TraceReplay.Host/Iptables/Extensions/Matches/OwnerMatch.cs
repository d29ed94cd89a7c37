namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m owner` (extensions/libxt_owner.c revision 1; kernel xt_owner.c owner_mt): the local socket's
/// owner uid/gid ranges, whether a socket exists, and supplementary groups. Only locally generated
/// packets carry a socket, so the kernel allows it in OUTPUT and POSTROUTING only. Offline there is
/// no socket: the simulator evaluates it as unknown.
/// </summary>
[XtMatch("owner")]
public sealed class OwnerMatch : XtMatch
{
    /// <summary>XT_OWNER_* bits.</summary>
    public const byte Uid = 1, Gid = 2, SocketExists = 4, SupplGroups = 8;

    /// <summary>Which tests are made (<see cref="Uid"/>, <see cref="Gid"/>, …) and which of them are inverted.</summary>
    public byte Match { get; private set; }
    public byte Invert { get; private set; }
    public XtRange UidRange { get; private set; }
    public XtRange GidRange { get; private set; }

    public override bool IsOfflineUnknowable => true;

    private static readonly string[] HookNames = ["OUTPUT", "POSTROUTING"];

    public override IReadOnlyCollection<string>? Hooks => HookNames;

    // Names rule files use without the host's passwd/group at hand; iptables-save itself prints numbers.
    private static readonly Dictionary<string, uint> Users = new(StringComparer.Ordinal) { ["root"] = 0, ["daemon"] = 1, ["bin"] = 2, ["sys"] = 3, ["nobody"] = 65534 };
    private static readonly Dictionary<string, uint> Groups = new(StringComparer.Ordinal) { ["root"] = 0, ["daemon"] = 1, ["bin"] = 2, ["sys"] = 3, ["adm"] = 4, ["nogroup"] = 65534 };

    private XtOptionSet _options;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--uid-owner":
                Take(o, Uid);
                UidRange = Id(o, o.Arg("a uid, uid range MIN-MAX or user name"), Users);
                return true;
            case "--gid-owner":
                Take(o, Gid);
                GidRange = Id(o, o.Arg("a gid, gid range MIN-MAX or group name"), Groups);
                return true;
            case "--socket-exists":
                Take(o, SocketExists);
                return true;
            case "--suppl-groups":
                o.NoInvert();
                if ((Match & Gid) == 0)
                    throw new Parsing.HostParseException(o.Location, "--suppl-groups: you need to use --gid-owner first", o.Name, "--gid-owner GID before --suppl-groups");
                Take(o, SupplGroups);
                return true;
            default:
                return false;
        }
    }

    private void Take(XtOption o, byte flag)
    {
        _options.Take(o, flag);
        Match |= flag;
        if (o.Invert)
            Invert |= flag;
    }

    /// <summary>owner_parse_range: `ID`, `MIN-MAX`, or a name (only a few well-known ones offline).</summary>
    private static XtRange Id(XtOption o, string text, Dictionary<string, uint> names)
    {
        if (names.TryGetValue(text, out uint id))
            return new XtRange(id, id);
        int dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash > 0)
        {
            uint lo = o.UInt32(text[..dash], 0, uint.MaxValue - 1), hi = o.UInt32(text[(dash + 1)..], 0, uint.MaxValue - 1);
            if (lo > hi)
                throw o.Fail("range start is above its end", text, "MIN-MAX with MIN <= MAX");
            return new XtRange(lo, hi);
        }
        if (!XtValues.TryParseUInt(text, out ulong v) || v > uint.MaxValue - 1)
            throw o.Fail("not a number, range or known name (names are not resolved offline beyond root/nobody)", text, "a numeric id or MIN-MAX");
        return new XtRange((uint)v, (uint)v);
    }

    /// <summary>owner_mt_save: socket-exists, uid, gid, suppl-groups, each with its `!`.</summary>
    public override void Save(SaveWriter w)
    {
        if ((Match & SocketExists) != 0)
            w.Opt("--socket-exists", (Invert & SocketExists) != 0);
        if ((Match & Uid) != 0)
            w.Opt("--uid-owner", UidRange.ToString('-'), (Invert & Uid) != 0);
        if ((Match & Gid) != 0)
            w.Opt("--gid-owner", GidRange.ToString('-'), (Invert & Gid) != 0);
        if ((Match & SupplGroups) != 0)
            w.Opt("--suppl-groups", (Invert & SupplGroups) != 0);
    }
}
