using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;
using TraceReplay.Host;
using TraceReplay.Host.Iptables;
using TraceReplay.Netfilter.Hooks;
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
        public List<(ReplayedSighting Sighting, DecodedPacket Packet)> Rows { get; } = [];

        public void Add(in ReplayedSighting sighting, in DecodedPacket packet) => Rows.Add((sighting, packet));
    }

    private static string Dir => Path.Combine(Corpus.Root, "datasets", "docker-host");

    [Fact]
    public void Docker_host_counters_equal_the_kernels_through_the_pipeline()
    {
        var snapshot = HostSnapshot.Load(Path.Combine(Dir, "snapshot"));
        // record.sh took conntrack.txt after the traffic: it is not the table at capture start.
        var host = NfHost.Create(snapshot, new NfHostOptions { LoadConntrack = false });
        var sink = new ListSink();
        var summary = new ReplayJob(snapshot, host).Run([CaptureSource.Parse(Path.Combine(Dir, "captures", "any.pcap"))], sink);

        var (differ, compared) = CounterComparison.Compare(host, IptablesParser.Load(Path.Combine(Dir, "snapshot", "iptables.rules")));
        Assert.Equal(28, compared); // filter: 3 policies + 16 rules; nat: 4 policies + 5 rules
        Assert.Empty(differ);

        // 128 sightings (capinfo) are 66 packets; each is simulated at most once.
        Assert.Equal(128, summary.Sightings);
        Assert.Equal(66, summary.Packets);
        Assert.Equal(summary.Sightings, summary.Simulated + summary.Observations + summary.NotIp + summary.BridgedNotSimulated + summary.MadeOnBridgePort + summary.UnknownDirection);
        Assert.Equal(0, summary.UnknownDirection); // SLL2 says the direction of every record
        var simulatedIds = sink.Rows.Where(r => r.Sighting.Handling == SightingHandling.Simulated).Select(r => r.Sighting.Sighting.PacketId).ToList();
        Assert.Equal(simulatedIds.Count, simulatedIds.Distinct().Count());

        // The REJECT of SMTP (DOCKER-USER:1) answers with a RST that nf_send_reset sends straight out of
        // veth1, the bridge port the SYN came in by (nf_bridge_get_physindev), past OUTPUT and POSTROUTING:
        // tcpdump saw it leave ifindex 2 (veth1) only, 52 µs after the SYN, and never on docker0.
        var smtp = Assert.Single(sink.Rows, r => r.Sighting.Handling == SightingHandling.Simulated && r.Packet.DstPort == 25);
        Assert.Equal("filter:DOCKER-USER:rule:1", smtp.Sighting.Result.DropDescription());
        var rst = Assert.Single(sink.Rows, r => r.Sighting.Handling == SightingHandling.Generated);
        Assert.Equal(("veth1", PacketDirection.Outgoing, NfFate.Sent), (rst.Sighting.Point, rst.Sighting.Direction, rst.Sighting.Result.Fate));
        Assert.True(rst.Sighting.SightingNumber < 0);
        Assert.Equal(EntryKind.Generated, rst.Sighting.Sighting.Kind);
        Assert.Equal(0UL, (ulong)rst.Sighting.Result.Path); // dev_queue_xmit: no hook at all
        // The captured RST is that packet seen, not a packet the host made on its own.
        var seen = Assert.Single(sink.Rows, r => r.Sighting.Sighting.PacketId == rst.Sighting.Sighting.PacketId && r.Sighting.Handling == SightingHandling.Observation);
        Assert.Equal(("veth1", PacketDirection.Outgoing), (seen.Sighting.Point, seen.Sighting.Direction));
        Assert.DoesNotContain(sink.Rows, r => r.Sighting.Handling == SightingHandling.MadeOnBridgePort && (r.Packet.TcpFlags & TcpFlags.Rst) != 0);
        Assert.Equal(1, summary.Generated);

        // record.sh listed the kernel's table with `conntrack -L -o extended` right after the traffic: the
        // simulated table at the last packet must hold the same connections — tuples after NAT, TCP states,
        // [ASSURED]/[UNREPLIED], marks — apart from the seconds left, which depend on when each listing was made.
        var simulated = new StringWriter();
        TraceReplay.Netfilter.Conntrack.ConntrackList.Dump(host.Conntrack, sink.Rows[^1].Sighting.TimeNs, simulated);
        static string[] WithoutTimeout(string listing) => listing.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"^(\S+\s+\d+\s+\S+\s+\d+)\s+\d+", "$1 N"))
            .Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(WithoutTimeout(File.ReadAllText(Path.Combine(Dir, "snapshot", "conntrack.txt"))), WithoutTimeout(simulated.ToString()));
    }
}
