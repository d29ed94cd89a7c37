using System.Globalization;
using static TraceReplay.Host.Iptables.Extensions.XtChains;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j CLASSIFY --set-class MAJOR:MINOR` (extensions/libxt_CLASSIFY.c; kernel xt_CLASSIFY.c):
/// sets skb->priority to a tc class handle and goes on.
/// </summary>
[XtTarget("CLASSIFY")]
public sealed class ClassifyTarget : XtTarget
{
    private XtOptionSet _given;

    /// <summary>The class handle as skb->priority holds it: TC_H_MAKE(major &lt;&lt; 16, minor).</summary>
    public uint Priority { get; private set; }

    public ushort Major => (ushort)(Priority >> 16);
    public ushort Minor => (ushort)Priority;

    public override bool IsTerminating => false;

    /// <summary>xt_CLASSIFY: `.hooks` LOCAL_OUT, FORWARD, POST_ROUTING (no table restriction).</summary>
    public override IReadOnlyCollection<string>? Hooks => [Output, Forward, PostRouting];

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--set-class")
            return false;
        _given.TakeNoInvert(o, 1);
        string text = o.Arg("MAJOR:MINOR in hex, e.g. 1:10");
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        // classify_tg_parse: sscanf("%x:%x"), each half at most 0xffff.
        if (colon < 0 || !TryHex(text[..colon], out uint major) || !TryHex(text[(colon + 1)..], out uint minor) || major > 0xffff || minor > 0xffff)
            throw o.Fail("bad class value", text, "MAJOR:MINOR, two hex numbers 0-ffff");
        Priority = (major << 16) | minor;
        return true;
    }

    private static bool TryHex(string s, out uint v)
    {
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            s = s[2..];
        return uint.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v) && s.Length > 0;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_given.None)
            throw check.Missing("option --set-class must be specified", "--set-class MAJOR:MINOR");
    }

    /// <summary>CLASSIFY_save: ` --set-class %04x:%04x`.</summary>
    public override void Save(SaveWriter w) =>
        w.Opt("--set-class", Major.ToString("x4", CultureInfo.InvariantCulture) + ":" + Minor.ToString("x4", CultureInfo.InvariantCulture));
}
