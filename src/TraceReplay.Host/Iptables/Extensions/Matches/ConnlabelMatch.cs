namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m connlabel --label N [--set]` (extensions/libxt_connlabel.c; kernel xt_connlabel.c): tests (and
/// with --set, sets) bit N of the connection's 128-bit label. Names come from the host's
/// /etc/xtables/connlabel.conf, which a rule file does not carry: only bit numbers are accepted.
/// </summary>
[XtMatch("connlabel")]
public sealed class ConnlabelMatch : XtMatch
{
    private const uint MaxBit = 127; // XT_CONNLABEL_MAXBIT
    private XtOptionSet _given;

    public uint Bit { get; private set; }
    public bool Invert { get; private set; }
    public bool Set { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--label":
            {
                _given.Take(o, 1);
                string text = o.Arg("a label bit number 0-127");
                if (!XtValues.TryParseUInt(text, out ulong bit))
                    throw o.Fail("label name not known (connlabel.conf names are not available offline)", text, "a label bit number 0-127");
                if (bit > MaxBit)
                    throw o.Fail("label bit out of range", text, "0-127");
                Bit = (uint)bit;
                Invert = o.Invert;
                return true;
            }
            case "--set":
                o.NoInvert();
                Set = true;
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_given.None)
            throw check.Fail("needs --label", "--label N");
    }

    /// <summary>connlabel_mt_save: the label always in double quotes.</summary>
    public override void Save(SaveWriter w)
    {
        w.Opt("--label", "\"" + XtValues.Dec(Bit) + "\"", Invert);
        if (Set)
            w.Opt("--set");
    }
}
