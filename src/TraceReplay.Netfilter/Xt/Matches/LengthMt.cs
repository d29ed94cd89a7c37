using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>`-m length` (net/netfilter/xt_length.c length_mt / length_mt6): IPv4 tot_len, IPv6 payload_len + 40, in the range, invertible.</summary>
public sealed class LengthMt(LengthMatch m, XtCompileContext c) : XtMatchEvaluator<LengthMatch>
{
    public LengthMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p) =>
        Module.Length.Contains((uint)p.Packet.IpTotalLength) != Module.Invert ? Tristate.True : Tristate.False;
}
