using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;
using TraceReplay.Capture;
using TraceReplay.Replay.Correlate;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Replay;

/// <summary>
/// Sightings of one packet at several capture points are recognised as one packet. Expectations come
/// from how the docker-host dataset was recorded (datasets/docker-host/record.sh: a container
/// 172.17.0.2 on bridge docker0 through port veth1, uplink eth0 198.51.100.1 with MASQUERADE, a
/// published port 8080 → 172.17.0.2:80, `tcpdump -i any`) and from NETFILTER.md's table of what such a
/// capture shows.
/// </summary>
public sealed class SightingCorrelatorTests(ITestOutputHelper output)
{
    private sealed record Seen(string Point, PacketDirection Direction, DecodedPacket Packet, Sighting Sighting);

    private static List<Seen> ReplayDockerHost()
    {
        string dir = Path.Combine(Corpus.Root, "datasets", "docker-host");
        var host = InterfaceTable.Load(Path.Combine(dir, "snapshot", "link.json"));
        using var stream = new PacketStream([CaptureSource.Parse(Path.Combine(dir, "captures", "any.pcap"))], host);
        var correlator = new SightingCorrelator();
        var seen = new List<Seen>();
        while (stream.MoveNext())
        {
            var s = correlator.Classify(stream.Packet, stream.Frame, stream.Point, stream.Direction, stream.Record.TimestampNs);
            seen.Add(new Seen(stream.Points.Name(stream.Point), stream.Direction, stream.Packet, s));
        }
        return seen;
    }

    private static bool Is(Seen s, string point, PacketDirection d) => s.Point == point && s.Direction == d;

    [Fact]
    public void A_container_packet_is_one_packet_on_the_port_the_bridge_and_the_uplink()
    {
        var seen = ReplayDockerHost();
        var groups = seen.GroupBy(s => s.Sighting.PacketId).ToDictionary(g => g.Key, g => g.ToList());
        output.WriteLine($"{seen.Count} sightings, {groups.Count} packets; sightings per packet: " +
            string.Join(", ", groups.Values.GroupBy(g => g.Count).OrderBy(x => x.Key).Select(x => $"{x.Key}: {x.Count()}")));

        // Container → outside (TCP to 203.0.113.9:80): seen on veth1 (in), docker0 (in, handed up to IP)
        // and eth0 (out, after MASQUERADE), entering on veth1.
        var fromContainer = seen.Where(s => Is(s, "veth1", PacketDirection.Incoming) && s.Packet.Protocol == L4Protocol.Tcp
            && s.Packet.Dst == IpAddr.Parse("203.0.113.9") && s.Packet.DstPort == 80).ToList();
        output.WriteLine($"container TCP segments to 203.0.113.9:80 entering on veth1: {fromContainer.Count}");
        Assert.NotEmpty(fromContainer);
        foreach (var s in fromContainer)
        {
            Assert.Equal(SightingRole.Entry, s.Sighting.Role);
            Assert.Equal(EntryKind.Received, s.Sighting.Kind);
            var g = groups[s.Sighting.PacketId];
            Assert.Contains(g, x => Is(x, "docker0", PacketDirection.Incoming));
            var up = Assert.Single(g, x => Is(x, "eth0", PacketDirection.Outgoing));
            Assert.Equal(IpAddr.Parse("198.51.100.1"), up.Packet.Src); // MASQUERADE changed the source…
            Assert.Equal(s.Packet.TcpSeq, up.Packet.TcpSeq); // …and kept the segment
            Assert.Equal(3, g.Count);
        }

        // Outside → published port 8080: seen on eth0 (in), then leaving docker0 and veth1 DNATed to 172.17.0.2:80.
        var published = seen.Where(s => Is(s, "eth0", PacketDirection.Incoming) && s.Packet.Protocol == L4Protocol.Tcp && s.Packet.DstPort == 8080).ToList();
        output.WriteLine($"segments to the published port 8080 entering on eth0: {published.Count}");
        Assert.NotEmpty(published);
        foreach (var s in published)
        {
            Assert.Equal(SightingRole.Entry, s.Sighting.Role);
            var g = groups[s.Sighting.PacketId];
            var toContainer = Assert.Single(g, x => Is(x, "veth1", PacketDirection.Outgoing));
            Assert.Equal((IpAddr.Parse("172.17.0.2"), (ushort)80), (toContainer.Packet.Dst, toContainer.Packet.DstPort));
            Assert.Contains(g, x => Is(x, "docker0", PacketDirection.Outgoing));
        }
    }

    [Fact]
    public void The_hosts_own_replies_enter_as_locally_generated_and_nothing_is_seen_twice_at_one_point()
    {
        var seen = ReplayDockerHost();
        // record.sh pings the host's uplink address from the outside namespace: the echo replies are made
        // by the host and seen only leaving eth0.
        var replies = seen.Where(s => Is(s, "eth0", PacketDirection.Outgoing) && s.Packet.Protocol == L4Protocol.Icmp && s.Packet.IcmpType == 0
            && s.Packet.Src == IpAddr.Parse("198.51.100.1") && s.Packet.Dst == IpAddr.Parse("198.51.100.2")).ToList();
        Assert.NotEmpty(replies);
        Assert.All(replies, s => Assert.Equal((SightingRole.Entry, EntryKind.LocallyGenerated), (s.Sighting.Role, s.Sighting.Kind)));

        foreach (var g in seen.GroupBy(s => s.Sighting.PacketId))
        {
            Assert.Equal(1, g.Count(s => s.Sighting.Role == SightingRole.Entry));
            Assert.Equal(g.Count(), g.Select(s => (s.Point, s.Direction)).Distinct().Count());
        }
    }

