namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>`-m udp` (extensions/libxt_udp.c; kernel xt_tcpudp.c udp_mt): source/destination port ranges.</summary>
[XtMatch("udp")]
public sealed class UdpMatch : XtMatch
{
    public XtRange SourcePorts { get; private set; } = new(0, 65535);
    public bool InvertSourcePorts { get; private set; }
    public XtRange DestinationPorts { get; private set; } = new(0, 65535);
    public bool InvertDestinationPorts { get; private set; }

    private XtOptionSet _given;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--sport":
            case "--source-port":
                _given.Take(o, 1); // libxt_udp: "Only one `--source-port' allowed"
                SourcePorts = o.PortRange(o.Arg("PORT[:PORT]"), "udp");
                InvertSourcePorts = o.Invert;
                return true;
            case "--dport":
            case "--destination-port":
                _given.Take(o, 2);
                DestinationPorts = o.PortRange(o.Arg("PORT[:PORT]"), "udp");
                InvertDestinationPorts = o.Invert;
                return true;
            default:
                return false;
        }
    }

    /// <summary>The kernel's udp_mt_check accepts the rule only with `-p udp` (udplite has its own match).</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check) => check.RequireProtocol(Protocols.Udp);

    public override void Save(SaveWriter w)
    {
        w.OptRange("--sport", SourcePorts, InvertSourcePorts, ushort.MaxValue);
        w.OptRange("--dport", DestinationPorts, InvertDestinationPorts, ushort.MaxValue);
    }
}
