using System.Buffers.Binary;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;
using TraceReplay.Host;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Reject;
using TraceReplay.Replay.Correlate;
using TraceReplay.Replay.Pipeline;
using TraceReplay.Tests.Replay;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Netfilter.Reject;

/// <summary>
/// Differential test against the real kernel: Kernel/record.sh (network namespaces rjt-a, rjt-h, rjt-b on
/// the kernel in Kernel/kernel.txt) loaded REJECT rules of every kind into rjt-h, made traffic with nc and
/// ping and captured rjt-h with `tcpdump -i any`. The capture is replayed through the pipeline: every
/// reply the kernel sent must be one the simulation generated — its captured copy an observation of the
/// generated packet, not a packet entering OUTPUT — and equal to it byte for byte, except where the
/// kernel's value is not knowable offline (said at each place).
/// </summary>
public sealed class NfRejectKernelTests
{
    private static string Dir => Path.Combine(Corpus.Root, "tests", "TraceReplay.Tests", "Netfilter", "Reject", "Kernel");

    private sealed class Sink : IReplaySink
    {
        public List<(KeptSighting S, DecodedPacket P, byte[]? Bytes)> Rows { get; } = [];

        public void Add(in ReplayedSighting sighting, in DecodedPacket packet) =>
            Rows.Add((new KeptSighting(sighting), packet, sighting.Generated?.Frame.ToArray()));
    }

    private static (Sink Sink, ReplaySummary Summary, List<byte[]> Frames, List<DecodedPacket> Decoded) Replay()
    {
        var snapshot = HostSnapshot.Load(Path.Combine(Dir, "snapshot"));
        var host = NfHost.Create(snapshot, new NfHostOptions { LoadConntrack = false });
        var sink = new Sink();
        string pcap = Path.Combine(Dir, "reject.pcap");
        var summary = new ReplayJob(snapshot, host).Run([CaptureSource.Parse(pcap)], sink);
        var frames = new List<byte[]>();
        var decoded = new List<DecodedPacket>();
        using var reader = CaptureFile.Open(pcap);
        while (reader.MoveNext())
        {
            frames.Add(reader.Data.ToArray());
            PacketDecoder.Decode(reader.Data, reader.Current.LinkType, reader.Current.WireLength, out var d);
            decoded.Add(d);
        }
        return (sink, summary, frames, decoded);
    }

    private static bool IsReply(in DecodedPacket d) =>
        d.HasIp && ((d.Protocol == L4Protocol.Tcp && (d.TcpFlags & TcpFlags.Rst) != 0) || (d.Flags & PacketFlags.IcmpError) != 0);

    [Fact]
    public void Every_reply_the_kernel_sent_is_a_generated_packet_and_nothing_else_is()
    {
        var (sink, summary, _, decoded) = Replay();
        var replies = sink.Rows.Where(r => r.S.SightingNumber > 0 && IsReply(decoded[(int)r.S.SightingNumber - 1])).ToList();

        // record.sh: 7 IPv4 and 4 IPv6 triggers, then a burst of 10 datagrams of which icmp_ratelimit let the
        // first 6 be answered (the peer's bucket full after 7 s idle: XRLIM_BURST_FACTOR 6): 17 replies.
        Assert.Equal(17, replies.Count);
        Assert.All(replies, r => Assert.Equal(SightingHandling.Observation, r.S.Handling));
        Assert.All(replies, r => Assert.Equal(EntryKind.Generated, r.S.Sighting.Kind));
        var generated = sink.Rows.Where(r => r.S.Handling == SightingHandling.Generated).ToList();
        Assert.Equal(17, generated.Count);
        Assert.Equal(17, summary.Generated);
        Assert.Equal(replies.Select(r => r.S.Sighting.PacketId).Order(), generated.Select(g => g.S.Sighting.PacketId).Order());

        // The 4 datagrams of the burst the kernel did not answer were rejected all the same.
        var burst = sink.Rows.Where(r => r.S.Handling == SightingHandling.Simulated && r.P.Protocol == L4Protocol.Udp && r.P.DstPort == 53 && r.P.SrcPort is >= 40000 and <= 40009).ToList();
        Assert.Equal(10, burst.Count);
        Assert.All(burst, b => Assert.True(b.S.Result.HasReject));
        Assert.Equal([.. Enumerable.Repeat(NfRejectOutcome.Sent, 6), .. Enumerable.Repeat(NfRejectOutcome.RateLimited, 4)], burst.Select(b => b.S.Result.RejectOutcome));
    }

