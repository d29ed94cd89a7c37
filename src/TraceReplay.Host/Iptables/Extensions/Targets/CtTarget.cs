namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>`struct xt_ct_target_info_v1` flags (include/uapi/linux/netfilter/xt_CT.h), same bit values.</summary>
[Flags]
public enum XtCtFlags : ushort
{
    None = 0,

    /// <summary>XT_CT_NOTRACK: the packet gets the untracked conntrack (state UNTRACKED).</summary>
    Notrack = 1 << 0,

    /// <summary>XT_CT_NOTRACK_ALIAS: written as `-j NOTRACK`.</summary>
    NotrackAlias = 1 << 1,
    ZoneDirOrig = 1 << 2,
    ZoneDirRepl = 1 << 3,

    /// <summary>XT_CT_ZONE_MARK: the zone id is taken from the packet mark.</summary>
    ZoneMark = 1 << 4,
}

/// <summary>
/// `-j CT` revisions 1/2 (extensions/libxt_CT.c ct_parse_v1 / ct_save_v1; kernel xt_CT.c
/// xt_ct_tg_check): attaches a template conntrack (zone, helper, timeout policy, event masks) or
/// none at all (`--notrack`) before the packet is tracked. Table raw only. Helper and timeout names
/// are kept as written: whether the kernel has them cannot be known offline.
/// </summary>
[XtTarget("CT")]
public sealed class CtTarget : XtTarget
{
    // enum ip_conntrack_events bit positions (include/uapi/linux/netfilter/nf_conntrack_common.h).
    private static readonly (string Name, int Bit)[] CtEventNames =
    [
        ("new", 0), ("related", 1), ("destroy", 2), ("reply", 3), ("assured", 4),
        ("protoinfo", 5), ("helper", 6), ("mark", 7), ("natseqinfo", 8), ("secmark", 9),
    ];

    private static readonly (string Name, int Bit)[] ExpEventNames = [("new", 0)]; // IPEXP_NEW

    private const int ONotrack = 0, OHelper = 1, OTimeout = 2, OCtEvents = 3, OExpEvents = 4, OZone = 5, OZoneOrig = 6, OZoneReply = 7;
    private XtOptionSet _seen;

    public XtCtFlags Flags { get; private set; }

    /// <summary>Conntrack helper name (char helper[16]); empty for none.</summary>
    public string Helper { get; private set; } = string.Empty;

    /// <summary>nfct timeout policy name (char timeout[32]); empty for none.</summary>
    public string Timeout { get; private set; } = string.Empty;

    /// <summary>Bit mask of ip_conntrack_events (1 &lt;&lt; IPCT_*) the connection reports.</summary>
    public uint CtEvents { get; private set; }

    /// <summary>Bit mask of ip_conntrack_expect_events.</summary>
    public uint ExpEvents { get; private set; }

    /// <summary>Conntrack zone id (0 is the default zone); ignored when <see cref="XtCtFlags.ZoneMark"/> is set.</summary>
    public ushort Zone { get; private set; }

    /// <summary>XT_CONTINUE: the packet goes on to the next rule.</summary>
    public override bool IsTerminating => false;

    public override IReadOnlyCollection<string>? Tables => XtChains.Raw;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--notrack":
                _seen.TakeNoInvert(o, 1u << ONotrack);
                Flags |= XtCtFlags.Notrack;
                return true;
            case "--helper":
                _seen.TakeNoInvert(o, 1u << OHelper);
                Helper = o.FixedString(o.Arg("a conntrack helper name such as ftp"), 16);
                return true;
            case "--timeout":
                _seen.TakeNoInvert(o, 1u << OTimeout);
                Timeout = o.FixedString(o.Arg("a timeout policy name (nfct timeout)"), 32);
                return true;
            case "--ctevents":
                _seen.TakeNoInvert(o, 1u << OCtEvents);
                CtEvents = ParseEvents(o, o.Arg("EVENT[,EVENT...]"), CtEventNames);
                return true;
            case "--expevents":
                _seen.TakeNoInvert(o, 1u << OExpEvents);
                ExpEvents = ParseEvents(o, o.Arg("new"), ExpEventNames);
                return true;
            case "--zone":
                return ParseZone(o, OZone, XtCtFlags.None);
            case "--zone-orig":
                return ParseZone(o, OZoneOrig, XtCtFlags.ZoneDirOrig);
            case "--zone-reply":
                return ParseZone(o, OZoneReply, XtCtFlags.ZoneDirRepl);
            default:
                return false;
        }
    }

    /// <summary>ct_parse_zone_id: `mark` (any case) or a number 0-65535; the direction flags accumulate over the three options.</summary>
    private bool ParseZone(XtOption o, int id, XtCtFlags direction)
    {
        _seen.TakeNoInvert(o, 1u << id);
        string arg = o.Arg("a zone id 0-65535 or mark");
        Flags |= direction;
        Zone = 0;
        if (string.Equals(arg, "mark", StringComparison.OrdinalIgnoreCase))
        {
            Flags |= XtCtFlags.ZoneMark;
        }
        else
        {
            if (!XtValues.TryParseUInt(arg, out ulong v) || v > ushort.MaxValue)
                throw o.Fail($"cannot parse {arg} as a zone ID", arg, "a zone id 0-65535 or mark");
            Zone = (ushort)v;
        }
        return true;
    }

    /// <summary>ct_parse_events: comma-separated names, exact case; any unknown one is an error.</summary>
    private static uint ParseEvents(XtOption o, string text, (string Name, int Bit)[] table)
    {
        uint mask = 0;
        foreach (var part in text.Split(','))
        {
            int k = Array.FindIndex(table, e => e.Name == part);
            if (k < 0)
                throw o.Fail($"unknown event type \"{part}\"", part, "one of " + string.Join(", ", table.Select(e => e.Name)));
            mask |= 1u << table[k].Bit;
        }
        return mask;
    }

    public override void Save(SaveWriter w)
    {
        if ((Flags & XtCtFlags.NotrackAlias) != 0)
            return;
        if ((Flags & XtCtFlags.Notrack) != 0)
            w.Opt("--notrack");
        if (Helper.Length > 0)
            w.Opt("--helper", Helper);
        if (Timeout.Length > 0)
            w.Opt("--timeout", Timeout);
        if (CtEvents != 0)
            w.Opt("--ctevents", EventText(CtEvents, CtEventNames));
        if (ExpEvents != 0)
            w.Opt("--expevents", EventText(ExpEvents, ExpEventNames));
        if ((Flags & XtCtFlags.ZoneMark) != 0 || Zone != 0)
        {
            // ct_print_zone_id: a suffix only when exactly one direction was given.
            var dir = Flags & (XtCtFlags.ZoneDirOrig | XtCtFlags.ZoneDirRepl);
            string name = dir switch
            {
                XtCtFlags.ZoneDirOrig => "--zone-orig",
                XtCtFlags.ZoneDirRepl => "--zone-reply",
                _ => "--zone",
            };
            w.Opt(name, (Flags & XtCtFlags.ZoneMark) != 0 ? "mark" : Zone.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    private static string EventText(uint mask, (string Name, int Bit)[] table) =>
        string.Join(',', table.Where(e => (mask & (1u << e.Bit)) != 0).Select(e => e.Name));
}
