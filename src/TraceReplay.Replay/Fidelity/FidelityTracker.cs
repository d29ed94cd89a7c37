using System.Runtime.CompilerServices;
using TraceReplay.Capture.Readers;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Hooks;

namespace TraceReplay.Replay.Fidelity;

/// <summary>Which interfaces the run's captures cover: all (`tcpdump -i any`) or the named ones.</summary>
public sealed class FidelityCoverage(bool all, IEnumerable<string> names)
{
    private readonly HashSet<string> _names = new(names, StringComparer.Ordinal);

    // Capture points hand the same string instance sighting after sighting: a reference compare saves hashing it each time.
    private string? _lastAdded;

    public bool All => all;

    public bool Covers(string? dev) => dev is not null && (all || _names.Contains(dev));

    /// <summary>An interface seen in the capture is covered by it.</summary>
    public void Add(string dev)
    {
        if (all || ReferenceEquals(dev, _lastAdded))
            return;
        _lastAdded = dev;
        if (dev.Length > 0 && dev != "?")
            _names.Add(dev);
    }
}

/// <summary>
/// Checks every packet's prediction against its captured sightings (issue 6), streaming: a packet's
/// prediction (its hook result where it entered) waits for its later sightings for as long as the
/// correlator would still join them to it — the window after its last sighting — and is then decided
/// once; each outgoing later sighting is decided when it is seen. Memory holds the packets of one
/// window. An egress is on the predicted interface when it is the predicted output device, a port of
/// that device when it is a bridge (the FDB picks the port), or for a bridged frame the port the
/// bridge chose (any port but the input one when it flooded).
/// <para>
/// The pending packets live in a ring indexed by packet id (<see cref="IdRing{T}"/>) and are updated
/// in place: a Dictionary copied the ~170-byte entry out and back for every sighting, with a write
/// barrier for each of its strings.
/// </para>
/// </summary>
public sealed class FidelityTracker(FidelityCoverage coverage, Func<string, string?> masterOf, long windowNs, int examplesPerOutcome = 5)
{
    private struct Pending
    {
        public long Sighting;
        public long LastNs;
        public NfFate Fate;
        public string? OutDev;
        public string? Bridge;
        public string? PhysInDev;
        public string? PhysOutDev;
        public bool Flood;
        public bool BridgeSent;
        public NfConntrackTuple Predicted;

        // The packet's conntrack entry while it is NEW and the packet in the original direction (its
        // first packet, or a retransmission before any reply): the one whose NAT port the capture may
        // correct (NatPortToAdopt); -1 otherwise.
        public int NewEntry;
        public NfConntrackTuple NewEntryOrig;
        public FidelityOutcome Best; // best egress outcome seen so far (None: no egress seen)
        public string? SeenPoint;
        public NfConntrackTuple Seen;
    }

    private readonly IdRing<Pending> _pending = new();
    private readonly Queue<(long PacketId, long Ns)> _byTime = new();
    private readonly long[] _counts = new long[Enum.GetValues<FidelityOutcome>().Max(o => (int)o) + 1];
    private string? _masterPoint;
    private string? _master;
    private readonly List<FidelityExample> _examples = [];

    /// <summary>Registers the prediction for packet <paramref name="packetId"/>, whose entry row is sighting <paramref name="sighting"/>.</summary>
    public void Predict(long sighting, long packetId, long timeNs, in NfHookResult r)
    {
        // Field by field into the slot: a whole Pending assigned to the heap is a bulk copy with write barriers.
        ref Pending p = ref _pending.Add(packetId);
        p.Sighting = sighting;
        p.LastNs = timeNs;
        p.Fate = r.Fate;
        p.OutDev = r.OutDev;
        p.Bridge = (r.Path & NfPath.Bridge) != 0 ? r.InDev : null;
        p.PhysInDev = r.PhysInDev;
        p.PhysOutDev = r.PhysOutDev;
        p.Flood = r.BridgeOutPorts > 1;
        p.BridgeSent = r.BridgeOutPorts > 0;
        p.Predicted = r.TupleAfter;
        bool made = r.CtEntry >= 0 && r.CtState == CtState.New && r.CtDirection == CtDirection.Original;
        p.NewEntry = made ? r.CtEntry : -1;
        p.NewEntryOrig = made ? r.TupleBefore : default;
        p.Best = FidelityOutcome.None;
        p.SeenPoint = null;
        p.Seen = default;
        _byTime.Enqueue((packetId, timeNs));
    }