    [Fact]
    public void A_retransmission_at_the_same_point_is_a_new_packet()
    {
        byte[] frame = Frames.TcpV4("10.0.0.1", 40000, "10.0.0.2", 80);
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        var c = new SightingCorrelator();
        var first = c.Classify(d, frame, 1, PacketDirection.Incoming, 1_000);
        var again = c.Classify(d, frame, 1, PacketDirection.Incoming, 2_000); // same bytes, same point: a second packet
        var later = c.Classify(d, frame, 2, PacketDirection.Outgoing, 3_000); // another point: the second packet seen leaving
        var stale = c.Classify(d, frame, 3, PacketDirection.Outgoing, 3_000 + SightingCorrelator.DefaultWindowNs + 1);
        Assert.Equal(SightingRole.Entry, first.Role);
        Assert.Equal((SightingRole.Entry, first.PacketId + 1), (again.Role, again.PacketId));
        Assert.Equal((SightingRole.Observation, again.PacketId), (later.Role, later.PacketId));
        Assert.Equal(SightingRole.Entry, stale.Role); // beyond the window: not the same packet
        Assert.Equal(EntryKind.LocallyGenerated, stale.Kind);
    }

    [Fact]
    public void Identical_frames_repeating_within_the_window_keep_the_expiry_queue_bounded()
    {
        // The same frame at the same point every 50 ms (a loop or a storm): each is a new packet (same
        // point), replacing the group of the one before under the same fingerprint. The window is
        // 100 ms, so at most three groups' entries (the live group and two replaced ones not yet due)
        // can be queued at once; 20,000 repeats must not leave 20,000 entries.
        byte[] frame = Frames.UdpV4("10.0.0.1", 5353, "224.0.0.251", 5353);
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        var c = new SightingCorrelator(windowNs: 100_000_000);
        long maxQueued = 0;
        for (int i = 0; i < 20_000; i++)
        {
            var s = c.Classify(d, frame, 1, PacketDirection.Incoming, i * 50_000_000L);
            Assert.Equal((SightingRole.Entry, (long)i + 1), (s.Role, s.PacketId));
            maxQueued = Math.Max(maxQueued, c.QueuedForExpiry);
        }
        Assert.InRange(maxQueued, 1, 3);
    }

    [Fact]
    public void Classifying_allocates_nothing_once_the_window_is_warm()
    {
        byte[] frame = Frames.TcpV4("10.0.0.1", 40000, "10.0.0.2", 80);
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        var c = new SightingCorrelator(windowNs: 1_000);
        long t = 0;
        void Round()
        {
            for (int i = 0; i < 10_000; i++)
            {
                var p = d;
                p.IpId = (uint)(i & 0xFFFF);
                c.Classify(p, frame, 1, PacketDirection.Incoming, t += 100);
            }
        }
        Round();
        Assert.Equal(0, Allocations.Quietest(Round));
    }

    [Fact]
    public void A_reply_the_host_made_is_matched_by_its_captured_copy_whatever_its_ip_id()
    {
        // An ICMP port unreachable as __icmp_send makes it: the kernel's IPv4 id is a keyed hash, so the
        // simulated one (0) and the captured one differ; the copy leaving the host is still that packet.
        static (byte[] Frame, DecodedPacket Packet) Error(ushort id)
        {
            byte[] f = new byte[20 + 8 + 28];
            f[0] = 0x45; f[3] = (byte)f.Length; f[4] = (byte)(id >> 8); f[5] = (byte)id; f[8] = 64; f[9] = 1;
            f[12] = 198; f[13] = 51; f[14] = 100; f[15] = 1; f[16] = 198; f[17] = 51; f[18] = 100; f[19] = 2;
            f[20] = 3; f[21] = 3;
            f[28] = 0x45; f[31] = 28; f[36] = 64; f[37] = 17;
            PacketDecoder.Decode(f, LinkType.Raw, f.Length, out var d);
            return (f, d);
        }
        var correlator = new SightingCorrelator();
        var made = Error(0);
        var entry = correlator.Expect(made.Packet, made.Frame, 1_000_000);
        Assert.Equal((SightingRole.Entry, EntryKind.Generated), (entry.Role, entry.Kind));

        var copy = Error(0x4b1d);
        var seen = correlator.Classify(copy.Packet, copy.Frame, 0, PacketDirection.Outgoing, 1_050_000);
        Assert.Equal((SightingRole.Observation, EntryKind.Generated, entry.PacketId), (seen.Role, seen.Kind, seen.PacketId));

        // The same message arriving from outside is not the host's reply; nor is a copy after the window.
        Assert.Equal(SightingRole.Entry, correlator.Classify(copy.Packet, copy.Frame, 1, PacketDirection.Incoming, 1_060_000).Role);
        var late = new SightingCorrelator();
        late.Expect(made.Packet, made.Frame, 0);
        Assert.Equal(EntryKind.LocallyGenerated, late.Classify(copy.Packet, copy.Frame, 0, PacketDirection.Outgoing, SightingCorrelator.DefaultWindowNs + 1).Kind);
    }
}
