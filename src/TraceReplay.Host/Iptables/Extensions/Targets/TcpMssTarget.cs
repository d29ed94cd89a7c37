using static TraceReplay.Host.Iptables.Extensions.XtChains;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j TCPMSS --set-mss N | --clamp-mss-to-pmtu` (extensions/libxt_TCPMSS.c; kernel xt_TCPMSS.c
/// tcpmss_tg4/tcpmss_tg6): rewrites the MSS option of SYN segments and goes on (XT_CONTINUE).
/// </summary>
[XtTarget("TCPMSS")]
public sealed class TcpMssTarget : XtTarget
{
    /// <summary>XT_TCPMSS_CLAMP_PMTU: the value xt_tcpmss_info.mss holds for `--clamp-mss-to-pmtu`.</summary>
    public const ushort ClampPmtu = 0xffff;

    private XtOptionSet _seen;

    /// <summary>The MSS to write, or <see cref="ClampPmtu"/> to clamp to the route's MTU minus the IP and TCP headers.</summary>
    public ushort Mss { get; private set; }

    public bool ClampToPmtu => Mss == ClampPmtu;

    public override bool IsTerminating => false;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--set-mss":
            {
                _seen.TakeNoInvert(o, 1);
                // XTTYPE_UINT16 with .max = UINT16_MAX - sizeof(iphdr) (or ip6_hdr): room for the IP header.
                uint max = o.Family == IptFamily.IPv6 ? 65535u - 40 : 65535u - 20;
                Mss = (ushort)o.UInt32(o.Arg($"an MSS 0-{max}"), 0, max);
                return true;
            }
            case "--clamp-mss-to-pmtu":
                _seen.TakeNoInvert(o, 2);
                Mss = ClampPmtu;
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_seen.None)
            throw check.Missing("at least one parameter is required", "--set-mss VALUE or --clamp-mss-to-pmtu");
        check.RequireProtocol("the kernel registers TCPMSS with .proto = IPPROTO_TCP", Protocols.Tcp);
        // tcpmss_tg4_check also wants a SYN flag match, but only on the legacy back end (it returns
        // early for nft_compat, so iptables-nft dumps carry such rules); the final check does not see
        // the rule's matches, so that is left to iptables-legacy.
    }

    /// <summary>--clamp-mss-to-pmtu needs the route, known only from FORWARD, OUTPUT and POSTROUTING (tcpmss_tg4_check).</summary>
    public override IReadOnlyCollection<string>? Hooks => ClampToPmtu ? [Forward, Output, PostRouting] : null;

    public override void Save(SaveWriter w)
    {
        if (ClampToPmtu)
            w.Opt("--clamp-mss-to-pmtu");
        else
            w.Opt("--set-mss", Mss);
    }
}
