namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m connlimit` (extensions/libxt_connlimit.c revision 1; kernel xt_connlimit.c): the number of
/// connections from (or to) the packet's address, grouped by prefix, compared with a limit.
/// </summary>
[XtMatch("connlimit")]
public sealed class ConnlimitMatch : XtMatch
{
    private const int OUpto = 0, OAbove = 1, OMask = 2, OSaddr = 3, ODaddr = 4;
    private XtOptionSet _seen;
    private byte? _mask;

    public uint Limit { get; private set; }

    /// <summary>XT_CONNLIMIT_INVERT: true for --connlimit-upto (match while count &lt;= limit), false for --connlimit-above.</summary>
    public bool Upto { get; private set; }

    /// <summary>Prefix length the addresses are grouped by (32 / 128 by default).</summary>
    public byte PrefixLength { get; private set; }

    /// <summary>XT_CONNLIMIT_DADDR: count per destination instead of per source.</summary>
    public bool ByDestination { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--connlimit-upto":
                _seen.Take(o, 1u << OUpto, excl: 1u << OAbove);
                Limit = o.UInt32(o.Arg("a number of connections"));
                Upto = !o.Invert;
                return true;
            case "--connlimit-above":
                _seen.Take(o, 1u << OAbove, excl: 1u << OUpto);
                Limit = o.UInt32(o.Arg("a number of connections"));
                Upto = o.Invert;
                return true;
            case "--connlimit-mask":
                _seen.TakeNoInvert(o, 1u << OMask);
                _mask = o.PrefixLength(o.Arg("a prefix length"));
                return true;
            case "--connlimit-saddr":
                _seen.TakeNoInvert(o, 1u << OSaddr, excl: 1u << ODaddr);
                ByDestination = false;
                return true;
            case "--connlimit-daddr":
                _seen.TakeNoInvert(o, 1u << ODaddr, excl: 1u << OSaddr);
                ByDestination = true;
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_seen.Has((1u << OUpto) | (1u << OAbove)))
            throw check.Fail("you must specify --connlimit-above or --connlimit-upto", "--connlimit-above N or --connlimit-upto N");
        PrefixLength = _mask ?? (byte)(rule.Family == IptFamily.IPv6 ? 128 : 32);
    }

    /// <summary>connlimit_save4/6 (revision 1): the limit, the mask always, then saddr or daddr.</summary>
    public override void Save(SaveWriter w)
    {
        w.Opt(Upto ? "--connlimit-upto" : "--connlimit-above", Limit);
        w.Opt("--connlimit-mask", PrefixLength);
        w.Opt(ByDestination ? "--connlimit-daddr" : "--connlimit-saddr");
    }
}
