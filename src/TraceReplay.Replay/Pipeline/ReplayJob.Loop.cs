using System.Runtime.CompilerServices;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;
using TraceReplay.Netfilter.Bridge;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Reject;
using TraceReplay.Netfilter.Routing;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Replay.Correlate;
using TraceReplay.Replay.Fidelity;

namespace TraceReplay.Replay.Pipeline;

public sealed partial class ReplayJob
{
    /// <summary>
    /// The simulate stage's state for one run and its work per sighting (<see cref="Step"/>), as
    /// netif_receive_skb is called once per packet by the NAPI poll loop: correlate, hand an entering
    /// packet to the hook graph, check fidelity, hand the row to the sink. The hook result stays in
    /// the frame of the method that received it and goes on by reference; a packet that does not
    /// enter the simulation builds none.
    /// </summary>
    private sealed class SimulateLoop(ReplayJob job, SightingCorrelator correlator, FidelityTracker fidelity, IReplaySink sink, int files)
    {
        private readonly NfHost _host = job.Host;
        private readonly NfConntrackTable _conntrack = job.Host.Conntrack;
        private readonly PointDevices _devices = new(job._interfaces, job.Host.Bridges);
        private readonly IReplayTraceSink? _trace = job.Trace;
        private readonly long _stopAfter = job.StopAfterPacket;
        private byte[] _buffer = new byte[65536 + 256];

        // Sightings ahead of the current one whose conntrack bucket / entry the loop prefetches: a
        // sighting's work (~300 ns and more) apart, so each stage's load has landed before the next reads it.
        private const int PrefetchBucketAhead = 4, PrefetchEntryAhead = 2;

        public Action<long, FidelityOutcome> Decided { get; } = sink.Decide;

        public (long Packets, long FirstNs, long LastNs)[] PerFile { get; } = new (long, long, long)[files];

        public long Sightings, Generated, Simulated, Observations, NotIp, Bridged, MadeOnPort, Unknown;

        /// <summary>
        /// Every sighting of the stream. <see cref="Step"/> is a call per sighting, not this loop's body:
        /// the loop runs once per replay, so its body would only ever run as on-stack-replacement code,
        /// while a method called millions of times tiers up to fully optimised code like any hot method.
        /// </summary>
        public void Run<TStream>(TStream stream)
            where TStream : struct, IReceivedPackets
        {
            while (stream.MoveNext())
            {
                if (!Step(ref stream))
                    break;
                if ((Sightings & HeapCheckMask) == 0)
                    _heap.Check();
            }
        }

        private const long HeapCheckMask = (1 << 20) - 1;
        private HeapTrim _heap = HeapTrim.Start();

        /// <summary>One sighting, in capture order; false when the run stops here (<see cref="StopAfterPacket"/>).</summary>
        public bool Step<TStream>(ref TStream stream)
            where TStream : struct, IReceivedPackets
        {
            long number = ++Sightings;
            ref readonly var rec = ref stream.Record;
            long ns = rec.TimestampNs;
            ref var file = ref PerFile[stream.Source];
            file.FirstNs = file.Packets == 0 ? ns : Math.Min(file.FirstNs, ns);
            file.LastNs = Math.Max(file.LastNs, ns);
            file.Packets++;
            ref readonly var captured = ref stream.Packet;
            var frame = stream.Frame;
            int pointId = stream.Point;
            string point = stream.PointName;
            var direction = stream.Direction;
            if (stream.PeekNextFingerprint(out ulong next))
                correlator.Prefetch(next);
            // The conntrack lookup's chain of misses (bucket → entry), started sightings ahead as a NIC
            // driver prefetch()es descriptors: the bucket of the packet PrefetchBucketAhead on, the entry
            // of the one PrefetchEntryAhead on (its bucket loaded meanwhile). Hints: a packet that turns
            // out to be an observation, or not to meet conntrack, only cost its hash.
            ref readonly var far = ref stream.PeekPacket(PrefetchBucketAhead);
            if (!Unsafe.IsNullRef(in far))
                _conntrack.Prefetch(in far);
            ref readonly var near = ref stream.PeekPacket(PrefetchEntryAhead);
            if (!Unsafe.IsNullRef(in near))
                _conntrack.PrefetchEntry(in near);
            var s = correlator.Classify(stream.Fingerprint, captured, frame, pointId, direction, ns);
            if (s.PacketId > _stopAfter)
                return false;
            fidelity.Advance(ns, Decided);
            if (s.Role == SightingRole.Observation)
            {
                Observations++;
                var observed = FidelityOutcome.None;
                if (captured.HasIp)
                {
                    var seen = NfHost.TupleOf(captured);
                    observed = fidelity.Observe(s.PacketId, point, direction, seen, ns);
                    if (observed == FidelityOutcome.NatPortDiffers)
                        AdoptNatPort(s.PacketId, seen, ns);
                }
                sink.Add(new ReplayedSighting(number, s, SightingHandling.Observation, point, direction, ns) { Observed = observed }, captured);
                return true;
            }
            if (!captured.HasIp && !(s.Kind == EntryKind.Received && _devices.Of(pointId, point).Dev?.Master is not null))
            {
                NotIp++;
                sink.Add(new ReplayedSighting(number, s, SightingHandling.NotIp, point, direction, ns), captured);
                return true;
            }
            Enter(number, s, frame, stream.PrivateFrame, captured, pointId, point, direction, ns);
            return true;
        }

