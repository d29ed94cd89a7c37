using System.Buffers;
using TraceReplay.Capture.Decode;

namespace TraceReplay.Netfilter.Hooks;

/// <summary>What the defragmenter did with a fragment.</summary>
public enum NfDefragResult : byte
{
    /// <summary>The datagram is whole: the packet now describes it (the first fragment's headers, the whole length).</summary>
    Complete,

    /// <summary>Kept until the rest arrives (NF_STOLEN).</summary>
    Held,

    /// <summary>Refused: it ends beyond 65535 bytes, or contradicts the datagram's end already known.</summary>
    Dropped,
}

/// <summary>
/// nf_defrag_ipv4 / nf_defrag_ipv6 (priority −400, before conntrack): fragments are queued by
/// (source, destination, protocol, id) as ip_defrag's inet_frag_queue keys them, and the datagram
/// goes on once its first and last fragment and every byte between have arrived. Queues time out on
/// the capture clock after ipfrag_time (IPv4, 30 s) / nf_conntrack_frag6_timeout (IPv6, 60 s).
/// <para>
/// What is modelled is the decoded view conntrack and the rules see: the first fragment's headers
/// with the reassembled length (skb->len of the whole datagram), and the first fragment's bytes as the
/// frame. The fragments' payloads are not joined, so a match reading payload beyond the first
/// fragment (string, u32) sees only the first fragment's bytes; overlapping fragments are counted
/// by coverage, not refused as ip_frag_queue / RFC 5722 would; the ICMP time-exceeded a timed-out
/// IPv4 queue sends is not generated (only counted in <see cref="Expired"/>).
/// </para>
/// </summary>
public sealed class NfDefrag
{
    public const long Ipv4TimeoutNs = 30_000_000_000L;
    public const long Ipv6TimeoutNs = 60_000_000_000L;

    private readonly record struct Key(IpAddr Src, IpAddr Dst, uint Id, byte Protocol, bool V6);

    private sealed class Queue
    {
        public DecodedPacket First;
        public byte[]? FirstFrame;
        public int FirstFrameLength;
        public bool HaveFirst;
        public int End = -1;
        public int Received;
        public long Deadline;
    }

    private readonly Dictionary<Key, Queue> _queues = [];
    private readonly Stack<Queue> _free = new();
    private byte[]? _released;

    /// <summary>Datagrams being reassembled.</summary>
    public int Pending => _queues.Count;

    /// <summary>Queues that timed out incomplete.</summary>
    public long Expired { get; private set; }

    /// <summary>
    /// Adds a fragment. On <see cref="NfDefragResult.Complete"/>, <paramref name="packet"/> describes the
    /// whole datagram and <paramref name="whole"/> holds the first fragment's frame bytes in its first
    /// <paramref name="wholeLength"/> bytes (valid until the next call).
    /// </summary>
    public NfDefragResult Add(ref DecodedPacket packet, ReadOnlySpan<byte> frame, long nowNs, out byte[]? whole, out int wholeLength)
    {
        whole = null;
        wholeLength = 0;
        if (_released is not null)
        {
            ArrayPool<byte>.Shared.Return(_released);
            _released = null;
        }
        ExpireUntil(nowNs);

        bool v6 = packet.IsIpv6;
        int header = v6 ? packet.L4Offset - packet.L3Offset : packet.IpHeaderLength;
        int length = packet.IpTotalLength - header;
        int offset = packet.FragmentOffset;
        bool last = (packet.Flags & PacketFlags.MoreFragments) == 0;
        if (length < 0 || offset + length > 65535)
            return NfDefragResult.Dropped;

        var key = new Key(packet.Src, packet.Dst, packet.IpId, packet.Protocol, v6);
        if (!_queues.TryGetValue(key, out var q))
        {
            q = _free.Count > 0 ? _free.Pop() : new Queue();
            q.Deadline = nowNs + (v6 ? Ipv6TimeoutNs : Ipv4TimeoutNs);
            _queues[key] = q;
        }
        if (last)
        {
            if (q.End >= 0 && q.End != offset + length)
                return Drop(key, q);
            q.End = offset + length;
        }
        else if (q.End >= 0 && offset + length > q.End)
        {
            return Drop(key, q);
        }
        if (offset == 0 && !q.HaveFirst)
        {
            q.First = packet;
            q.HaveFirst = true;
            q.FirstFrame = ArrayPool<byte>.Shared.Rent(Math.Max(frame.Length, 1));
            frame.CopyTo(q.FirstFrame);
            q.FirstFrameLength = frame.Length;
        }
        q.Received += length;
        if (!q.HaveFirst || q.End < 0 || q.Received < q.End)
            return NfDefragResult.Held;

        // Whole: the first fragment's view with the datagram's length, no longer a fragment.
        var d = q.First;
        int firstHeader = v6 ? d.L4Offset - d.L3Offset - 8 : d.IpHeaderLength;
        d.IpTotalLength = firstHeader + q.End;
        d.Flags &= ~(PacketFlags.Fragment | PacketFlags.MoreFragments | PacketFlags.Truncated);
        d.FragmentOffset = 0;
        packet = d;
        whole = q.FirstFrame;
        wholeLength = q.FirstFrameLength;
        _released = q.FirstFrame;
        q.FirstFrame = null;
        Recycle(key, q);
        return NfDefragResult.Complete;
    }

    /// <summary>Drops every queue whose deadline has passed (inet_frag's timer, on the capture clock).</summary>
    public void ExpireUntil(long nowNs)
    {
        if (_queues.Count == 0)
            return;
        foreach (var (key, q) in _queues)
        {
            if (q.Deadline > nowNs)
                continue;
            Expired++;
            Recycle(key, q);
        }
    }

    private NfDefragResult Drop(Key key, Queue q)
    {
        Recycle(key, q);
        return NfDefragResult.Dropped;
    }

    private void Recycle(Key key, Queue q)
    {
        _queues.Remove(key);
        if (q.FirstFrame is not null)
            ArrayPool<byte>.Shared.Return(q.FirstFrame);
        q.FirstFrame = null;
        q.HaveFirst = false;
        q.End = -1;
        q.Received = 0;
        q.First = default;
        _free.Push(q);
    }
}
