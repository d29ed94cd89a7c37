namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j IDLETIMER --timeout SECONDS --label NAME [--alarm]` revision 1 (extensions/libxt_IDLETIMER.c;
/// kernel xt_IDLETIMER.c idletimer_tg): restarts a named timer whose expiry userspace watches in
/// sysfs, and goes on. The packet is not affected.
/// </summary>
[XtTarget("IDLETIMER")]
public sealed class IdleTimerTarget : XtTarget
{
    private const uint FTimeout = 1, FLabel = 2, FAlarm = 4;
    private const int LabelMax = 27; // MAX_IDLETIMER_LABEL_SIZE - 1
    private XtOptionSet _seen;

    public uint Timeout { get; private set; }

    /// <summary>The timer's name (its sysfs attribute).</summary>
    public string Label { get; private set; } = string.Empty;

    /// <summary>XT_IDLETIMER_ALARM: an alarm timer, which also runs while the system sleeps.</summary>
    public bool Alarm { get; private set; }

    public override bool IsTerminating => false;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--timeout":
                _seen.TakeNoInvert(o, FTimeout);
                Timeout = o.UInt32(o.Arg("a timeout in seconds"));
                return true;
            case "--label":
            {
                _seen.TakeNoInvert(o, FLabel);
                string label = o.Arg("a timer label");
                if (label.Length > LabelMax)
                    throw o.Fail($"label is {label.Length} characters long", label, $"at most {LabelMax} characters (MAX_IDLETIMER_LABEL_SIZE)");
                Label = label;
                return true;
            }
            case "--alarm":
                _seen.TakeNoInvert(o, FAlarm);
                Alarm = true;
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_seen.Has(FTimeout))
            throw check.Missing("option --timeout must be specified", "--timeout SECONDS");
        if (!_seen.Has(FLabel))
            throw check.Missing("option --label must be specified", "--label NAME");
        // idletimer_tg_checkentry: a zero or too large timeout, an empty label and the sysfs name "power" are refused.
        if (Timeout == 0 || Timeout >= int.MaxValue / 1000)
            throw check.Missing($"timeout {Timeout} is refused by the kernel", $"a timeout from 1 to {(int.MaxValue / 1000) - 1} seconds");
        if (Label.Length == 0 || Label == "power")
            throw check.Missing($"label '{Label}' is refused by the kernel", "a non-empty label other than 'power'");
    }

    /// <summary>idletimer_tg_save: label with %s, unquoted.</summary>
    public override void Save(SaveWriter w)
    {
        w.Opt("--timeout", Timeout);
        w.Opt("--label", Label);
        if (Alarm)
            w.Opt("--alarm");
    }
}
