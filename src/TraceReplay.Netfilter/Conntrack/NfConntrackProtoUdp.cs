using TraceReplay.Capture.Decode;

namespace TraceReplay.Netfilter.Conntrack;

/// <summary>
/// The UDP (and UDP-Lite) tracker, nf_conntrack_udp_packet in net/netfilter/nf_conntrack_proto_udp.c
/// (6.x): udp_timeout (30 s) until a reply was seen; after that, a packet arriving more than two seconds
/// (UDP_STREAM_TIMEOUT) after the first one extends to udp_timeout_stream (120 s) and sets ASSURED.
/// SEEN_REPLY is set by nf_conntrack_in after the tracker ran, so the first reply itself still gets 30 s.
/// </summary>
internal static class NfConntrackProtoUdp
{
    private const long StreamDelay = 2 * 1_000_000_000L;

    public static L4Verdict Packet(NfConntrackTable table, ref NfConn ct, int idx, in DecodedPacket p, CtDirection dir, long now, out CtReason reason)
    {
        reason = CtReason.None;
        // udp_error: a length field that does not fit (the decoder flags it).
        if (p.Issue == DecodeIssue.UdpLength || (p.Layers & Layers.Transport) == 0)
        {
            reason = CtReason.UdpBadLength;
            return L4Verdict.Invalid;
        }
        NfConntrackTimeouts t = table.Timeouts;
        if (!ct.IsConfirmed)
            ct.StreamTs = now + StreamDelay;

        if ((ct.Status & CtStatus.SeenReply) != 0)
        {
            long extra = t.UdpUnreplied;
            bool stream = false;
            // Still active after two seconds? Extend the timeout (time_after: strictly later).
            if (now > ct.StreamTs)
            {
                extra = t.UdpReplied;
                stream = (ct.Status & CtStatus.Assured) == 0;
            }
            table.RefreshAcct(idx, ref ct, dir, p.IpTotalLength, extra, now);
            if (stream)
            {
                ct.Status |= CtStatus.Assured;
                ct.PendingEvents |= NfctEventMask.Assured;
            }
        }
        else
        {
            table.RefreshAcct(idx, ref ct, dir, p.IpTotalLength, t.UdpUnreplied, now);
        }
        return L4Verdict.Accept;
    }
}
