namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m mh [!] --mh-type TYPE[:TYPE]` (extensions/libip6t_mh.c; kernel ip6t_mh.c mh_mt6): the
/// Mobility Header type, by number or name (binding-update, bu, …). Registered with
/// .proto = IPPROTO_MH, so the kernel wants `-p mobility-header`. Save prints numbers.
/// </summary>
[XtMatch("mh", Family = IptFamily.IPv6)]
public sealed class MhMatch : XtMatch
{
    // mh_names, in its order: name_to_type takes the first prefix match unless a later name matches exactly.
    private static readonly (string Name, byte Type)[] MhNames =
    [
        ("binding-refresh-request", 0), ("brr", 0), ("home-test-init", 1), ("hoti", 1), ("careof-test-init", 2), ("coti", 2),
        ("home-test", 3), ("hot", 3), ("careof-test", 4), ("cot", 4), ("binding-update", 5), ("bu", 5),
        ("binding-acknowledgement", 6), ("ba", 6), ("binding-error", 7), ("be", 7),
    ];

    private XtOptionSet _options;

    /// <summary>types[2]; 0:255 when not given.</summary>
    public XtRange Types { get; private set; } = new(0, 255);
    public bool InvertTypes { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--mh-type")
            return false;
        _options.Take(o, 1);
        string text = o.Arg("TYPE[:TYPE] (a number 0-255 or a name such as binding-update)");
        // parse_mh_types splits at the first ':'; a second one ends up in the name and fails there.
        Types = o.Range(text, 255, ':', t => NameToType(o, t), "type range start is above its end (iptables: \"Invalid MH type range (min > max)\")");
        InvertTypes = o.Invert;
        return true;
    }

    /// <summary>name_to_type: strncasecmp over the length typed, so `b` means binding-refresh-request and `bu` binding-update.</summary>
    private static byte NameToType(XtOption o, string name)
    {
        int match = -1;
        for (int i = 0; i < MhNames.Length; i++)
        {
            var n = MhNames[i].Name;
            if (n.Length >= name.Length && string.Compare(n, 0, name, 0, name.Length, StringComparison.OrdinalIgnoreCase) == 0
                && (match < 0 || n.Length == name.Length))
                match = i;
        }
        if (match >= 0)
            return MhNames[match].Type;
        return (byte)o.UInt32(name, 0, 255);
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check) => check.RequireProtocol(Protocols.Mh);

    public override void Save(SaveWriter w) => w.OptRange("--mh-type", Types, InvertTypes, 255);
}
