using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>`-m esp --espspi` (net/netfilter/xt_esp.c esp_mt, spi_match): the SPI in the range, invertible; fragments never match.</summary>
public sealed class EspMt(EspMatch m, XtCompileContext c) : XtMatchEvaluator<EspMatch>
{
    public EspMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        ref var d = ref p.Packet;
        if (p.FragOff != 0)
            return Tristate.False;
        if (!d.HasTransport || d.Protocol != L4Protocol.Esp)
            return p.MissingTransport();
        return Module.Spis.Contains(d.Spi) != Module.InvertSpis ? Tristate.True : Tristate.False;
    }
}
