using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;
using TraceReplay.Capture;
using TraceReplay.Host;
using TraceReplay.Netfilter.Bridge;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Reject;
using TraceReplay.Netfilter.Routing;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Replay.Correlate;
using TraceReplay.Replay.Fidelity;

namespace TraceReplay.Replay.Pipeline;

/// <summary>What the replay did with one sighting.</summary>
public enum SightingHandling : byte
{
    /// <summary>Entered the simulated host (received on an interface, or sent by the host): see the hook result.</summary>
    Simulated,

    /// <summary>A later sighting of a packet that entered earlier: an observation, not an input.</summary>
    Observation,

    /// <summary>Not IP (ARP, LLDP…) and not received on a bridge port: ARP is not simulated yet.</summary>
    NotIp,

    /// <summary>No longer produced: bridged frames go through the simulated bridge (kept so the summary's shape stays stable).</summary>
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

/// <summary>
/// One sighting and its fate: the unit a sink receives, valid for the call it is handed to (as an
/// skb is the hook's for the call). A ref struct: the 300-byte hook result stays where the hook graph
/// wrote it and <see cref="Result"/> refers to it, rather than being copied into every row and out of
/// it again by each sink. A sink that keeps rows copies the members it needs.
/// </summary>
public readonly ref struct ReplayedSighting
{
    private static readonly NfHookResult NoResult = default;

    private readonly ref readonly NfHookResult _result;

    /// <summary>A row with no hook result (an observation, a frame that is not IP, one that did not enter).</summary>
    public ReplayedSighting(long sightingNumber, Sighting sighting, SightingHandling handling, string point, PacketDirection direction, long timeNs)
        : this(sightingNumber, sighting, handling, point, direction, timeNs, in NoResult)
    {
    }

    public ReplayedSighting(long sightingNumber, Sighting sighting, SightingHandling handling, string point, PacketDirection direction, long timeNs, ref readonly NfHookResult result)
    {
        SightingNumber = sightingNumber;
        Sighting = sighting;
        Handling = handling;
        Point = point;
        Direction = direction;
        TimeNs = timeNs;
        _result = ref result;
    }

    public long SightingNumber { get; }
    public Sighting Sighting { get; }
    public SightingHandling Handling { get; }
    public string Point { get; }
    public PacketDirection Direction { get; }
    public long TimeNs { get; }

    /// <summary>The hook graph's result; meaningful when <see cref="Handling"/> is <see cref="SightingHandling.Simulated"/> or <see cref="SightingHandling.Generated"/> (all default otherwise).</summary>
    public ref readonly NfHookResult Result => ref _result;

    /// <summary>For a <see cref="SightingHandling.Generated"/> row, the packet the host made (its bytes); the host reuses it after this call.</summary>
    public NfGeneratedPacket? Generated { get; init; }

    /// <summary>This row's observed-versus-predicted outcome when it is known now (an outgoing later sighting); None otherwise.</summary>
    public FidelityOutcome Observed { get; init; }

    /// <summary>The row is a packet's entry whose outcome comes later, through <see cref="IReplaySink.Decide"/>, once its window closed.</summary>
    public bool AwaitsOutcome { get; init; }
}

/// <summary>Where the replay's rows go (the run database, a test's list, nothing).</summary>
public interface IReplaySink
{
    void Add(in ReplayedSighting sighting, in DecodedPacket packet);

    /// <summary>The outcome of the packet whose entry row is sighting <paramref name="sightingNumber"/> (added earlier with AwaitsOutcome), decided when its window closed.</summary>
    void Decide(long sightingNumber, FidelityOutcome outcome)
    {
    }
}

/// <summary>What one capture file held: a row of the run database's `captures`.</summary>
public sealed record CaptureFileSummary(string Path, string? Interface, string Format, string LinkTypes, long Packets, long FirstNs, long LastNs);

/// <summary>Counts of a finished replay.</summary>
public sealed record ReplaySummary(long Sightings, long Packets, long Simulated, long Observations, long NotIp, long BridgedNotSimulated, long MadeOnBridgePort, long UnknownDirection)
{
    /// <summary>Packets the simulated host made (REJECT's replies); not sightings, but counted in <see cref="Packets"/>.</summary>
    public long Generated { get; init; }

    public IReadOnlyList<CaptureFileSummary> Captures { get; init; } = [];

    /// <summary>Observed egress against the prediction (issue 6).</summary>
    public FidelitySummary Fidelity { get; init; } = new(new Dictionary<FidelityOutcome, long>(), []);
}

/// <summary>
/// The main job's pipeline, stage by stage as Suricata names them: receive (capture files merged by
/// time) → correlate (each real packet enters once, SightingCorrelator) → the simulated host (NfHost's
/// hook graph) → the sink. A frame that arrives on a bridge port enters at the bridge (NfHost's
/// br_handle_frame: ebtables, br_netfilter, the FDB), whether it is then bridged to other ports or goes
/// up to IP on the bridge device; non-IP frames (ARP) on a port go through it too, for ebtables and FDB
/// learning. Nothing is allocated per packet: the frame is copied into one reused buffer for the hooks to rewrite.
/// With <see cref="ReceiveThread"/> the receive stage runs on a thread of its own (<see cref="ReceiveStage"/>)
/// and this loop reads its batches: one reader, one ring read in order, one simulation, so the rows are the same.
/// </summary>
public sealed partial class ReplayJob(HostSnapshot snapshot, NfHost host, long windowNs = SightingCorrelator.DefaultWindowNs)
{
    private readonly InterfaceTable _interfaces = new(snapshot.Network.Devices.Select(d => new HostInterface(d.IfIndex, d.Name, d.Mac, d.Master, d.Kind)));

