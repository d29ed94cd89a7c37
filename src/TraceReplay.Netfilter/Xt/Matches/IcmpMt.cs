using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>`-m icmp --icmp-type` (net/ipv4/netfilter/ip_tables.c icmp_match, icmp_type_code_match): type 0xFF is "any".</summary>
public sealed class IcmpMt(IcmpMatch m, XtCompileContext c) : XtMatchEvaluator<IcmpMatch>
{
    public IcmpMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        ref var d = ref p.Packet;
        if (p.FragOff != 0)
            return Tristate.False;
        if (!d.HasTransport || d.Protocol != L4Protocol.Icmp)
            return p.MissingTransport();
        return TypeCodeMatch(Module.Type, Module.CodeMin, Module.CodeMax, d.IcmpType, d.IcmpCode, Module.Invert, anyType: true);
    }

    internal static Tristate TypeCodeMatch(byte testType, byte minCode, byte maxCode, byte type, byte code, bool invert, bool anyType)
    {
        bool hit = (anyType && testType == 0xFF) || (type == testType && code >= minCode && code <= maxCode);
        return hit != invert ? Tristate.True : Tristate.False;
    }
}
