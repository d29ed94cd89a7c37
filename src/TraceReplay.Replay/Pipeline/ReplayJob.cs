using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;
using TraceReplay.Capture;
using TraceReplay.Host;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Reject;
using TraceReplay.Netfilter.Routing;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Replay.Correlate;

namespace TraceReplay.Replay.Pipeline;

/// <summary>What the replay did with one sighting.</summary>
public enum SightingHandling : byte
{
    /// <summary>Entered the simulated host (received on an interface, or sent by the host): see the hook result.</summary>
    Simulated,

    /// <summary>A later sighting of a packet that entered earlier: an observation, not an input.</summary>
    Observation,

    /// <summary>Not IP (ARP, LLDP…): the bridge and ARP are not simulated yet.</summary>
    NotIp,

    /// <summary>A frame a bridge forwards between its ports without handing it up to IP: the bridge is not simulated yet.</summary>
    BridgedNotSimulated,

    /// <summary>First seen leaving a bridge port: made inside the bridge path (br_netfilter's REJECT sends its reply straight out of the port), not through OUTPUT.</summary>
    MadeOnBridgePort,

    /// <summary>No direction known (plain Ethernet without the interface's MAC in link.json): not simulated.</summary>
    UnknownDirection,

    /// <summary>
    /// Made by the simulated host in answer to the sighting before it (REJECT's RST or ICMP error):
    /// not in any capture, its row has a negative <see cref="ReplayedSighting.SightingNumber"/>, its
    /// out device as capture point, and its own hook result.
    /// </summary>
    Generated,
}

/// <summary>One sighting and its fate: the unit a sink receives.</summary>
public readonly struct ReplayedSighting(long sightingNumber, Sighting sighting, SightingHandling handling, string point, PacketDirection direction, long timeNs, NfHookResult result)
{
    public long SightingNumber { get; } = sightingNumber;
    public Sighting Sighting { get; } = sighting;
    public SightingHandling Handling { get; } = handling;
    public string Point { get; } = point;
    public PacketDirection Direction { get; } = direction;
    public long TimeNs { get; } = timeNs;

    /// <summary>The hook graph's result; meaningful when <see cref="Handling"/> is <see cref="SightingHandling.Simulated"/> or <see cref="SightingHandling.Generated"/>.</summary>
    public NfHookResult Result { get; } = result;

    /// <summary>For a <see cref="SightingHandling.Generated"/> row, the packet the host made (its bytes); the host reuses it after this call.</summary>
    public NfGeneratedPacket? Generated { get; init; }
}

/// <summary>Where the replay's rows go (the run database, a test's list, nothing).</summary>
public interface IReplaySink
{
    void Add(in ReplayedSighting sighting, in DecodedPacket packet);
}

/// <summary>What one capture file held: a row of the run database's `captures`.</summary>
public sealed record CaptureFileSummary(string Path, string? Interface, string Format, string LinkTypes, long Packets, long FirstNs, long LastNs);

/// <summary>Counts of a finished replay.</summary>
public sealed record ReplaySummary(long Sightings, long Packets, long Simulated, long Observations, long NotIp, long BridgedNotSimulated, long MadeOnBridgePort, long UnknownDirection)
{
    /// <summary>Packets the simulated host made (REJECT's replies); not sightings, but counted in <see cref="Packets"/>.</summary>
    public long Generated { get; init; }

    public IReadOnlyList<CaptureFileSummary> Captures { get; init; } = [];
}

/// <summary>
/// The main job's pipeline, stage by stage as Suricata names them: receive (capture files merged by
/// time) → correlate (each real packet enters once, SightingCorrelator) → the simulated host (NfHost's
/// hook graph) → the sink. A packet that arrives on a bridge port addressed to the bridge enters IP on
/// the bridge device with --physdev-in set to the port, as br_netfilter with bridge-nf-call-iptables
/// runs iptables PREROUTING once for it (ip_sabotage_in stops a second run). Nothing is allocated per
/// packet: the frame is copied into one reused buffer for the hooks to rewrite.
/// </summary>
public sealed class ReplayJob(HostSnapshot snapshot, NfHost host, long windowNs = SightingCorrelator.DefaultWindowNs)
{
    private readonly InterfaceTable _interfaces = new(snapshot.Network.Devices.Select(d => new HostInterface(d.IfIndex, d.Name, d.Mac, d.Master, d.Kind)));

    public NfHost Host => host;

    /// <summary>`--trace`: the sink for the table steps of the packets it chooses; null traces nothing.</summary>
    public IReplayTraceSink? Trace { get; init; }

    /// <summary>Stop once a packet with a larger id appears (`trace` re-runs a replay up to one packet).</summary>
    public long StopAfterPacket { get; init; } = long.MaxValue;

