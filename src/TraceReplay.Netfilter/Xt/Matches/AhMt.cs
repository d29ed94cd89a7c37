using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m ah --ahspi` (net/ipv4/netfilter/ipt_ah.c ah_mt): the SPI in the range, invertible; fragments
/// never match. ip6t_ah (AH found on the IPv6 extension chain, --ahlen, --ahres) is not simulated
/// yet: unknown for IPv6.
/// </summary>
public sealed class AhMt(AhMatch m, XtCompileContext c) : XtMatchEvaluator<AhMatch>
{
    public AhMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        ref var d = ref p.Packet;
        if (p.IsV6)
            return Tristate.Unknown;
        if (p.FragOff != 0)
            return Tristate.False;
        if (!d.HasTransport || d.Protocol != L4Protocol.Ah)
            return p.MissingTransport();
        return Module.Spis.Contains(d.Spi) != Module.InvertSpis ? Tristate.True : Tristate.False;
    }
}