        /// <summary>
        /// A connection's first packet left with another SNAT source port than the simulation chose: the
        /// kernel's random pick on a clash. The entry takes the capture's port, so its replies and later
        /// packets meet the connection the host had (the packet's own row keeps the prediction and its
        /// NatPortDiffers outcome).
        /// </summary>
        private void AdoptNatPort(long packetId, in NfConntrackTuple seen, long ns)
        {
            if (fidelity.NatPortToAdopt(packetId, out int entry, out var original, out var predicted))
                _host.AdoptNatSourcePort(entry, original, predicted, seen, ns);
        }

        /// <summary>A packet's first sighting: into the simulated host by the bridge or PREROUTING (received) or OUTPUT (sent by the host).</summary>
        private void Enter(long number, in Sighting s, ReadOnlySpan<byte> frame, Span<byte> span, in DecodedPacket captured, int pointId, string point, PacketDirection direction, long ns)
        {
            ref readonly var at = ref _devices.Of(pointId, point);
            var dev = at.Dev;
            if (span.Length != frame.Length)
            {
                // The reader's buffer (one thread): the hooks rewrite a copy. A batch's frame is rewritten where it is, saving a copy of every entering frame.
                if (_buffer.Length < frame.Length)
                    _buffer = new byte[frame.Length];
                frame.CopyTo(_buffer);
                span = _buffer.AsSpan(0, frame.Length);
            }

            // The hooks rewrite the packet (NAT, a cooked capture's destination MAC): the row shows it as it left them.
            var packet = captured;
            var trace = _trace is { } t && t.BeginPacket(s.PacketId) ? t : null;

            // Each hook result is returned straight into this frame's local and goes on by reference.
            NfHookResult result;
            SightingHandling handling;
            if (s.Kind == EntryKind.Received)
            {
                result = Receive(span, ref packet, point, dev, at.Port, ns, trace);
                handling = SightingHandling.Simulated;
            }
            else if (s.Kind == EntryKind.LocallyGenerated && ThroughOutput(point, dev, packet))
            {
                result = Send(span, ref packet, point, ns, trace);
                handling = SightingHandling.Simulated;
            }
            else
            {
                result = default;
                handling = s.Kind == EntryKind.LocallyGenerated ? SightingHandling.MadeOnBridgePort : SightingHandling.UnknownDirection;
            }
            switch (handling)
            {
                case SightingHandling.Simulated: Simulated++; break;
                case SightingHandling.BridgedNotSimulated: Bridged++; break;
                case SightingHandling.MadeOnBridgePort: MadeOnPort++; break;
                default: Unknown++; break;
            }
            bool awaits = false;

            // Frames that are not IP (ARP) go through the bridge, but have no addresses or ports to check: NULL.
            if (handling == SightingHandling.Simulated && packet.HasIp)
            {
                fidelity.Predict(number, s.PacketId, ns, in result);
                awaits = true;
                // A packet first seen leaving (made by the host) is itself an egress to check, as it was captured.
                if (direction == PacketDirection.Outgoing)
                    fidelity.Observe(s.PacketId, point, direction, NfHost.TupleOf(captured), ns);
            }
            else if (packet.HasIp && direction == PacketDirection.Outgoing && handling is SightingHandling.MadeOnBridgePort or SightingHandling.UnknownDirection)
            {
                fidelity.NotSimulated(s.PacketId, point, ns);
            }
            sink.Add(new ReplayedSighting(number, s, handling, point, direction, ns, in result) { AwaitsOutcome = awaits }, packet);
            if (handling == SightingHandling.Simulated && result.Generated is { } gen)
                AddGenerated(gen, ++Generated);
        }

