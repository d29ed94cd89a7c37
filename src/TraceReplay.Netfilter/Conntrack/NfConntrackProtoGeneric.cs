using TraceReplay.Capture.Decode;

namespace TraceReplay.Netfilter.Conntrack;

/// <summary>
/// The generic tracker, net/netfilter/nf_conntrack_proto_generic.c: every protocol without its own
/// tracker, keyed by addresses and protocol, refreshed to generic_timeout (600 s) by each packet.
/// SCTP and DCCP use it for now (keyed on their ports, but without the kernel's SCTP/DCCP state
/// machines), so their entries never show a protocol state. GRE gets the two timeouts of
/// nf_conntrack_proto_gre.c's gre_packet (<see cref="GrePacket"/>) but no keys: without the PPTP helper
/// the kernel's keymap is empty too and both keys are 0.
/// </summary>
internal static class NfConntrackProtoGeneric
{
    /// <summary>generic_packet.</summary>
    public static L4Verdict Packet(NfConntrackTable table, ref NfConn ct, int idx, in DecodedPacket p, CtDirection dir, long now)
    {
        table.RefreshAcct(idx, ref ct, dir, p.IpTotalLength, table.Timeouts.Generic, now);
        return L4Verdict.Accept;
    }

    /// <summary>gre_packet: gre_timeout (30 s) until replied, then gre_timeout_stream (180 s) and ASSURED.</summary>
    public static L4Verdict GrePacket(NfConntrackTable table, ref NfConn ct, int idx, in DecodedPacket p, CtDirection dir, long now)
    {
        if (p.IsIpv6)
            return L4Verdict.Invalid; // the GRE tracker is IPv4 only (state->pf != NFPROTO_IPV4)
        if ((ct.Status & CtStatus.SeenReply) != 0)
        {
            table.RefreshAcct(idx, ref ct, dir, p.IpTotalLength, table.Timeouts.GreReplied, now);
            if ((ct.Status & CtStatus.Assured) == 0)
            {
                ct.Status |= CtStatus.Assured;
                ct.PendingEvents |= NfctEventMask.Assured;
            }
        }
        else
        {
            table.RefreshAcct(idx, ref ct, dir, p.IpTotalLength, table.Timeouts.GreUnreplied, now);
        }
        return L4Verdict.Accept;
    }
}
