using TraceReplay.Capture.Decode;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m mac --mac-source XX:XX:XX:XX:XX:XX` (extensions/libxt_mac.c; kernel xt_mac.c mac_mt): the
/// Ethernet source address, which only exists on the way in — the kernel registers the match for
/// PREROUTING, INPUT and FORWARD only.
/// </summary>
[XtMatch("mac")]
public sealed class MacMatch : XtMatch
{
    private static readonly string[] AllowedHooks = ["PREROUTING", "INPUT", "FORWARD"];
    private XtOptionFlags _flags;

    public MacAddr Source { get; private set; }
    public bool Invert { get; private set; }

    public override IReadOnlyCollection<string>? Hooks => AllowedHooks;

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--mac-source")
            return false;
        _flags.Take(o, 1);
        string text = o.Arg("a MAC address XX:XX:XX:XX:XX:XX");
        // xtables_parse_mac: exactly six two-digit hex groups separated by ':'.
        if (!MacAddr.TryParse(text, out var mac) || text.Any(char.IsWhiteSpace))
            throw o.Fail("bad MAC address", text, "six hex byte pairs separated by ':', e.g. 42:01:02:03:04:05");
        Source = mac;
        Invert = o.Invert;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_flags.None)
            throw check.Fail("needs --mac-source (iptables: \"option --mac-source must be specified\")", "--mac-source XX:XX:XX:XX:XX:XX");
    }

    /// <summary>mac_save: lower-case hex (xtables_print_mac).</summary>
    public override void Save(SaveWriter w) => w.Opt("--mac-source", Source.ToString(), Invert);
}
