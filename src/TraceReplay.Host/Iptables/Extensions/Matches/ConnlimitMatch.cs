namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m connlimit` (extensions/libxt_connlimit.c revision 1; kernel xt_connlimit.c): the number of
/// connections from (or to) the packet's address, grouped by prefix, compared with a limit.
/// </summary>
[XtMatch("connlimit")]
public sealed class ConnlimitMatch : XtMatch
{
    private const int OUpto = 0, OAbove = 1, OMask = 2, OSaddr = 3, ODaddr = 4;
    private uint _seen;
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
                o.Excl(_seen, 1u << OAbove, "--connlimit-above");
                o.Once(ref _seen, OUpto);
                Limit = o.UInt32(o.Arg("a number of connections"));
                Upto = !o.Invert;
                return true;
            case "--connlimit-above":
                o.Excl(_seen, 1u << OUpto, "--connlimit-upto");
                o.Once(ref _seen, OAbove);
                Limit = o.UInt32(o.Arg("a number of connections"));
                Upto = o.Invert;
                return true;
            case "--connlimit-mask":
                o.NoInvert();
                o.Once(ref _seen, OMask);
                _mask = o.PrefixLength(o.Arg("a prefix length"));
                return true;
            case "--connlimit-saddr":
                o.NoInvert();
                o.Excl(_seen, 1u << ODaddr, "--connlimit-daddr");
                o.Once(ref _seen, OSaddr);
                ByDestination = false;
                return true;
            case "--connlimit-daddr":
                o.NoInvert();
                o.Excl(_seen, 1u << OSaddr, "--connlimit-saddr");
                o.Once(ref _seen, ODaddr);
                ByDestination = true;
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if ((_seen & ((1u << OUpto) | (1u << OAbove))) == 0)
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