        /// <summary>REJECT's reply as a row of its own (numbered -1, -2, … so captured rows keep their frame numbers); its captured copy will be an observation of it.</summary>
        private void AddGenerated(NfGeneratedPacket gen, long number)
        {
            var s = correlator.Expect(gen.Packet, gen.Frame, gen.TimeNs);
            fidelity.Predict(-number, s.PacketId, gen.TimeNs, in gen.Result);
            sink.Add(new ReplayedSighting(-number, s, SightingHandling.Generated, gen.OutDev ?? string.Empty, PacketDirection.Outgoing, gen.TimeNs, in gen.Result) { Generated = gen, AwaitsOutcome = true }, gen.Packet);
        }

        private NfHookResult Receive(Span<byte> frame, ref DecodedPacket packet, string point, HostInterface? dev, BrPort? port, long timeNs, IIptTraceSink? trace)
        {
            // Cooked captures say the packet type; plain Ethernet ones leave it to us, as eth_type_trans does.
            var type = packet.LinkPacketType == 255 ? EthTypeTrans(packet, dev) : (PacketType)Math.Min(packet.LinkPacketType, (byte)PacketType.OtherHost);
            if (dev?.Master is not null && port is not null && packet.DstMac.Value == 0 && packet.LinkPacketType != 255)
            {
                // SLL/SLL2 (`tcpdump -i any`) keep no destination MAC: the packet type and the stations seen stand in for it.
                packet.DstMac = _host.CookedDestination(port, packet, type);
            }
            return _host.Receive(frame, ref packet, new NfIngress(point, timeNs, type), trace);
        }

        /// <summary>
        /// Whether a packet first seen leaving <paramref name="point"/> was sent through OUTPUT. A bridge port with an address of
        /// its own (an IPv6 link-local one, always) sends from it by its own IP stack — MLD reports, router solicitations — like
        /// any host packet; anything else first seen leaving a port was made in the bridge path.
        /// </summary>
        private bool ThroughOutput(string point, HostInterface? dev, in DecodedPacket packet) =>
            dev?.Master is null || job.OwnAddress(point, packet.Src);

        private NfHookResult Send(Span<byte> frame, ref DecodedPacket packet, string point, long timeNs, IIptTraceSink? trace)
        {
            // Multicast leaves by the interface its socket chose (IP_MULTICAST_IF): the one it was captured on.
            bool multicast = packet.IsIpv4 ? (packet.Dst.V4 >> 28) == 0xE : (packet.Dst.Hi >> 56) == 0xFF;
            return _host.Output(frame, ref packet, new NfEgress(timeNs, BoundDev: multicast ? point : null), trace);
        }

        /// <summary>The receive thread's batches, as a struct type argument: <see cref="Step"/> is compiled for it with direct calls.</summary>
        public readonly struct Staged(ReceiveStage s) : IReceivedPackets
        {
            public bool MoveNext() => s.MoveNext();

            public int Source => s.Source;

            public ref readonly CaptureRecord Record => ref s.Record;

            public ReadOnlySpan<byte> Frame => s.Frame;

            public Span<byte> PrivateFrame => s.PrivateFrame;

            public ref readonly DecodedPacket Packet => ref s.Packet;

            public int Point => s.Point;

            public string PointName => s.PointName;

            public PacketDirection Direction => s.Direction;

            public ulong Fingerprint => s.Fingerprint;

            public bool PeekNextFingerprint(out ulong fingerprint) => s.PeekNextFingerprint(out fingerprint);

            public ref readonly DecodedPacket PeekPacket(int ahead) => ref s.PeekPacket(ahead);

            public void Finish() => s.Finish();

            public void Dispose() => s.Dispose();
        }
    }

    /// <summary>Whether <paramref name="src"/> is an address of <paramref name="dev"/> (a loop: no closure per packet first seen leaving a bridge port).</summary>
    private bool OwnAddress(string dev, IpAddr src)
    {
        if (snapshot.Network.Device(dev) is not { } d)
            return false;
        foreach (var a in d.Addresses)
        {
            if (a.Local == src)
                return true;
        }
        return false;
    }
}
