using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>`-m icmp6 --icmpv6-type` (net/ipv6/netfilter/ip6_tables.c icmp6_match, icmp6_type_code_match): no "any" type.</summary>
public sealed class Icmp6Mt(Icmp6Match m, XtCompileContext c) : XtMatchEvaluator<Icmp6Match>
{
    public Icmp6Match Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        ref var d = ref p.Packet;
        if (p.FragOff != 0)
            return Tristate.False;
        if (!d.HasTransport || d.Protocol != L4Protocol.Icmpv6)
            return p.MissingTransport();
        return IcmpMt.TypeCodeMatch(Module.Type, Module.CodeMin, Module.CodeMax, d.IcmpType, d.IcmpCode, Module.Invert, anyType: false);
    }
}
