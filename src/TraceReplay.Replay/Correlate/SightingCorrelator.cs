using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Readers;

namespace TraceReplay.Replay.Correlate;

/// <summary>What one sighting of a packet is to the replay.</summary>
public enum SightingRole : byte
{
    /// <summary>The first time this packet is seen: it enters the simulation here.</summary>
    Entry,

    /// <summary>The same packet seen again at another capture point (bridged, routed, NATed): an observation to check, never a new input.</summary>
    Observation,
}

/// <summary>Where an entering packet comes from.</summary>
public enum EntryKind : byte
{
    /// <summary>First seen arriving on an interface (a NIC or a bridge port): enters at the bridge or PREROUTING.</summary>
    Received,

    /// <summary>First seen leaving the host, with no earlier sighting: made by the host, enters at OUTPUT.</summary>
    LocallyGenerated,

    /// <summary>Direction unknown (a plain Ethernet capture without the interface's MAC): the replay must decide.</summary>
    UnknownDirection,

    /// <summary>Made by the simulated host while handling another packet (REJECT's RST or ICMP error): never read from a capture, it enters through <see cref="SightingCorrelator.Expect"/>.</summary>
    Generated,
}

/// <summary>The verdict on one sighting: its packet id (shared by every sighting of one packet) and its role.</summary>
public readonly record struct Sighting(long PacketId, SightingRole Role, EntryKind Kind, int EntryPoint, long EntryTimeNs);

/// <summary>
/// Recognises the later sightings of a packet so each real packet enters the simulation once
/// (issue 5; DESIGN.md "correlate sightings"). `tcpdump -i any` or one capture per NIC and bridge port
/// shows one packet several times — on the bridge port, on the bridge device, leaving the uplink after
/// MASQUERADE. What NAT and routing change (addresses, ports, ICMP ids, TTL, checksums, link headers) is
/// left out of a packet's fingerprint; what they keep is in it: the IPv4 id, lengths, the protocol, TCP
/// sequence/ack/flags/window, ICMP type/code/sequence, the quoted packet's protocol for ICMP errors, and
/// the first bytes of the payload. A sighting joins an earlier one with the same fingerprint when it is
/// within the time window and at a (capture point, direction) that packet was not yet seen at — a
/// packet passes each point at most once — otherwise it is a new packet (a retransmission, a repeat).
/// Memory is bounded by the packets of one window; nothing is allocated per packet once the table
/// has grown to the window's size.
/// </summary>
public sealed class SightingCorrelator
{
    /// <summary>How far apart two sightings of one packet may be: a host forwards within microseconds; 100 ms leaves room for queues and capture clocks.</summary>
    public const long DefaultWindowNs = 100_000_000;

    private const int PayloadBytes = 64;

    private struct Group
    {
        public long PacketId;
        public long FirstNs;
        public long LastNs;
        public ulong Seen; // bit per (point, direction), modulo 64
        public EntryKind Kind;
        public int EntryPoint;
    }

    private readonly long _windowNs;
    private readonly SightingTable<Group> _groups = new();
    private readonly Queue<(ulong Key, long Ns, long PacketId)> _byTime = new();

    // Packets the simulated host made (REJECT's replies), by their reply fingerprint: their captured copies are observations.
    private readonly SightingTable<Group> _expected = new();
    private readonly Queue<(ulong Key, long Ns)> _expectedByTime = new();
    private long _nextPacketId = 1;

    public SightingCorrelator(long windowNs = DefaultWindowNs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(windowNs);
        _windowNs = windowNs;
    }

    /// <summary>Packets (groups of sightings) seen so far.</summary>
    public long Packets => _nextPacketId - 1;

    /// <summary>Entries waiting in the expiry queue: one per live group (tests check it stays bounded).</summary>
    internal int QueuedForExpiry => _byTime.Count;

    /// <summary>Sightings recognised as observations of an earlier one.</summary>
    public long Observations { get; private set; }

    /// <summary>Classifies one sighting, in capture-time order.</summary>
    public Sighting Classify(in DecodedPacket packet, ReadOnlySpan<byte> frame, int point, PacketDirection direction, long timeNs) =>
        Classify(Fingerprint(packet, frame), packet, frame, point, direction, timeNs);

