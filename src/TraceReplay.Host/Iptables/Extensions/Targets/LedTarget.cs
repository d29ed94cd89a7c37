using System.Text;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j LED --led-trigger-id NAME [--led-delay MS|inf] [--led-always-blink]` (extensions/libxt_LED.c;
/// kernel xt_LED.c led_tg): blinks the LED trigger `netfilter-NAME` and goes on.
/// </summary>
[XtTarget("LED")]
public sealed class LedTarget : XtTarget
{
    private const uint FId = 1, FDelay = 2, FBlink = 4;
    private const int IdMax = 16; // sizeof(xt_led_info.id) 27 - strlen("netfilter-") - 1
    private XtOptionSet _seen;

    /// <summary>The trigger name after the `netfilter-` prefix the kernel adds.</summary>
    public string TriggerId { get; private set; } = string.Empty;

    /// <summary>How long the LED stays lit, in milliseconds; -1 for ever (`inf`), 0 for a blink.</summary>
    public int DelayMs { get; private set; }

    public bool AlwaysBlink { get; private set; }

    public override bool IsTerminating => false;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--led-trigger-id":
            {
                _seen.TakeNoInvert(o, FId);
                string id = o.Arg("a trigger name");
                if (id.Length == 0 || id.Length > IdMax)
                    throw o.Fail($"trigger id is {id.Length} characters long", id, $"1 to {IdMax} characters");
                TriggerId = id;
                return true;
            }
            case "--led-delay":
            {
                _seen.TakeNoInvert(o, FDelay);
                string text = o.Arg("milliseconds or 'inf'");
                DelayMs = text == "inf" ? -1 : (int)o.UInt32(text, 0, int.MaxValue);
                return true;
            }
            case "--led-always-blink":
                _seen.TakeNoInvert(o, FBlink);
                AlwaysBlink = true;
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_seen.Has(FId))
            throw check.Missing("option --led-trigger-id must be specified", "--led-trigger-id NAME");
    }

    /// <summary>led_tg_save: the id always in double quotes with `"` and `\` escaped; the delay when not 0.</summary>
    public override void Save(SaveWriter w)
    {
        var id = new StringBuilder("\"");
        foreach (char c in TriggerId)
        {
            if (c is '"' or '\\')
                id.Append('\\');
            id.Append(c);
        }
        w.Opt("--led-trigger-id", id.Append('"').ToString());
        if (DelayMs == -1)
            w.Opt("--led-delay", "inf");
        else if (DelayMs != 0)
            w.Opt("--led-delay", (ulong)DelayMs);
        if (AlwaysBlink)
            w.Opt("--led-always-blink");
    }
}
