using System.Runtime.ExceptionServices;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Readers;

namespace TraceReplay.Replay.Pipeline;

/// <summary>
/// A run of received packets handed from the receive thread to the simulate thread, as a NIC driver
/// hands a ring of descriptors to NAPI: everything <see cref="TraceReplay.Capture.PacketStream"/>
/// said about each packet, and its frame copied into the batch's own arena (the reader's buffer is
/// overwritten by the next record). Batches are made once and recycled, so the steady state
/// allocates nothing.
/// </summary>
internal sealed class PacketBatch
{
    /// <summary>Packets per batch: enough that the hand-over (a lock and, at worst, a wake-up) costs under a nanosecond a packet.</summary>
    public const int Capacity = 128;

    /// <summary>The arena a batch starts with; a frame larger than it grows it once (and the batch keeps it).</summary>
    private const int ArenaBytes = 128 * 1024;

    /// <summary>One received packet. <see cref="Packet"/> holds offsets into the frame, not pointers, so it stays valid over the copy.</summary>
    public struct Entry
    {
        public CaptureRecord Record;
        public DecodedPacket Packet;
        public int FrameOffset;
        public int FrameLength;
        public int Source;
        public int Point;
        public PacketDirection Direction;

        /// <summary>SightingCorrelator.Fingerprint of the packet, taken on the receive thread.</summary>
        public ulong Fingerprint;

        /// <summary>The point's interned name, read on the receive thread (CapturePoints grows its name list as it meets interfaces, so it is not read across threads).</summary>
        public string PointName;
    }

    public Entry[] Entries { get; } = new Entry[Capacity];

    public byte[] Arena { get; private set; } = new byte[ArenaBytes];

    public int Count { get; private set; }

    private int _used;

    /// <summary>The stream ended (or failed) after this batch's packets: nothing follows it.</summary>
    public bool End { get; set; }

    /// <summary>What the reader threw after this batch's packets (a bad record under BadRecordPolicy.Stop), rethrown on the simulate thread.</summary>
    public ExceptionDispatchInfo? Failure { get; set; }

    public bool IsFull => Count == Capacity;

    public void Reset()
    {
        Count = 0;
        _used = 0;
        End = false;
        Failure = null;
    }

    /// <summary>Whether a frame of <paramref name="length"/> bytes still fits (an empty batch takes any frame).</summary>
    public bool Fits(int length) => Count == 0 || _used + length <= Arena.Length;

    /// <summary>Appends a packet: copies its frame into the arena and returns its entry for the caller to fill.</summary>
    public ref Entry Add(ReadOnlySpan<byte> frame)
    {
        if (_used + frame.Length > Arena.Length)
        {
            // Only for an empty batch (Fits): a frame larger than the arena, e.g. a 256 KiB snap length.
            Arena = new byte[Math.Max(Arena.Length * 2, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)frame.Length))];
        }
        frame.CopyTo(Arena.AsSpan(_used));
        ref var e = ref Entries[Count++];
        e.FrameOffset = _used;
        e.FrameLength = frame.Length;
        _used += frame.Length;
        return ref e;
    }

    public ReadOnlySpan<byte> Frame(in Entry e) => Arena.AsSpan(e.FrameOffset, e.FrameLength);
}