    /// <summary>Classifies one sighting whose <see cref="Fingerprint"/> was taken ahead (by the receive thread, off the simulation's).</summary>
    public Sighting Classify(ulong fingerprint, in DecodedPacket packet, ReadOnlySpan<byte> frame, int point, PacketDirection direction, long timeNs)
    {
        Expire(timeNs);
        ulong key = fingerprint;
        ulong bit = 1UL << (((point * 3) + (int)direction) & 63);
        ref Group g = ref _groups.Find(key);
        if (!Unsafe.IsNullRef(ref g) && timeNs - g.LastNs <= _windowNs && (g.Seen & bit) == 0)
        {
            g.Seen |= bit;
            g.LastNs = timeNs;
            Observations++;
            return new Sighting(g.PacketId, SightingRole.Observation, g.Kind, g.EntryPoint, g.FirstNs);
        }
        if (_expected.Count > 0 && direction == PacketDirection.Outgoing && IsReplyCandidate(packet))
        {
            ulong rk = ReplyFingerprint(packet, frame);
            ref Group e = ref _expected.Find(rk);
            if (!Unsafe.IsNullRef(ref e) && timeNs - e.LastNs <= _windowNs && (e.Seen & bit) == 0)
            {
                e.Seen |= bit;
                e.LastNs = timeNs;
                _expectedByTime.Enqueue((rk, timeNs));
                Observations++;
                return new Sighting(e.PacketId, SightingRole.Observation, e.Kind, e.EntryPoint, e.FirstNs);
            }
        }
        var kind = direction switch
        {
            PacketDirection.Incoming => EntryKind.Received,
            PacketDirection.Outgoing => EntryKind.LocallyGenerated,
            _ => EntryKind.UnknownDirection,
        };
        long id = _nextPacketId++;
        _groups.Set(key, new Group { PacketId = id, FirstNs = timeNs, LastNs = timeNs, Seen = bit, Kind = kind, EntryPoint = point });
        _byTime.Enqueue((key, timeNs, id));
        return new Sighting(id, SightingRole.Entry, kind, point, timeNs);
    }

    /// <summary>
    /// A packet the simulated host made at <paramref name="timeNs"/> (REJECT's reply, built by the hook
    /// graph, not read from a capture): it gets a packet id of its own, and a captured copy of it
    /// leaving the host within the window is recognised as an observation of it — not as a packet the
    /// host made on its own, which would enter OUTPUT a second time. The copy is matched without the
    /// IPv4 id, which the kernel picks from a keyed hash for ICMP errors.
    /// </summary>
    public Sighting Expect(in DecodedPacket packet, ReadOnlySpan<byte> frame, long timeNs)
    {
        Expire(timeNs);
        ulong key = ReplyFingerprint(packet, frame);
        var g = new Group { PacketId = _nextPacketId++, FirstNs = timeNs, LastNs = timeNs, Seen = 0, Kind = EntryKind.Generated, EntryPoint = -1 };
        _expected.Set(key, g);
        _expectedByTime.Enqueue((key, timeNs));
        return new Sighting(g.PacketId, SightingRole.Entry, EntryKind.Generated, -1, timeNs);
    }

    /// <summary>What the simulated host makes: REJECT's or a closed port's TCP RST, an ICMP/ICMPv6 error, an echo reply (NfHost.LocalReply).</summary>
    private static bool IsReplyCandidate(in DecodedPacket p) =>
        (p.Protocol == L4Protocol.Tcp && (p.TcpFlags & TcpFlags.Rst) != 0) || (p.Flags & PacketFlags.IcmpError) != 0
        || (p.Protocol == L4Protocol.Icmp && p.IcmpType == 0) || (p.Protocol == L4Protocol.Icmpv6 && p.IcmpType == 129);

    private static ulong ReplyFingerprint(in DecodedPacket p, ReadOnlySpan<byte> frame)
    {
        var copy = p;
        copy.IpId = 0;
        return Fingerprint(copy, frame);
    }

    /// <summary>Forgets groups whose last sighting is older than the window: they can take no more sightings.</summary>
    private void Expire(long nowNs)
    {
        while (_expectedByTime.Count > 0 && nowNs - _expectedByTime.Peek().Ns > _windowNs)
        {
            var (key, ns) = _expectedByTime.Dequeue();
            ref Group g = ref _expected.Find(key);
            if (!Unsafe.IsNullRef(ref g) && g.LastNs == ns)
                _expected.Remove(key);
        }
        // A group is queued once, at its first sighting; when that entry comes due and the group was
        // seen since, it is queued again at its last sighting instead of once per sighting (one table
        // lookup per packet rather than per sighting). The queue is then only nearly in time order, so
        // a group may be removed a little late: harmless, as Classify checks the window itself and
        // replaces a stale group with the same fingerprint. An entry belongs to one group (its packet
        // id): a group that replaced it under the same fingerprint has an entry of its own, so the old
        // one is dropped — re-queued for the new group, identical frames repeating within the window
        // (a loop, a storm) kept every entry alive and made each pass over the queue longer.
        while (_byTime.Count > 0 && nowNs - _byTime.Peek().Ns > _windowNs)
        {
            var (key, ns, packetId) = _byTime.Dequeue();
            ref Group g = ref _groups.Find(key);
            if (Unsafe.IsNullRef(ref g) || g.PacketId != packetId)
                continue;
            if (nowNs - g.LastNs > _windowNs)
                _groups.Remove(key);
            else if (g.LastNs != ns)
                _byTime.Enqueue((key, g.LastNs, packetId));
        }

        // The next group to come due is looked up by a later sighting: its slot is a cache miss (one
        // per packet) unless loaded while this sighting is simulated.
        if (_byTime.Count > 0)
            _groups.Prefetch(_byTime.Peek().Key);
    }

