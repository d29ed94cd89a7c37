using System.Globalization;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>Which ECN tests a rule makes (XT_ECN_OP_MATCH_IP / _ECE / _CWR).</summary>
[Flags]
public enum EcnTests : byte
{
    None = 0,
    IpEct = 0x01,
    TcpEce = 0x10,
    TcpCwr = 0x20,
}

/// <summary>
/// `-m ecn [!] --ecn-tcp-cwr [!] --ecn-tcp-ece [!] --ecn-ip-ect N` (extensions/libxt_ecn.c; kernel
/// xt_ecn.c ecn_mt4/ecn_mt6): the TCP ECE/CWR flags and the IP header's two ECN bits.
/// </summary>
[XtMatch("ecn")]
public sealed class EcnMatch : XtMatch
{
    private XtOptionSet _flags;

    public EcnTests Tests { get; private set; }

    /// <summary>Tests whose result is inverted (same bits as <see cref="Tests"/>).</summary>
    public EcnTests Inverted { get; private set; }

    /// <summary>The ECN codepoint 0-3 --ecn-ip-ect compares with.</summary>
    public byte IpEct { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        EcnTests t;
        switch (o.Name)
        {
            case "--ecn-tcp-cwr":
                _flags.Take(o, 1);
                t = EcnTests.TcpCwr;
                break;
            case "--ecn-tcp-ece":
                _flags.Take(o, 2);
                t = EcnTests.TcpEce;
                break;
            case "--ecn-ip-ect":
                _flags.Take(o, 4);
                t = EcnTests.IpEct;
                IpEct = (byte)o.UInt32(o.Arg("an ECN codepoint 0-3"), 0, 3);
                break;
            default:
                return false;
        }
        Tests |= t;
        if (o.Invert)
            Inverted |= t;
        return true;
    }

    /// <summary>
    /// ecn_check wants an option; the kernel's ecn_mt_check4/6 refuses the TCP bits unless the rule
    /// says `-p tcp` (not inverted): "cannot match TCP bits for non-tcp packets".
    /// </summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_flags.None)
            throw check.Fail("needs an option (iptables: \"ECN match: some option required\")", "--ecn-tcp-cwr, --ecn-tcp-ece or --ecn-ip-ect N");
        if ((Tests & (EcnTests.TcpEce | EcnTests.TcpCwr)) != 0)
            check.RequireProtocol(Protocols.Tcp);
    }

    /// <summary>ecn_save: ECE, CWR, then the IP codepoint.</summary>
    public override void Save(SaveWriter w)
    {
        if ((Tests & EcnTests.TcpEce) != 0)
            w.Opt("--ecn-tcp-ece", (Inverted & EcnTests.TcpEce) != 0);
        if ((Tests & EcnTests.TcpCwr) != 0)
            w.Opt("--ecn-tcp-cwr", (Inverted & EcnTests.TcpCwr) != 0);
        if ((Tests & EcnTests.IpEct) != 0)
            w.Opt("--ecn-ip-ect", IpEct.ToString(CultureInfo.InvariantCulture), (Inverted & EcnTests.IpEct) != 0);
    }
}
