using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;
using TraceReplay.Host;
using TraceReplay.Host.Iptables;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Reject;
using TraceReplay.Replay.Correlate;
using TraceReplay.Replay.Pipeline;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Replay;

/// <summary>
/// The pipeline end to end on the bundled docker-host dataset (datasets/docker-host/record.sh): the
/// `tcpdump -i any` capture, every sighting correlated, each packet entering the simulated host once,
/// and the simulated counters of every rule and policy equal to the kernel's own `iptables-save -c`.
/// </summary>
public sealed class ReplayJobTests
{
    private sealed class ListSink : IReplaySink
    {
        public List<(KeptSighting Sighting, DecodedPacket Packet)> Rows { get; } = [];

        public void Add(in ReplayedSighting sighting, in DecodedPacket packet) => Rows.Add((new KeptSighting(sighting), packet));
    }

    private static string Dir => Path.Combine(Corpus.Root, "datasets", "docker-host");

    [Fact]
    public void Docker_host_counters_equal_the_kernels_through_the_pipeline()
    {
        var snapshot = HostSnapshot.Load(Path.Combine(Dir, "snapshot"));
        // conntrack.txt is the table when the capture started (record.sh): the replay starts from it.
        var host = NfHost.Create(snapshot);
        var sink = new ListSink();
        var summary = new ReplayJob(snapshot, host).Run([CaptureSource.Parse(Path.Combine(Dir, "captures", "any.pcap"))], sink);

        var (differ, compared) = CounterComparison.Compare(host, IptablesParser.Load(Path.Combine(Dir, "kernel", "iptables-save-c.rules")));
        Assert.Equal(29, compared); // filter: 3 policies + 17 rules; nat: 4 policies + 5 rules
        Assert.Empty(differ);

        // 186 sightings (`tcpdump -r any.pcap | wc -l`); each packet is simulated at most once.
        Assert.Equal(186, summary.Sightings);
        Assert.Equal(summary.Sightings, summary.Simulated + summary.Observations + summary.NotIp + summary.BridgedNotSimulated + summary.MadeOnBridgePort + summary.UnknownDirection);
        // Real packets: every sighting that is not a later sighting, plus each reply the host made (its captured copy is an observation).
        Assert.Equal(summary.Sightings - summary.Observations + summary.Generated, summary.Packets);
        Assert.Equal(0, summary.UnknownDirection); // SLL2 says the direction of every record
        Assert.Equal(0, summary.BridgedNotSimulated); // frames between the containers go through the simulated bridge
        var simulatedIds = sink.Rows.Where(r => r.Sighting.Handling == SightingHandling.Simulated).Select(r => r.Sighting.Sighting.PacketId).ToList();
        Assert.Equal(simulatedIds.Count, simulatedIds.Distinct().Count());

        // The REJECT of SMTP (DOCKER-USER:1) answers with a RST that nf_send_reset sends straight out of
        // veth1, the bridge port the SYN came in by (nf_bridge_get_physindev), past OUTPUT and POSTROUTING:
        // tcpdump saw it leave ifindex 2 (veth1) only, 52 µs after the SYN, and never on docker0.
        var smtp = Assert.Single(sink.Rows, r => r.Sighting.Handling == SightingHandling.Simulated && r.Packet.DstPort == 25);
        Assert.Equal("filter:DOCKER-USER:rule:1", smtp.Sighting.Result.DropDescription());
        var rst = Assert.Single(sink.Rows, r => r.Sighting.Handling == SightingHandling.Generated && r.Sighting.Generated!.By == NfGeneratedBy.Reject);
        Assert.Equal(("veth1", PacketDirection.Outgoing, NfFate.Sent), (rst.Sighting.Point, rst.Sighting.Direction, rst.Sighting.Result.Fate));
        Assert.True(rst.Sighting.SightingNumber < 0);
        Assert.Equal(EntryKind.Generated, rst.Sighting.Sighting.Kind);
        Assert.Equal(0UL, (ulong)rst.Sighting.Result.Path); // dev_queue_xmit: no hook at all
        // The captured RST is that packet seen, not a packet the host made on its own.
        var seen = Assert.Single(sink.Rows, r => r.Sighting.Sighting.PacketId == rst.Sighting.Sighting.PacketId && r.Sighting.Handling == SightingHandling.Observation);
        Assert.Equal(("veth1", PacketDirection.Outgoing), (seen.Sighting.Point, seen.Sighting.Direction));
        Assert.DoesNotContain(sink.Rows, r => r.Sighting.Handling == SightingHandling.MadeOnBridgePort && (r.Packet.TcpFlags & TcpFlags.Rst) != 0);
        // The RST, and the host's 4 echo replies (ping from 198.51.100.2 and from ctr2 to the host; its
        // filter OUTPUT policy counted them, [4:336] = 4 × 84 bytes in kernel/iptables-save-c.rules).
        Assert.Equal(5, summary.Generated);
        Assert.Equal(4, sink.Rows.Count(r => r.Sighting.Handling == SightingHandling.Generated && r.Sighting.Generated!.By == NfGeneratedBy.EchoReply));

        // ctr2 → ctr1 TCP 5000 enters at veth2 and is dropped inside the bridge by DOCKER-USER:2, SYN and retry.
        var blocked = sink.Rows.Where(r => r.Sighting.Handling == SightingHandling.Simulated && r.Packet.DstPort == 5000).ToList();
        Assert.Equal(2, blocked.Count);
        Assert.All(blocked, r => Assert.Equal(("veth2", "filter:DOCKER-USER:rule:2"), (r.Sighting.Point, r.Sighting.Result.DropDescription())));

        // Each frame bridged between the containers entered once, at its input port; its sighting leaving the
        // other port is an observation of the same packet, at the port the simulated bridge sent it to.
        var bridged = sink.Rows.Where(r => r.Sighting.Handling == SightingHandling.Simulated && r.Sighting.Result.Fate == NfFate.Bridged && r.Packet.HasIp).ToList();
        Assert.True(bridged.Count >= 10, $"{bridged.Count} bridged packets");
        foreach (var b in bridged)
        {
            Assert.Contains(b.Sighting.Point, (string[])["veth1", "veth2"]);
            Assert.Contains(sink.Rows, o => o.Sighting.Handling == SightingHandling.Observation && o.Sighting.Sighting.PacketId == b.Sighting.Sighting.PacketId
                && o.Sighting.Point == b.Sighting.Result.PhysOutDev && o.Sighting.Direction == PacketDirection.Outgoing);
        }

        // record.sh listed the kernel's table with `conntrack -L -o extended` right after the traffic
        // (kernel/conntrack-end.txt): the simulated table at the last packet must hold the same connections —
        // tuples after NAT, TCP states, [ASSURED]/[UNREPLIED], marks — apart from the seconds left, which depend
        // on when each listing was made. The connection older than the capture is among them.
        var simulated = new StringWriter();
        TraceReplay.Netfilter.Conntrack.ConntrackList.Dump(host.Conntrack, sink.Rows[^1].Sighting.TimeNs, simulated);
        static string[] WithoutTimeout(string listing) => listing.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"^(\S+\s+\d+\s+\S+\s+\d+)\s+\d+", "$1 N"))
            .Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(WithoutTimeout(File.ReadAllText(Path.Combine(Dir, "kernel", "conntrack-end.txt"))), WithoutTimeout(simulated.ToString()));
    }
}
