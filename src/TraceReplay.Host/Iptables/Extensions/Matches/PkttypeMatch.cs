namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>The link-layer packet class skb->pkt_type carries (PACKET_HOST … PACKET_OTHERHOST of linux/if_packet.h).</summary>
public enum PacketType : byte
{
    Host = 0,
    Broadcast = 1,
    Multicast = 2,
    OtherHost = 3,
}

/// <summary>`-m pkttype --pkt-type unicast|broadcast|multicast|otherhost` (extensions/libxt_pkttype.c; kernel xt_pkttype.c pkttype_mt).</summary>
[XtMatch("pkttype")]
public sealed class PkttypeMatch : XtMatch
{
    private XtOptionSet _flags;

    public PacketType Type { get; private set; }
    public bool Invert { get; private set; }

    /// <summary>supported_types[] in its order: the first name of a type is the one saved; bcast, mcast and host are aliases.</summary>
    private static readonly (string Name, PacketType Type)[] Names =
    [
        ("unicast", PacketType.Host), ("broadcast", PacketType.Broadcast), ("multicast", PacketType.Multicast),
        ("otherhost", PacketType.OtherHost), ("bcast", PacketType.Broadcast), ("mcast", PacketType.Multicast), ("host", PacketType.Host),
    ];

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--pkt-type")
            return false;
        _flags.Take(o, 1);
        string text = o.Arg("unicast, broadcast, multicast or otherhost");
        int i = Array.FindIndex(Names, n => n.Name.Equals(text, StringComparison.OrdinalIgnoreCase));
        if (i < 0)
            throw o.Fail("bad packet type", text, "unicast, broadcast, multicast or otherhost (aliases: host, bcast, mcast)");
        Type = Names[i].Type;
        Invert = o.Invert;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_flags.None)
            throw check.Fail("needs --pkt-type (iptables: \"option --pkt-type must be specified\")", "--pkt-type TYPE");
    }

    public override void Save(SaveWriter w) => w.Opt("--pkt-type", Array.Find(Names, n => n.Type == Type).Name, Invert);
}