    /// <summary>
    /// A sighting of a predicted packet at <paramref name="point"/>: an outgoing one is compared with
    /// the prediction and its outcome returned (for its row); an incoming one says nothing (None).
    /// </summary>
    public FidelityOutcome Observe(long packetId, string point, PacketDirection direction, in NfConntrackTuple seen, long timeNs)
    {
        coverage.Add(point);
        if (direction != PacketDirection.Outgoing)
            return FidelityOutcome.None;
        ref Pending p = ref _pending.Find(packetId);
        if (Unsafe.IsNullRef(ref p))
            return FidelityOutcome.None;
        var o = Compare(p, point, seen);
        if (p.Best == FidelityOutcome.None || Rank(o) < Rank(p.Best))
        {
            p.Best = o;
            p.SeenPoint = point;
            p.Seen = seen;
        }
        p.LastNs = timeNs;
        _byTime.Enqueue((packetId, timeNs));
        return o;
    }

    /// <summary>
    /// For a packet whose egress was just seen differing from the prediction in its NAT ports only
    /// (<see cref="FidelityOutcome.NatPortDiffers"/>): the conntrack entry it made as its connection's
    /// first packet, the entry's original tuple then, and the egress predicted. False when the packet made
    /// no entry (not NEW, or a reply).
    /// </summary>
    public bool NatPortToAdopt(long packetId, out int entry, out NfConntrackTuple original, out NfConntrackTuple predicted)
    {
        ref Pending p = ref _pending.Find(packetId);
        bool found = !Unsafe.IsNullRef(ref p) && p.NewEntry >= 0;
        entry = found ? p.NewEntry : -1;
        original = found ? p.NewEntryOrig : default;
        predicted = found ? p.Predicted : default;
        return found;
    }

    /// <summary>An outgoing sighting the simulation never had as input: counted as observed egress it cannot explain.</summary>
    public void NotSimulated(long packetId, string point, long timeNs)
    {
        coverage.Add(point);
        long n = _counts[(int)FidelityOutcome.NotSimulated]++;
        if (n < examplesPerOutcome)
            _examples.Add(new FidelityExample(packetId, FidelityOutcome.NotSimulated, $"first seen leaving {point} at {timeNs}: never an input of the simulation"));
    }

    /// <summary>Decides the packets whose window has closed by <paramref name="nowNs"/>: (entry sighting, outcome) to <paramref name="decided"/>.</summary>
    public void Advance(long nowNs, Action<long, FidelityOutcome> decided)
    {
        while (_byTime.Count > 0 && nowNs - _byTime.Peek().Ns > windowNs)
        {
            var (id, ns) = _byTime.Dequeue();
            ref Pending p = ref _pending.Find(id);
            if (!Unsafe.IsNullRef(ref p) && p.LastNs == ns)
            {
                long sighting = p.Sighting;
                var o = Decide(id, p);
                _pending.Remove(id);
                decided(sighting, o);
            }
        }
    }

    /// <summary>The end of the capture closes every window.</summary>
    public void Finish(Action<long, FidelityOutcome> decided) => Advance(long.MaxValue, decided);

    public FidelitySummary Summary()
    {
        var counts = new Dictionary<FidelityOutcome, long>();
        for (int i = 0; i < _counts.Length; i++)
        {
            if (_counts[i] > 0)
                counts[(FidelityOutcome)i] = _counts[i];
        }
        return new(counts, [.. _examples]);
    }

