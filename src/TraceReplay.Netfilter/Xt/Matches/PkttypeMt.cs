using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m pkttype` (net/netfilter/xt_pkttype.c pkttype_mt): skb->pkt_type, except that a looped-back
/// packet counts as multicast when its destination is, else as broadcast.
/// </summary>
public sealed class PkttypeMt(PkttypeMatch m, XtCompileContext c) : XtMatchEvaluator<PkttypeMatch>
{
    private const byte PacketLoopback = 5;

    public PkttypeMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        int type = p.PktType;
        if (type == PacketLoopback)
        {
            var dst = p.Packet.Dst;
            bool multicast = p.IsV6 ? (dst.Hi >> 56) == 0xFF : (dst.V4 >> 28) == 0xE;
            type = multicast ? (int)PacketType.Multicast : (int)PacketType.Broadcast;
        }
        return (type == (int)Module.Type) != Module.Invert ? Tristate.True : Tristate.False;
    }
}
