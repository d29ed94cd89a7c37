using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>`-m tos --tos V/M` (net/netfilter/xt_dscp.c tos_mt): (tos or traffic class &amp; mask) == value, invertible.</summary>
public sealed class TosMt(TosMatch m, XtCompileContext c) : XtMatchEvaluator<TosMatch>
{
    public TosMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p) =>
        ((p.Packet.Tos & Module.Mask) == Module.Value) != Module.Invert ? Tristate.True : Tristate.False;
}