    [Fact]
    public void Counters_equal_the_kernels_with_the_replies_counted_where_the_kernel_counts_them()
    {
        // The kernel's iptables-save -c after the traffic. filter OUTPUT [14:876] is the 13 IPv4 replies plus
        // port 26's SYN-ACK; nat POSTROUTING [2:80] the two RSTs whose connection had no SNAT binding yet
        // (the SYNs rejected at INPUT and FORWARD, attached by nf_ct_attach); the ICMP errors, RELATED,
        // skip the nat table (nf_nat_ipv4_fn: nf_nat_icmp_reply_translation), as do the RSTs at OUTPUT
        // (their entry's DNAT binding was made at PREROUTING).
        var snapshot = HostSnapshot.Load(Path.Combine(Dir, "snapshot"));
        var host = NfHost.Create(snapshot, new NfHostOptions { LoadConntrack = false });
        new ReplayJob(snapshot, host).Run([CaptureSource.Parse(Path.Combine(Dir, "reject.pcap"))], new Sink());
        var (differ, compared) = CounterComparison.Compare(host, snapshot.Iptables);
        Assert.Equal(15, compared); // filter 3 policies + 7 rules, nat 4 policies + 1 rule
        Assert.Empty(differ);
        (differ, compared) = CounterComparison.Compare(host, snapshot.Ip6tables);
        Assert.Equal(7, compared);

        // IPv6: every rule and both policies equal. The kernel's INPUT policy counted 8 packets (488 bytes,
        // tcpdump -r reject.pcap): 5 router solicitations to ff02::2 (56 bytes; forwarding joins all-routers),
        // the peer's neighbour solicitation for fd77:1::1 to its solicited-node group ff02::1:ff00:1 (72), a
        // neighbour advertisement (64) and solicitation (72) to the host's link-local address. Not the 8 MLD
        // reports to ff02::16 nor the peers' 2 DAD probes (src ::) to their own solicited-node groups
        // ff02::1:ffa9:6ae9 and ff02::1:ff18:3288: ip6_mc_input delivers only to a group the device joined
        // (ipv6_chk_mcast_addr), and the host joined neither (IpRouter: MulticastNotJoined).
        Assert.Empty(differ);
    }

    [Fact]
    public void Generated_replies_equal_the_kernels_field_by_field()
    {
        var (sink, _, frames, decoded) = Replay();
        var observed = sink.Rows.Where(r => r.S.Handling == SightingHandling.Observation && r.S.Sighting.Kind == EntryKind.Generated)
            .ToDictionary(r => r.S.Sighting.PacketId);
        int compared = 0;
        foreach (var g in sink.Rows.Where(r => r.S.Handling == SightingHandling.Generated))
        {
            var o = observed[g.S.Sighting.PacketId];
            int n = (int)o.S.SightingNumber - 1;
            var d = decoded[n];
            byte[] kernel = frames[n].AsSpan(d.L3Offset, d.IpTotalLength).ToArray();
            byte[] ours = g.Bytes!;
            Assert.Equal(o.S.Point, g.S.Point); // the device it left by
            Assert.Equal(kernel.Length, ours.Length);
            if (d.IsIpv4)
                CompareIpv4(kernel, ours, d.Protocol);
            else
                CompareIpv6(kernel, ours, d.Protocol);
            compared++;
        }
        Assert.Equal(17, compared);
    }

