using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>`-m mac --mac-source` (net/netfilter/xt_mac.c mac_mt): false without an Ethernet header, else the source MAC, invertible.</summary>
public sealed class MacMt(MacMatch m, XtCompileContext c) : XtMatchEvaluator<MacMatch>
{
    private readonly MacAddr _mac = m.Source ?? default;

    public MacMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        if (!p.HasMacHeader)
            return Tristate.False;
        if ((p.Packet.Layers & Layers.Link) == 0)
            return Tristate.Unknown; // the capture's link layer (raw IP, SLL) did not keep it
        return (p.Packet.SrcMac == _mac) != Module.Invert ? Tristate.True : Tristate.False;
    }
}