    private FidelityOutcome Decide(long packetId, in Pending p)
    {
        var o = p.Best != FidelityOutcome.None ? p.Best
            : p.Fate is NfFate.Forwarded or NfFate.Sent or NfFate.Bridged && PredictedCovered(p) ? FidelityOutcome.PredictedUnseen
            : FidelityOutcome.NotApplicable;
        long n = _counts[(int)o]++;
        // The words are made only for the few examples kept: nothing is allocated for an explained packet.
        if (o is not (FidelityOutcome.Explained or FidelityOutcome.NotApplicable) && n < examplesPerOutcome)
        {
            string detail = p.Best != FidelityOutcome.None
                ? $"predicted {Describe(p)}, seen leaving {p.SeenPoint} as {Tuple(p.Seen)}"
                : $"predicted {Describe(p)}, never seen leaving";
            _examples.Add(new FidelityExample(packetId, o, detail));
        }
        return o;
    }

    private static string Describe(in Pending p) => p.Fate switch
    {
        NfFate.Bridged => $"bridged out of {(p.Flood ? "every port of " + p.Bridge : p.PhysOutDev)} as {Tuple(p.Predicted)}",
        NfFate.Forwarded or NfFate.Sent => $"{(p.Fate == NfFate.Sent ? "sent" : "forwarded")} out of {p.OutDev} as {Tuple(p.Predicted)}",
        NfFate.DeliveredLocally => "delivered locally",
        _ => p.Fate.ToString().ToLowerInvariant(),
    };

    private static string Tuple(in NfConntrackTuple t) => t.Protocol is 1 or 58
        ? $"{t.Src} > {t.Dst} icmp type {t.IcmpType} id {t.SrcPort}"
        : $"{t.Src}:{t.SrcPort} > {t.Dst}:{t.DstPort} proto {t.Protocol}";

    /// <summary>Lower is better: an explained sighting outranks every difference.</summary>
    private static int Rank(FidelityOutcome o) => o switch
    {
        FidelityOutcome.Explained => 0,
        FidelityOutcome.NatPortDiffers => 1,
        FidelityOutcome.NatOtherDiffers => 2,
        FidelityOutcome.OtherInterface => 3,
        _ => 4,
    };

    private FidelityOutcome Compare(in Pending p, string point, in NfConntrackTuple seen)
    {
        // A multicast or broadcast frame is flooded by the bridge and passed up at once (br_handle_frame_finish):
        // its copies out of the ports are predicted whatever became of it in IP.
        if (p.BridgeSent && p.Fate != NfFate.Bridged && MasterOf(point) == p.Bridge && (p.Flood ? point != p.PhysInDev : point == p.PhysOutDev))
            return seen.Equals(p.Predicted) ? FidelityOutcome.Explained : FidelityOutcome.NatOtherDiffers;
        switch (p.Fate)
        {
            case NfFate.Dropped or NfFate.Queued:
                return FidelityOutcome.SeenThoughDropped;
            case NfFate.Forwarded or NfFate.Sent or NfFate.Bridged:
                if (!OnPredicted(p, point))
                    return FidelityOutcome.OtherInterface;
                var want = p.Predicted;
                if (seen.Equals(want))
                    return FidelityOutcome.Explained;
                return seen.Src == want.Src && seen.Dst == want.Dst && seen.Protocol == want.Protocol && seen.IsV6 == want.IsV6
                    && seen.IcmpType == want.IcmpType && seen.IcmpCode == want.IcmpCode
                    ? FidelityOutcome.NatPortDiffers
                    : FidelityOutcome.NatOtherDiffers;
            default:
                return FidelityOutcome.OtherInterface;
        }
    }

    /// <summary>The bridge <paramref name="point"/> is a port of, remembered for the last point (the same string instance sighting after sighting).</summary>
    private string? MasterOf(string point)
    {
        if (!ReferenceEquals(point, _masterPoint))
            (_masterPoint, _master) = (point, masterOf(point));
        return _master;
    }

    private bool OnPredicted(in Pending p, string point)
    {
        if (p.Fate == NfFate.Bridged)
            return p.Flood ? MasterOf(point) == p.Bridge && point != p.PhysInDev : point == p.PhysOutDev;
        return point == p.OutDev || (p.OutDev is not null && MasterOf(point) == p.OutDev);
    }

    private bool PredictedCovered(in Pending p) => p.Fate == NfFate.Bridged
        ? coverage.All || coverage.Covers(p.PhysOutDev)
        : p.OutDev != "lo" && coverage.Covers(p.OutDev);
}
