using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>`-m dscp --dscp N` (net/netfilter/xt_dscp.c dscp_mt / dscp_mt6): the upper six bits of the TOS / traffic class, invertible.</summary>
public sealed class DscpMt(DscpMatch m, XtCompileContext c) : XtMatchEvaluator<DscpMatch>
{
    public DscpMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p) =>
        ((p.Packet.Tos >> 2) == Module.Dscp) != Module.Invert ? Tristate.True : Tristate.False;
}