    public NfHost Host => host;

    /// <summary>`--trace`: the sink for the table steps of the packets it chooses; null traces nothing.</summary>
    public IReplayTraceSink? Trace { get; init; }

    /// <summary>Stop once a packet with a larger id appears (`trace` re-runs a replay up to one packet).</summary>
    public long StopAfterPacket { get; init; } = long.MaxValue;

    /// <summary>
    /// Read and decode the captures on a thread of their own (<see cref="ReceiveStage"/>) while this
    /// one simulates: same rows in the same order. Not used with <see cref="StopAfterPacket"/>, where
    /// reading ahead would only be thrown away.
    /// </summary>
    public bool ReceiveThread { get; init; }

    public ReplaySummary Run(IReadOnlyList<CaptureSource> captures, IReplaySink sink, BadRecordPolicy policy = BadRecordPolicy.Stop)
    {
        ArgumentNullException.ThrowIfNull(captures);
        ArgumentNullException.ThrowIfNull(sink);
        using var packets = new PacketStream(captures, _interfaces, policy);
        if (!ReceiveThread || StopAfterPacket != long.MaxValue)
            return Run(captures, packets, new DirectReceive(packets), sink);
        using var staged = new ReceiveStage(packets);
        return Run(captures, packets, new SimulateLoop.Staged(staged), sink);
    }

    /// <summary>
    /// The run over one kind of stream, a struct type argument: each kind gets a loop of its own whose
    /// calls to the stream are direct and inlined, not ten interface calls per sighting.
    /// </summary>
    private ReplaySummary Run<TStream>(IReadOnlyList<CaptureSource> captures, PacketStream packets, TStream stream, IReplaySink sink)
        where TStream : struct, IReceivedPackets
    {
        var correlator = new SightingCorrelator(windowNs);
        var fidelity = new FidelityTracker(Coverage(captures, packets), dev => _interfaces.ByName(dev)?.Master, windowNs);
        var loop = new SimulateLoop(this, correlator, fidelity, sink, captures.Count);
        loop.Run(stream);
        stream.Finish();
        fidelity.Finish(loop.Decided);
        var perFile = loop.PerFile;
        var files = captures.Select((c, i) => new CaptureFileSummary(c.Path, c.Interface, CaptureFormats.Name(packets.Readers[i].Format),
            string.Join(",", packets.Readers[i].Interfaces.Select(x => LinkTypes.Name(x.LinkType)).Distinct()), perFile[i].Packets, perFile[i].FirstNs, perFile[i].LastNs)).ToList();
        return new ReplaySummary(loop.Sightings, correlator.Packets, loop.Simulated, loop.Observations, loop.NotIp, loop.Bridged, loop.MadeOnPort, loop.Unknown)
        {
            Captures = files, Generated = loop.Generated, Fidelity = fidelity.Summary(),
        };
    }

    /// <summary>
    /// The interfaces the captures cover: every one when a file was taken with `tcpdump -i any` (a
    /// cooked capture bound to no interface), else the files' bound interfaces and pcapng interface
    /// names (and, as the run goes, every interface a sighting names).
    /// </summary>
    private static FidelityCoverage Coverage(IReadOnlyList<CaptureSource> captures, PacketStream stream)
    {
        bool any = false;
        var names = new List<string>();
        for (int i = 0; i < captures.Count; i++)
        {
            if (captures[i].Interface is { } bound)
            {
                names.Add(bound);
                continue;
            }
            foreach (var itf in stream.Readers[i].Interfaces)
            {
                if (itf.LinkType is LinkType.LinuxSll or LinkType.LinuxSll2 && itf.Name is not { Length: > 0 })
                    any = true;
                else if (itf.Name is { Length: > 0 } n)
                    names.Add(n == "any" ? string.Empty : n);
                if (itf.Name == "any")
                    any = true;
            }
        }
        return new FidelityCoverage(any, names);
    }

    /// <summary>
    /// eth_type_trans: the packet type of a frame received on <paramref name="dev"/> from its destination
    /// MAC — broadcast, multicast, for this interface's address, or for another host. Without the
    /// interface's address (not in link.json) a unicast frame is taken as addressed to it.
    /// </summary>
    internal static PacketType EthTypeTrans(in DecodedPacket packet, HostInterface? dev)
    {
        ulong dst = packet.DstMac.Value;
        if ((packet.Layers & Layers.Link) == 0)
            return PacketType.Host;
        if ((dst >> 40 & 1) != 0)
            return dst == 0xFFFF_FFFF_FFFFUL ? PacketType.Broadcast : PacketType.Multicast;
        return dev?.Mac is { } mac && mac != packet.DstMac ? PacketType.OtherHost : PacketType.Host;
    }

    /// <summary>
    /// Each capture point's interface of link.json and bridge port, looked up by name once per run
    /// instead of hashing the name for every packet (point ids are the run's PacketStream's, so the
    /// table lives for one run). Grows only when a new interface appears.
    /// </summary>
    private sealed class PointDevices(InterfaceTable interfaces, BridgeDecision bridges)
    {
        public struct Entry
        {
            public bool Known;
            public HostInterface? Dev;
            public BrPort? Port;
        }

        private Entry[] _points = new Entry[16];

        public ref readonly Entry Of(int point, string name)
        {
            if (point >= _points.Length)
                Array.Resize(ref _points, Math.Max(point + 1, _points.Length * 2));
            ref var e = ref _points[point];
            if (!e.Known)
                e = new Entry { Known = true, Dev = interfaces.ByName(name), Port = bridges.Port(name) };
            return ref e;
        }
    }
}
