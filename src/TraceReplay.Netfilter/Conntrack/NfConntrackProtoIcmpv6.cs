using TraceReplay.Capture.Decode;

namespace TraceReplay.Netfilter.Conntrack;

/// <summary>
/// The ICMPv6 tracker, net/netfilter/nf_conntrack_proto_icmpv6.c: echo request (128) and node
/// information query (139) open a connection; icmpv6_timeout (30 s). MLD and neighbour discovery are
/// untracked (noct_valid_new in icmpv6_error); errors (type &lt; 128) go through
/// <see cref="NfConntrackProtoIcmp.Error"/>, which shares nf_conntrack_inet_error with IPv4.
/// </summary>
internal static class NfConntrackProtoIcmpv6
{
    /// <summary>icmpv6 invmap: echo and node information pairs.</summary>
    public static bool HasInverse(byte type) => type is 128 or 129 or 139 or 140;

    /// <summary>noct_valid_new: MLD query/report/done (130-132), RS/RA/NS/NA (133-136), MLDv2 report (143).</summary>
    public static bool IsNoTrack(byte type) => type is >= 130 and <= 136 or 143;

    /// <summary>nf_conntrack_icmpv6_packet: only an unconfirmed entry is checked for a request type.</summary>
    public static L4Verdict Packet(NfConntrackTable table, ref NfConn ct, int idx, in DecodedPacket p, CtDirection dir, long now, out CtReason reason)
    {
        reason = CtReason.None;
        if (!ct.IsConfirmed && ct.Orig.IcmpType is not (128 or 139))
        {
            reason = CtReason.IcmpNotNew;
            return L4Verdict.Invalid;
        }
        table.RefreshAcct(idx, ref ct, dir, p.IpTotalLength, table.Timeouts.Icmpv6, now);
        return L4Verdict.Accept;
    }
}
