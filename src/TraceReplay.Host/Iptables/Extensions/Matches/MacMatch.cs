using TraceReplay.Capture.Decode;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m mac --mac-source XX:XX:XX:XX:XX:XX` (extensions/libxt_mac.c; kernel xt_mac.c mac_mt): the
/// Ethernet source address, which only exists on the way in — the kernel registers the match for
/// PREROUTING, INPUT and FORWARD only.
/// </summary>
[XtMatch("mac")]
public sealed class MacMatch : XtMatch
{
    /// <summary>What anonymised dumps (the corpus' university firewall) write instead of an address.</summary>
    public const string AnonymisedText = "XX:XX:XX:XX:XX:XX";

    private static readonly string[] AllowedHooks = ["PREROUTING", "INPUT", "FORWARD"];
    private XtOptionSet _flags;

    /// <summary>The address; null when the dump was anonymised (the match is then unknowable).</summary>
    public MacAddr? Source { get; private set; }
    public bool Invert { get; private set; }

    public override IReadOnlyCollection<string>? Hooks => AllowedHooks;

    public override bool IsOfflineUnknowable => Source is null;

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--mac-source")
            return false;
        _flags.Take(o, 1);
        string text = o.Arg("a MAC address XX:XX:XX:XX:XX:XX");
        Invert = o.Invert;
        if (string.Equals(text, AnonymisedText, StringComparison.OrdinalIgnoreCase))
        {
            // iptables-restore would refuse this line; an anonymised dump is still worth replaying,
            // so the rule is kept (evaluated as unknown) with a warning, and refused under --strict.
            var at = o.Location with { Column = o.LastColumn };
            string message = $"--mac-source {text}: an anonymised address, not a MAC (iptables-restore refuses it); the match is kept and evaluated as unknown";
            if (o.Rule.Strict)
                throw new HostParseException(at, message + " (--strict)", text, "a MAC address");
            o.Rule.Warnings.Add(new ParseWarning(at, message));
            return true;
        }
        // xtables_parse_mac: exactly six two-digit hex groups separated by ':'.
        if (!MacAddr.TryParse(text, out var mac) || text.Any(char.IsWhiteSpace))
            throw o.Fail("bad MAC address", text, "six hex byte pairs separated by ':', e.g. 42:01:02:03:04:05");
        Source = mac;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_flags.None)
            throw check.Fail("needs --mac-source (iptables: \"option --mac-source must be specified\")", "--mac-source XX:XX:XX:XX:XX:XX");
    }

    /// <summary>mac_save: lower-case hex (xtables_print_mac).</summary>
    public override void Save(SaveWriter w) => w.Opt("--mac-source", Source?.ToString() ?? AnonymisedText, Invert);
}