    public ReplaySummary Run(IReadOnlyList<CaptureSource> captures, IReplaySink sink, BadRecordPolicy policy = BadRecordPolicy.Stop)
    {
        ArgumentNullException.ThrowIfNull(captures);
        ArgumentNullException.ThrowIfNull(sink);
        using var stream = new PacketStream(captures, _interfaces, policy);
        var correlator = new SightingCorrelator(windowNs);
        byte[] buffer = new byte[65536 + 256];
        long sightings = 0, generated = 0, simulated = 0, observations = 0, notIp = 0, bridged = 0, madeOnPort = 0, unknown = 0;
        var perFile = new (long Packets, long FirstNs, long LastNs)[captures.Count];
        while (stream.MoveNext())
        {
            sightings++;
            var rec = stream.Record;
            ref var file = ref perFile[stream.Source];
            file.FirstNs = file.Packets == 0 ? rec.TimestampNs : Math.Min(file.FirstNs, rec.TimestampNs);
            file.LastNs = Math.Max(file.LastNs, rec.TimestampNs);
            file.Packets++;
            var packet = stream.Packet;
            var frame = stream.Frame;
            string point = stream.Points.Name(stream.Point);
            var direction = stream.Direction;
            var s = correlator.Classify(packet, frame, stream.Point, direction, rec.TimestampNs);
            if (s.PacketId > StopAfterPacket)
                break;
            SightingHandling handling;
            NfHookResult result = default;
            if (s.Role == SightingRole.Observation)
            {
                handling = SightingHandling.Observation;
            }
            else if (!packet.HasIp)
            {
                handling = SightingHandling.NotIp;
            }
            else
            {
                var dev = _interfaces.ByName(point);
                if (buffer.Length < frame.Length)
                    buffer = new byte[frame.Length];
                frame.CopyTo(buffer);
                var span = buffer.AsSpan(0, frame.Length);
                var trace = Trace is { } t && t.BeginPacket(s.PacketId) ? t : null;
                handling = s.Kind switch
                {
                    EntryKind.Received => Receive(span, ref packet, point, dev, rec.TimestampNs, ref result, trace),
                    EntryKind.LocallyGenerated => Send(span, ref packet, point, dev, rec.TimestampNs, ref result, trace),
                    _ => SightingHandling.UnknownDirection,
                };
            }
            switch (handling)
            {
                case SightingHandling.Simulated: simulated++; break;
                case SightingHandling.Observation: observations++; break;
                case SightingHandling.NotIp: notIp++; break;
                case SightingHandling.BridgedNotSimulated: bridged++; break;
                case SightingHandling.MadeOnBridgePort: madeOnPort++; break;
                default: unknown++; break;
            }
            sink.Add(new ReplayedSighting(sightings, s, handling, point, direction, rec.TimestampNs, result), packet);
            if (handling == SightingHandling.Simulated && result.Generated is { } gen)
                AddGenerated(gen, correlator, sink, ++generated);
        }
        var files = captures.Select((c, i) => new CaptureFileSummary(c.Path, c.Interface, CaptureFormats.Name(stream.Readers[i].Format),
            string.Join(",", stream.Readers[i].Interfaces.Select(x => LinkTypes.Name(x.LinkType)).Distinct()), perFile[i].Packets, perFile[i].FirstNs, perFile[i].LastNs)).ToList();
        return new ReplaySummary(sightings, correlator.Packets, simulated, observations, notIp, bridged, madeOnPort, unknown) { Captures = files, Generated = generated };
    }

    /// <summary>REJECT's reply as a row of its own (numbered -1, -2, … so captured rows keep their frame numbers); its captured copy will be an observation of it.</summary>
    private static void AddGenerated(NfGeneratedPacket gen, SightingCorrelator correlator, IReplaySink sink, long number)
    {
        var s = correlator.Expect(gen.Packet, gen.Frame, gen.TimeNs);
        sink.Add(new ReplayedSighting(-number, s, SightingHandling.Generated, gen.OutDev ?? string.Empty, PacketDirection.Outgoing, gen.TimeNs, gen.Result) { Generated = gen }, gen.Packet);
    }

    private SightingHandling Receive(Span<byte> frame, ref DecodedPacket packet, string point, HostInterface? dev, long timeNs, ref NfHookResult result, IIptTraceSink? trace = null)
    {
        string l3 = point;
        string? physIn = null;
        if (dev?.Master is { } bridge)
        {
            // SLL2 keeps no destination MAC; its packet type says whether the frame was for the host (the bridge's address).
            bool toBridge = (packet.Layers & Layers.Link) != 0 && packet.DstMac.Value != 0
                ? _interfaces.ByName(bridge)?.Mac == packet.DstMac
                : packet.LinkPacketType == 0;
            bool callsIptables = packet.IsIpv4 ? snapshot.Network.Sysctls.BridgeNfCallIptables : snapshot.Network.Sysctls.BridgeNfCallIp6tables;
            if (!toBridge)
                return SightingHandling.BridgedNotSimulated;
            (l3, physIn) = (bridge, callsIptables ? point : null);
        }
        var type = (PacketType)Math.Min(packet.LinkPacketType, (byte)PacketType.OtherHost);
        result = host.Receive(frame, ref packet, new NfIngress(l3, timeNs, type, physIn), trace);
        return SightingHandling.Simulated;
    }

    private SightingHandling Send(Span<byte> frame, ref DecodedPacket packet, string point, HostInterface? dev, long timeNs, ref NfHookResult result, IIptTraceSink? trace = null)
    {
        if (dev?.Master is not null)
            return SightingHandling.MadeOnBridgePort;
        // Multicast leaves by the interface its socket chose (IP_MULTICAST_IF): the one it was captured on.
        bool multicast = packet.IsIpv4 ? (packet.Dst.V4 >> 28) == 0xE : (packet.Dst.Hi >> 56) == 0xFF;
        result = host.Output(frame, ref packet, new NfEgress(timeNs, BoundDev: multicast ? point : null), trace);
        return SightingHandling.Simulated;
    }
}
