using System.Buffers.Binary;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Readers;
using TraceReplay.Netfilter.Reject;
using TraceReplay.Replay.Correlate;
using TraceReplay.Replay.Pipeline;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Replay.Fidelity;

/// <summary>
/// The host's own replies (NfHost.LocalReply) against the kernel's: home-router and ipv6-host hold the
/// echo replies the kernel's icmp_reply / icmpv6_echo_reply sent (their other host-made errors are
/// REJECT's). Each must be a packet the simulation generated —
/// its captured copy an observation of it, never a new packet at OUTPUT — and equal to it field by
/// field, except the IPv4 id (ip_select_ident: a hash keyed at boot) and the IPv6 flow label (the auto
/// flow label, keyed likewise), which cannot be known offline.
/// </summary>
public sealed class LocalReplyKernelTests
{
    public static TheoryData<string> Scenarios() => ["home-router", "ipv6-host"];

    private static bool IsHostReply(in DecodedPacket d) =>
        d.HasIp && ((d.Protocol == L4Protocol.Icmp && d.IcmpType == 0) || (d.Protocol == L4Protocol.Icmpv6 && d.IcmpType == 129)
            || (d.Protocol == L4Protocol.Icmpv6 && d.IcmpType == 1 && d.IcmpCode == 4));

    private static List<(byte[] Frame, DecodedPacket Packet)> Frames(string scenario)
    {
        var list = new List<(byte[], DecodedPacket)>();
        using var reader = CaptureFile.Open(Path.Combine(Corpus.Root, "datasets", scenario, "captures", "any.pcap"));
        while (reader.MoveNext())
        {
            PacketDecoder.Decode(reader.Data, reader.Current.LinkType, reader.Current.WireLength, out var d);
            list.Add((reader.Data.ToArray(), d));
        }
        return list;
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void The_hosts_own_replies_are_generated_and_equal_the_kernels(string scenario)
    {
        var (_, rows, _) = FidelityScenarioTests.Replay(scenario);
        var frames = Frames(scenario);
        var generated = rows.Where(r => r.S.Handling == SightingHandling.Generated && r.S.Generated!.By != NfGeneratedBy.Reject)
            .ToDictionary(r => r.S.Sighting.PacketId);
        Assert.NotEmpty(generated);
        int compared = 0;
        foreach (var o in rows.Where(r => r.S.Handling == SightingHandling.Observation && generated.ContainsKey(r.S.Sighting.PacketId)))
        {
            var g = generated[o.S.Sighting.PacketId];
            var (frame, d) = frames[(int)o.S.SightingNumber - 1];
            byte[] kernel = frame.AsSpan(d.L3Offset, d.IpTotalLength).ToArray();
            byte[] ours = g.Bytes!;
            Assert.Equal(kernel.Length, ours.Length);
            if (d.IsIpv4)
            {
                Assert.Equal(kernel[..4], ours[..4]); // version, ihl, TOS (the request's, icmp_reply), tot_len
                Assert.Equal(kernel[6..10], ours[6..10]); // no DF (IP_PMTUDISC_DONT), TTL ip_default_ttl, protocol
                Assert.Equal(kernel[12..20], ours[12..20]); // the request's destination as source, its source as destination
                Assert.Equal(kernel[20..], ours[20..]); // the ICMP message: type 0, code, checksum, id, sequence, data
            }
            else
            {
                Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(kernel) >> 20, BinaryPrimitives.ReadUInt32BigEndian(ours) >> 20); // version, traffic class
                Assert.Equal(kernel[4..], ours[4..]); // payload length, next header, hop limit, addresses, the ICMPv6 message
            }
            compared++;
        }

        // None of the host's own replies in the capture entered OUTPUT as a packet the host made on its own.
        Assert.True(compared > 0);
        Assert.DoesNotContain(rows, r => r.S.Handling == SightingHandling.Simulated && r.S.Sighting.Kind == EntryKind.LocallyGenerated && IsHostReply(r.P));
    }
}
