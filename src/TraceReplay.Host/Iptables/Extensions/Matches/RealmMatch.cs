namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m realm --realm VALUE[/MASK]|NAME` (extensions/libxt_realm.c; kernel xt_realm.c realm_mt):
/// `(dst->tclassid &amp; mask) == id`, IPv4 only. The kernel registers it for the hooks after routing:
/// INPUT, FORWARD, OUTPUT and POSTROUTING.
/// </summary>
[XtMatch("realm", Family = IptFamily.IPv4)]
public sealed class RealmMatch : XtMatch
{
    private static readonly string[] AllowedHooks = ["INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];

    /// <summary>
    /// Realm names of iproute2's stock /etc/iproute2/rt_realms (only "0 cosmos" is not commented out).
    /// A host with its own realm names would need its file; names not here are refused.
    /// </summary>
    private static readonly (string Name, uint Id)[] RealmNames = [("cosmos", 0)];

    private XtOptionSet _flags;

    public uint Id { get; private set; }
    public uint Mask { get; private set; } = uint.MaxValue;
    public bool Invert { get; private set; }

    public override IReadOnlyCollection<string>? Hooks => AllowedHooks;

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--realm")
            return false;
        _flags.Take(o, 1);
        string text = o.Arg("a realm number VALUE[/MASK] or name");
        // xtables_parse_val_mask: a number (base 0) with an optional /MASK, else a name from the realm map.
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string v = slash < 0 ? text : text[..slash];
        if (XtValues.TryParseUInt(v, out ulong id) && id <= uint.MaxValue)
        {
            Id = (uint)id;
            Mask = slash < 0 ? uint.MaxValue : o.UInt32(text[(slash + 1)..]);
        }
        else
        {
            int i = Array.FindIndex(RealmNames, r => r.Name == text);
            if (i < 0)
                throw o.Fail("not a realm number or known realm name", text, "VALUE[/MASK] (0-0xffffffff) or a name from rt_realms");
            Id = RealmNames[i].Id;
        }
        Invert = o.Invert;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_flags.None)
            throw check.Fail("needs --realm (iptables: \"option --realm must be specified\")", "--realm VALUE[/MASK]");
    }

    /// <summary>xtables_print_val_mask: `0x%x/0x%x` with a mask, else the realm's name if it has one, else `0x%x`.</summary>
    public override void Save(SaveWriter w)
    {
        w.Opt("--realm", Invert);
        if (Mask != uint.MaxValue)
        {
            w.Raw(" ").Raw(XtValues.Hex(Id)).Raw("/").Raw(XtValues.Hex(Mask));
            return;
        }
        int i = Array.FindIndex(RealmNames, r => r.Id == Id);
        w.Raw(" ").Raw(i >= 0 ? RealmNames[i].Name : XtValues.Hex(Id));
    }
}
