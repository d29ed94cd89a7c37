using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Reject;

namespace TraceReplay.Netfilter.Hooks;

/// <summary>
/// The header checks of ip_rcv_core (net/ipv4/ip_input.c) and ip6_rcv_core (net/ipv6/ip6_input.c)
/// that come before any hook, with the kernel's drop reasons. A frame the capture's snap length cut
/// is not a drop — the packet on the wire was whole — and its verdict says it was computed from a
/// truncated frame.
/// </summary>
public sealed partial class NfHost
{
    /// <summary>Returns whether the packet goes on to the hooks; otherwise <paramref name="r"/> says why not.</summary>
    private static bool RcvCore(ReadOnlySpan<byte> frame, in DecodedPacket packet, ref NfHookResult r)
    {
        bool cut = packet.IsTruncated;
        r.FromTruncatedFrame = cut;
        if (!packet.HasIp)
        {
            bool ipEtherType = packet.EtherType is EtherTypes.Ipv4 or EtherTypes.Ipv6;
            if (!ipEtherType || (packet.Layers & Layers.Link) == 0)
            {
                r.Fate = NfFate.NotIp;
                return false;
            }
            if (cut && !packet.IsMalformed)
            {
                // The cut fell inside the IP header: the kernel had it, we do not.
                r.Fate = NfFate.Unknown;
                r.DependsOnUnknown = true;
                return false;
            }

            // The decoder refused the header: pskb_may_pull failed, version ≠ 4/6, ihl < 5 or tot_len < ihl*4.
            return Drop(ref r, NfIpDropReason.IpInhdr);
        }
        int l3 = packet.L3Offset;
        if (packet.IsIpv4)
        {
            // ip_fast_csum first, then tot_len against the bytes received (the cut ones were received).
            if (!NfRejectIpv4.HeaderChecksumOk(frame.Slice(l3, packet.IpHeaderLength)))
                return Drop(ref r, NfIpDropReason.IpCsum);
            if (!cut && frame.Length - l3 < packet.IpTotalLength)
                return Drop(ref r, NfIpDropReason.PktTooSmall);
            return true;
        }

        // pkt_len 0 with a hop-by-hop header is a jumbogram (RFC 2675), checked by ipv6_parse_hopopts.
        int payload = packet.IpTotalLength - 40;
        bool jumbo = payload == 0 && frame.Length > l3 + 6 && frame[l3 + 6] == L4Protocol.HopByHop;
        if (!cut && !jumbo && frame.Length - l3 < packet.IpTotalLength)
            return Drop(ref r, NfIpDropReason.PktTooSmall);
        return true;
    }

    private static bool Drop(ref NfHookResult r, NfIpDropReason reason)
    {
        r.Fate = NfFate.Dropped;
        r.DropCause = NfDropCause.IpHeader;
        r.IpDrop = reason;
        return false;
    }
}