    private static void CompareIpv4(byte[] kernel, byte[] ours, byte protocol)
    {
        bool icmp = protocol == L4Protocol.Icmp;
        Assert.Equal(kernel[..4], ours[..4]); // version, ihl, tos ((tos & 0x1e) | 0xc0 for ICMP, 0 for the RST), tot_len

        // An ICMP error's id comes from ip_select_ident: a hash keyed at boot (ip_idents), unknowable;
        // the RST's is nf_reject_iphdr_put's 0. The header checksum covers the id.
        if (!icmp)
            Assert.Equal(kernel[4..6], ours[4..6]);
        Assert.Equal(kernel[6..10], ours[6..10]); // DF (RST only: the ICMP socket is IP_PMTUDISC_DONT), TTL, protocol
        if (!icmp)
            Assert.Equal(kernel[10..12], ours[10..12]);
        Assert.Equal(0xFFFF, Fold(ours.AsSpan(0, 20), 0)); // our header checksum verifies
        Assert.Equal(kernel[12..20], ours[12..20]); // addresses
        if (icmp)
        {
            Assert.Equal(kernel[20..], ours[20..]); // type, code, checksum, and the quoted datagram as the hook saw it
            return;
        }
        CompareTcp(kernel.AsSpan(20), ours.AsSpan(20), PseudoV4(ours));
    }

    private static void CompareIpv6(byte[] kernel, byte[] ours, byte protocol)
    {
        bool icmp = protocol == L4Protocol.Icmpv6;

        // Version and traffic class (0). The flow label of an ICMPv6 error is the auto flow label
        // (ip6_make_flowlabel: a hash of the flow keyed at boot), unknowable; the RST's is 0.
        uint kFirst = BinaryPrimitives.ReadUInt32BigEndian(kernel), oFirst = BinaryPrimitives.ReadUInt32BigEndian(ours);
        Assert.Equal(kFirst >> 20, oFirst >> 20);
        if (!icmp)
            Assert.Equal(kFirst, oFirst);
        Assert.Equal(kernel[4..40], ours[4..40]); // payload length, next header, hop limit, addresses
        if (icmp)
        {
            Assert.Equal(kernel[40..], ours[40..]); // type, code, checksum, the quoted packet
            return;
        }
        CompareTcp(kernel.AsSpan(40), ours.AsSpan(40), PseudoV6(ours));
    }

    /// <summary>
    /// Ports, seq, ack, offset, flags, window, urgent pointer equal. The checksum: nf_reject_ip_tcphdr_put
    /// leaves CHECKSUM_PARTIAL (the pseudo-header sum for the device to finish), and a veth never finishes
    /// it, so tcpdump saw that partial value; ours is the complete checksum, which must verify and agree
    /// with it (the same pseudo-header).
    /// </summary>
    private static void CompareTcp(ReadOnlySpan<byte> kernel, ReadOnlySpan<byte> ours, uint pseudo)
    {
        Assert.Equal(kernel[..16].ToArray(), ours[..16].ToArray());
        Assert.Equal(kernel[18..20].ToArray(), ours[18..20].ToArray());
        Assert.Equal(0xFFFF, Fold(ours, pseudo));
        ushort k = BinaryPrimitives.ReadUInt16BigEndian(kernel[16..]);
        if (Fold(kernel, pseudo) != 0xFFFF)
            Assert.Equal((ushort)Fold([], pseudo), k);
    }

    private static uint PseudoV4(byte[] ip)
    {
        uint s = 0;
        for (int i = 12; i < 20; i += 2)
            s += BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(i));
        return s + ip[9] + (uint)(BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(2)) - 20);
    }

    private static uint PseudoV6(byte[] ip)
    {
        uint s = 0;
        for (int i = 8; i < 40; i += 2)
            s += BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(i));
        return s + ip[6] + BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(4));
    }

    /// <summary>The one's-complement sum of 16-bit words (RFC 1071), folded, starting from <paramref name="sum"/>.</summary>
    private static int Fold(ReadOnlySpan<byte> data, uint sum)
    {
        ulong acc = sum;
        for (int i = 0; i + 1 < data.Length; i += 2)
            acc += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if ((data.Length & 1) != 0)
            acc += (uint)data[^1] << 8;
        while (acc >> 16 != 0)
            acc = (acc & 0xFFFF) + (acc >> 16);
        return (int)acc;
    }
}
