using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Hooks;

namespace TraceReplay.Netfilter.Reject;

/// <summary>What REJECT's reply came to (<see cref="NfHookResult.RejectOutcome"/>).</summary>
public enum NfRejectOutcome : byte
{
    /// <summary>No REJECT decided the packet.</summary>
    None,

    /// <summary>The reply was built and went through the host's output path (<see cref="NfHookResult.Generated"/>).</summary>
    Sent,

    /// <summary>
    /// The packet is one the kernel never answers: a non-first fragment, a RST (for tcp-reset), a
    /// segment without a TCP header, an ICMP error, a link-layer or route broadcast/multicast,
    /// a non-unicast IPv6 address (nf_reject_ip_tcphdr_get, __icmp_send, icmp6_send).
    /// </summary>
    NotEligible,

    /// <summary>icmp_global_allow (icmp_msgs_per_sec / icmp_msgs_burst) or the per-peer icmp_ratelimit refused it.</summary>
    RateLimited,

    /// <summary>The reply had no route back (ip_route_me_harder / icmp_route_lookup failed).</summary>
    NoRoute,
}

/// <summary>Who made a generated packet: REJECT, or the host's own stack answering a packet delivered to it (NfHost.LocalReply).</summary>
public enum NfGeneratedBy : byte
{
    /// <summary>REJECT's TCP RST or ICMP error (nf_send_reset, nf_send_unreach).</summary>
    Reject,

    /// <summary>icmp_reply / icmpv6_echo_reply to an echo request.</summary>
    EchoReply,

    /// <summary>tcp_v4_send_reset / tcp_v6_send_reset: a segment to a port nobody listens on.</summary>
    TcpReset,

    /// <summary>__udp4_lib_rcv's ICMP port unreachable (ICMPv6 port unreachable): a datagram to a closed UDP port.</summary>
    PortUnreachable,
}

/// <summary>
/// A packet the simulated host made while handling another one: REJECT's TCP RST or ICMP error.
/// The host owns one and reuses it (its buffer is the one the reply is built in), so it is valid
/// until the next packet is handed to the host: the pipeline records it at once.
/// </summary>
public sealed class NfGeneratedPacket
{
    private byte[] _buffer = new byte[1500];
    private DecodedPacket _packet;

    /// <summary>Its bytes as they left (after any NAT of the output path), from the IP header: a raw-IP frame.</summary>
    public ReadOnlySpan<byte> Frame => _buffer.AsSpan(0, Length);

    public int Length { get; private set; }

    /// <summary>Its decoded headers (LINKTYPE_RAW).</summary>
    public ref DecodedPacket Packet => ref _packet;

    /// <summary>Its own way through the hooks (OUTPUT and POSTROUTING), or, when sent out of a bridge port, none.</summary>
    public NfHookResult Result;

    /// <summary>The device it left by: the route's, or for a RST to a bridged packet the bridge port it came in on.</summary>
    public string? OutDev { get; internal set; }

    public long TimeNs { get; internal set; }

    /// <summary>REJECT or the host's own stack (echo reply, RST of a closed port, port unreachable).</summary>
    public NfGeneratedBy By { get; internal set; }

    /// <summary>
    /// nf_send_reset / nf_send_reset6 for a packet that crossed a bridge (br_netfilter's
    /// nf_bridge_info has a physindev): the RST gets an Ethernet header with the original's MACs
    /// swapped and goes straight to dev_queue_xmit on the port, past OUTPUT and POSTROUTING.
    /// </summary>
    public bool ViaBridgePort { get; internal set; }

    /// <summary>The quoted or answered packet was cut by the capture's snap length: the reply is built from what was captured.</summary>
    public bool FromTruncatedFrame { get; internal set; }

    internal Span<byte> Buffer(int length)
    {
        if (_buffer.Length < length)
            _buffer = new byte[Math.Max(length, _buffer.Length * 2)];
        Length = length;
        return _buffer.AsSpan(0, length);
    }

    internal Span<byte> Writable => _buffer.AsSpan(0, Length);

    internal void Decode() => PacketDecoder.Decode(Frame, LinkType.Raw, Length, out _packet);
}
