using TraceReplay.Capture.Decode;

namespace TraceReplay.Netfilter.Conntrack;

/// <summary>
/// The ICMP tracker, net/netfilter/nf_conntrack_proto_icmp.c: echo, timestamp, information and
/// address-mask requests open a connection keyed by id, type and code (icmp_pkt_to_tuple); the reply
/// type comes from invmap; icmp_timeout (30 s). Errors (unreachable, source quench, redirect, time
/// exceeded, parameter problem) are not connections: nf_conntrack_icmpv4_error finds the connection the
/// quoted header belongs to and makes the error RELATED to it (nf_conntrack_inet_error).
/// </summary>
internal static class NfConntrackProtoIcmp
{
    /// <summary>NR_ICMP_TYPES: the highest type the kernel knows.</summary>
    private const byte NrIcmpTypes = 18;

    /// <summary>invmap has an entry: echo/timestamp/info/address-mask requests and replies.</summary>
    public static bool HasInverse(byte type) => type is 0 or 8 or 13 or 14 or 15 or 16 or 17 or 18;

    /// <summary>valid_new: the request types that may create a connection.</summary>
    private static bool ValidNew(byte type) => type is 8 or 13 or 15 or 17;

    /// <summary>icmp_is_err.</summary>
    private static bool IsError(byte type) => type is 3 or 4 or 5 or 11 or 12;

    /// <summary>nf_conntrack_icmp_packet.</summary>
    public static L4Verdict Packet(NfConntrackTable table, ref NfConn ct, int idx, in DecodedPacket p, CtDirection dir, long now, out CtReason reason)
    {
        reason = CtReason.None;
        if (!ValidNew(ct.Orig.IcmpType))
        {
            reason = CtReason.IcmpNotNew; // can't create a new ICMP `conn' with this
            return L4Verdict.Invalid;
        }
        table.RefreshAcct(idx, ref ct, dir, p.IpTotalLength, table.Timeouts.Icmp, now);
        return L4Verdict.Accept;
    }

    /// <summary>
    /// nf_conntrack_icmpv4_error / nf_conntrack_icmpv6_error: true when the packet was settled here
    /// (invalid, untracked, or RELATED to a connection), false to track it as a connection of its own.
    /// </summary>
    public static bool Error(NfConntrackTable table, in DecodedPacket p, ushort zone, long now, out CtInfo info)
    {
        info = default;
        if ((p.Layers & Layers.Transport) == 0)
        {
            info = CtInfo.Invalid(CtReason.IcmpBadType); // short packet
            return true;
        }
        if (p.IsIpv4)
        {
            if (p.IcmpType > NrIcmpTypes)
            {
                info = CtInfo.Invalid(CtReason.IcmpBadType);
                return true;
            }
            if (!IsError(p.IcmpType))
                return false;
        }
        else
        {
            if (NfConntrackProtoIcmpv6.IsNoTrack(p.IcmpType))
            {
                info = CtInfo.Untracked; // MLD and neighbour discovery are never tracked
                return true;
            }
            if (p.IcmpType >= 128)
                return false;
        }
        info = InetError(table, in p, zone, now);
        return true;
    }

    /// <summary>nf_conntrack_inet_error: RELATED to the connection of the quoted packet, if the error goes to its sender.</summary>
    private static CtInfo InetError(NfConntrackTable table, in DecodedPacket p, ushort zone, long now)
    {
        if ((p.Layers & Layers.InnerIp) == 0)
            return CtInfo.Invalid(CtReason.IcmpErrorNoConnection);
        byte proto = p.InnerProtocol;
        ushort sport = 0, dport = 0;
        byte type = 0;
        switch (proto)
        {
            case L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.UdpLite or L4Protocol.Sctp or 33:
                if ((p.Layers & Layers.InnerTransport) == 0)
                    return CtInfo.Invalid(CtReason.IcmpErrorNoConnection);
                sport = p.InnerSrcPort;
                dport = p.InnerDstPort;
                break;
            case L4Protocol.Icmp or L4Protocol.Icmpv6:
                if ((p.Layers & Layers.InnerTransport) == 0)
                    return CtInfo.Invalid(CtReason.IcmpErrorNoConnection);
                sport = p.InnerIcmpId;
                type = p.InnerIcmpType;
                break;
        }
        // The quoted code is not decoded; requests carry code 0.
        var orig = new NfConntrackTuple(p.InnerSrc, p.InnerDst, sport, dport, proto, p.IsIpv6, type, 0);
        // "Ordinarily, we'd expect the inverted tupleproto, but it's been preserved inside the ICMP."
        if (!NfConntrackTable.TryInvert(in orig, out NfConntrackTuple inner))
            return CtInfo.Invalid(CtReason.IcmpErrorNoConnection);
        var (entry, dir) = table.Find(in inner, zone, now);
        if (entry < 0)
            return CtInfo.Invalid(CtReason.IcmpErrorNoConnection);
        // ... and the ICMP error must go to the host that sent the quoted packet.
        ref NfConn ct = ref table[entry];
        if (ct.Tuple(dir).Dst != p.Dst)
            return CtInfo.Invalid(CtReason.IcmpErrorWrongAddress);
        return new CtInfo(entry, CtState.Related, dir, CtVerdict.Accept, CtReason.None);
    }
}
