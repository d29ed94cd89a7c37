using System.Globalization;
using TraceReplay.Capture.Decode;
using static TraceReplay.Host.Iptables.Extensions.XtChains;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j TPROXY --on-port PORT [--on-ip ADDR] [--tproxy-mark VALUE[/MASK]]` revision 1
/// (extensions/libxt_TPROXY.c tproxy_tg1_parse/tproxy_tg_save_v1; kernel xt_TPROXY.c
/// tproxy_tg4_v1/tproxy_tg6_v1): diverts the packet to a local socket without rewriting it,
/// marking it for policy routing; accepted when a socket is found, dropped otherwise.
/// </summary>
[XtTarget("TPROXY")]
public sealed class TProxyTarget : XtTarget
{
    private const uint Port = 1, Ip = 2, Mark = 4;
    private XtOptionSet _seen;

    /// <summary>The local port (0: the packet's own destination port).</summary>
    public ushort OnPort { get; private set; }

    /// <summary>The local address (unspecified: the address of the receiving interface).</summary>
    public IpAddr OnIp { get; private set; }

    /// <summary>The mark set on the packet: bits in Mask cleared, then Value XORed in (0/0 when not given).</summary>
    public XtMarkMask TProxyMark { get; private set; }

    /// <summary>A socket found means ACCEPT, none means DROP: traversal stops either way.</summary>
    public override bool IsTerminating => true;

    /// <summary>xt_TPROXY: `.table = "mangle"`, `.hooks = 1 &lt;&lt; NF_INET_PRE_ROUTING`.</summary>
    public override IReadOnlyCollection<string>? Tables => Mangle;

    public override IReadOnlyCollection<string>? Hooks => [PreRouting];

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--on-port":
                _seen.TakeNoInvert(o, Port);
                OnPort = o.Port(o.Arg("a port or service name"));
                return true;
            case "--on-ip":
                _seen.TakeNoInvert(o, Ip);
                OnIp = o.Address(o.Arg("a local address"));
                return true;
            case "--tproxy-mark":
                _seen.TakeNoInvert(o, Mark);
                TProxyMark = o.MarkMask(o.Arg("VALUE[/MASK]"));
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_seen.Has(Port))
            throw check.Missing("option --on-port must be specified", "--on-port PORT");
        if (!_seen.Has(Ip))
            OnIp = rule.Family == IptFamily.IPv6 ? default : IpAddr.FromV4(0);
        // tproxy_tg4_check/tproxy_tg6_check: "Can be used only with -p tcp or -p udp".
        check.RequireProtocol("the kernel: \"Can be used only with -p tcp or -p udp\"", Protocols.Tcp, Protocols.Udp);
    }

    /// <summary>tproxy_tg_save_v1: every field, the mark as `0x%x/0x%x`.</summary>
    public override void Save(SaveWriter w)
    {
        w.Opt("--on-port", OnPort);
        w.Opt("--on-ip", OnIp.ToString());
        w.Opt("--tproxy-mark", "0x" + TProxyMark.Value.ToString("x", CultureInfo.InvariantCulture) + "/0x" + TProxyMark.Mask.ToString("x", CultureInfo.InvariantCulture));
    }
}