    /// <summary>The next sighting's fingerprint, known ahead (a batch of the receive thread): its group's slot is loaded while this sighting is simulated.</summary>
    public void Prefetch(ulong fingerprint) => _groups.Prefetch(fingerprint);

    /// <summary>
    /// The bytes eight at a time, each lane through xxHash64's round (multiply, rotate, multiply) into
    /// the state, the length and a short tail folded in last, then splitmix64's avalanche: deterministic
    /// across runs and machines, as replays must be (System.HashCode is randomised per process). Byte at
    /// a time (FNV-1a), the ~90 bytes of a fingerprint were one long multiply chain per sighting.
    /// </summary>
    private static ulong Hash64(ReadOnlySpan<byte> bytes, ulong seed)
    {
        const ulong P1 = 0x9E37_79B1_85EB_CA87UL, P2 = 0xC2B2_AE3D_27D4_EB4FUL;
        ulong h = (0x2722_0A95_FE2B_D1E3UL ^ seed) + ((ulong)bytes.Length * P1);
        int i = 0;
        for (; i + 8 <= bytes.Length; i += 8)
        {
            ulong lane = BinaryPrimitives.ReadUInt64LittleEndian(bytes[i..]);
            h ^= BitOperations.RotateLeft(lane * P2, 31) * P1;
            h = (BitOperations.RotateLeft(h, 27) * P1) + 0x85EB_CA77_C2B2_AE63UL;
        }
        if (i < bytes.Length)
        {
            ulong tail = 0;
            for (int k = bytes.Length - 1; k >= i; k--)
                tail = (tail << 8) | bytes[k];
            h ^= BitOperations.RotateLeft(tail * P2, 31) * P1;
            h = BitOperations.RotateLeft(h, 27) * P1;
        }
        h ^= h >> 30;
        h *= 0xBF58_476D_1CE4_E5B9UL;
        h ^= h >> 27;
        h *= 0x94D0_49BB_1331_11EBUL;
        return h ^ (h >> 31);
    }

    /// <summary>The fields of a packet that NAT, routing and bridging leave as they are, hashed.</summary>
    public static ulong Fingerprint(in DecodedPacket p, ReadOnlySpan<byte> frame)
    {
        Span<byte> buf = stackalloc byte[32 + PayloadBytes];
        int n = 0;
        void U8(Span<byte> b, byte v) => b[n++] = v;
        void U16(Span<byte> b, ushort v)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b[n..], v);
            n += 2;
        }
        void U32(Span<byte> b, uint v)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b[n..], v);
            n += 4;
        }

        if (!p.HasIp)
        {
            // Not IP (ARP, LLDP…): a bridge forwards the frame unchanged, so its network-layer bytes are the fingerprint.
            U16(buf, p.EtherType);
            var l3 = p.L3Offset < frame.Length ? frame[p.L3Offset..] : [];
            return Hash64(buf[..n], Hash64(l3[..Math.Min(l3.Length, 64)], 0));
        }
        U8(buf, p.IpVersion);
        U8(buf, p.Protocol);
        U32(buf, p.IpId);
        U32(buf, (uint)p.IpTotalLength);
        U16(buf, (ushort)p.FragmentOffset);
        switch (p.Protocol)
        {
            case L4Protocol.Tcp:
                U32(buf, p.TcpSeq);
                U32(buf, p.TcpAck);
                U16(buf, (ushort)p.TcpFlags);
                U16(buf, p.TcpWindow);
                break;
            case L4Protocol.Icmp:
            case L4Protocol.Icmpv6:
                U8(buf, p.IcmpType);
                U8(buf, p.IcmpCode);
                if ((p.Flags & PacketFlags.IcmpError) != 0)
                {
                    // NAT rewrites the quoted header; only what it quotes stays.
                    U8(buf, p.InnerProtocol);
                    return Hash64(buf[..n], 0);
                }
                U16(buf, p.IcmpSeq);
                break;
        }
        int start = p.PayloadOffset;
        int length = Math.Min(Math.Min(p.PayloadLength, PayloadBytes), Math.Max(0, frame.Length - start));
        if (start > 0 && length > 0)
        {
            frame.Slice(start, length).CopyTo(buf[n..]);
            n += length;
        }
        return Hash64(buf[..n], 0);
    }
}
