using System.Runtime.CompilerServices;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Readers;
using TraceReplay.Replay.Correlate;

namespace TraceReplay.Replay.Pipeline;

/// <summary>
/// The received packets as the simulate loop reads them: straight from the <see cref="PacketStream"/>
/// on the same thread (<see cref="DirectReceive"/>), or from batches a receive thread filled
/// (<see cref="ReceiveStage"/>). Same packets, same order, same bytes either way.
/// </summary>
internal interface IReceivedPackets : IDisposable
{
    bool MoveNext();

    int Source { get; }

    ref readonly CaptureRecord Record { get; }

    ReadOnlySpan<byte> Frame { get; }

    /// <summary>
    /// <see cref="Frame"/> when it is a copy of the simulation's own, which the hooks may rewrite in
    /// place (NAT, checksums) — a batch's arena, read by nothing else until the batch is released;
    /// empty when it is the reader's buffer, which the simulation must copy first.
    /// </summary>
    Span<byte> PrivateFrame { get; }

    ref readonly DecodedPacket Packet { get; }

    int Point { get; }

    string PointName { get; }

    PacketDirection Direction { get; }

    /// <summary>The correlator's fingerprint of the packet (SightingCorrelator.Fingerprint): a pure function of it, so the receive thread takes it off the simulation's.</summary>
    ulong Fingerprint { get; }

    /// <summary>The fingerprint of the packet after this one when it is already known (the same batch), for the correlator to prefetch its slot.</summary>
    bool PeekNextFingerprint(out ulong fingerprint);

    /// <summary>The decoded packet <paramref name="ahead"/> sightings after this one when it is already known (the same batch), for the loop to prefetch its conntrack entry; a null ref otherwise.</summary>
    ref readonly DecodedPacket PeekPacket(int ahead);

    /// <summary>Stops the receive thread, if any, so the readers can be asked about the files (after the loop, or when it stopped early).</summary>
    void Finish();
}

/// <summary>
/// One thread: the loop reads the stream itself (the frame is the reader's buffer). A struct, so the
/// loop that takes it as a type argument calls it directly (as <see cref="ReplayJob"/>'s Staged
/// wrapper does for <see cref="ReceiveStage"/>); it holds nothing but the stream.
/// </summary>
internal readonly struct DirectReceive(PacketStream stream) : IReceivedPackets
{
    public bool MoveNext() => stream.MoveNext();

    public int Source => stream.Source;

    public ref readonly CaptureRecord Record => ref stream.Record;

    public ReadOnlySpan<byte> Frame => stream.Frame;

    public Span<byte> PrivateFrame => default;

    public ref readonly DecodedPacket Packet => ref stream.Packet;

    public int Point => stream.Point;

    public string PointName => stream.Points.Name(stream.Point);

    public PacketDirection Direction => stream.Direction;

    public ulong Fingerprint => SightingCorrelator.Fingerprint(stream.Packet, stream.Frame);

    public bool PeekNextFingerprint(out ulong fingerprint)
    {
        fingerprint = 0;
        return false;
    }

    public ref readonly DecodedPacket PeekPacket(int ahead) => ref Unsafe.NullRef<DecodedPacket>();

    public void Finish()
    {
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// The receive stage on a thread of its own (Suricata's "autofp" receive thread; a NIC's RX ring):
/// it reads, decodes and merges the capture files (<see cref="PacketStream"/>) into
/// <see cref="PacketBatch"/>es of a fixed ring, with each packet's correlation fingerprint (a hash of
/// its headers and first payload bytes, the costliest part of correlation), and the simulate thread takes them in the order they
/// were filled. The ring is the bounded queue: when it is full the reader waits, so memory does not
/// grow when simulation is the slower stage. Nothing is allocated per packet or per batch. A
/// failure of the reader (a bad record under BadRecordPolicy.Stop) ends the last batch and is
/// rethrown on the simulate thread after that batch's packets, so the packets before it are
/// replayed and the error is the one the one-thread loop raises, at the same point.
/// </summary>
internal sealed class ReceiveStage : IReceivedPackets
{
    /// <summary>Batches in the ring: one being filled, one being simulated, the rest (some 2,000 packets, a few ms of simulation) to ride out the receive thread losing its core for a while on a busy machine.</summary>
    public const int RingSize = 16;

    private readonly PacketStream _stream;
    private readonly PacketBatch[] _ring = new PacketBatch[RingSize];
    private readonly object _gate = new();
    private Thread? _thread;

    // Batches published by the receive thread and released by the simulate thread (guarded by _gate).
    private long _filled;
    private long _released;
    private bool _stopping;
    private bool _receiverWaits;
    private bool _simulatorWaits;

    // Receive thread only: the stream's current packet did not fit the last batch and has yet to be copied.
    private bool _pending;

    private PacketBatch? _batch;
    private int _index = -1;

    public ReceiveStage(PacketStream stream)
    {
        _stream = stream;
        for (int i = 0; i < _ring.Length; i++)
            _ring[i] = new PacketBatch();
    }

    public bool MoveNext()
    {
        if (_batch is not null)
        {
            if (++_index < _batch.Count)
                return true;
            if (_batch.End)
            {
                _index = _batch.Count;
                _batch.Failure?.Throw();
                return false;
            }
            lock (_gate)
            {
                _released++;
                if (_receiverWaits && _filled - _released <= RingSize / 2)
                    Monitor.PulseAll(_gate);
            }
        }
        else if (_thread is null)
        {
            // Started at the first packet, not in the constructor: the job reads what the readers
            // know of the files (pcapng interfaces) before the first record, as the one-thread loop does.
            _thread = new Thread(Receive) { IsBackground = true, Name = "TraceReplay receive" };
            _thread.Start();
        }
        PacketBatch next;
        lock (_gate)
        {
            while (_filled == _released)
            {
                _simulatorWaits = true;
                Monitor.Wait(_gate);
                _simulatorWaits = false;
            }
            next = _ring[_released % RingSize];
        }
        _batch = next;
        _index = 0;
        if (next.Count > 0)
            return true;
        // An empty last batch: the end, or a failure before any packet of it.
        next.Failure?.Throw();
        return false;
    }

    private ref readonly PacketBatch.Entry Current => ref _batch!.Entries[_index];

    public int Source => Current.Source;

    public ref readonly CaptureRecord Record => ref Current.Record;

    public ReadOnlySpan<byte> Frame => _batch!.Frame(Current);

    public Span<byte> PrivateFrame => _batch!.Arena.AsSpan(Current.FrameOffset, Current.FrameLength);

    public ref readonly DecodedPacket Packet => ref Current.Packet;

    public int Point => Current.Point;

    public string PointName => Current.PointName;

    public PacketDirection Direction => Current.Direction;

    public ulong Fingerprint => Current.Fingerprint;

    public bool PeekNextFingerprint(out ulong fingerprint)
    {
        var batch = _batch!;
        bool known = _index + 1 < batch.Count;
        fingerprint = known ? batch.Entries[_index + 1].Fingerprint : 0;
        return known;
    }

    public ref readonly DecodedPacket PeekPacket(int ahead)
    {
        var batch = _batch!;
        int i = _index + ahead;
        if ((uint)i < (uint)batch.Count)
            return ref batch.Entries[i].Packet;
        return ref Unsafe.NullRef<DecodedPacket>();
    }

    /// <summary>The receive thread: fill a batch, publish it, wait for a free one when all are taken.</summary>
    private void Receive()
    {
        long steadyFrom = 0;
        for (long n = 0; ; n++)
        {
            if (n == RingSize)
                steadyFrom = GC.GetAllocatedBytesForCurrentThread();
            lock (_gate)
            {
                if (n - _released >= RingSize)
                {
                    // The simulation is the slower stage (the usual case): sleep until half the ring is
                    // free, not until one batch is, so the thread wakes once per RingSize/2 batches.
                    _receiverWaits = true;
                    while (n - _released > RingSize / 2 && !_stopping)
                        Monitor.Wait(_gate);
                    _receiverWaits = false;
                }
                if (_stopping)
                    return;
            }
            var batch = _ring[n % RingSize];
            batch.Reset();
            Fill(batch);
            lock (_gate)
            {
                _filled = n + 1;
                if (_simulatorWaits)
                    Monitor.PulseAll(_gate);
            }
            if (batch.End)
            {
                SteadyAllocatedBytes = n >= RingSize ? GC.GetAllocatedBytesForCurrentThread() - steadyFrom : -1;
                return;
            }
        }
    }

    /// <summary>Bytes the receive thread allocated once every batch of the ring had been filled once (-1: the run was shorter); read after the run.</summary>
    internal long SteadyAllocatedBytes { get; private set; } = -1;

    private void Fill(PacketBatch batch)
    {
        var s = _stream;
        try
        {
            while (!batch.IsFull)
            {
                // The batch may be closed by a frame that does not fit; that frame is the next batch's
                // first, so the stream is only advanced when the current one has gone in.
                if (!_pending && !s.MoveNext())
                {
                    batch.End = true;
                    return;
                }
                var frame = s.Frame;
                if (!batch.Fits(frame.Length))
                {
                    _pending = true;
                    return;
                }
                _pending = false;

                // Everything that can throw comes before the entry is counted: a failure must not
                // leave a half-filled entry for the simulation to replay (the one-thread loop never
                // sees that packet either).
                string pointName = s.Points.Name(s.Point);
                ulong fingerprint = SightingCorrelator.Fingerprint(s.Packet, frame);
                ref var e = ref batch.Add(frame);
                e.Record = s.Record;
                e.Packet = s.Packet;
                e.Source = s.Source;
                e.Point = s.Point;
                e.PointName = pointName;
                e.Direction = s.Direction;
                e.Fingerprint = fingerprint;
            }
        }
        catch (Exception e)
        {
            batch.Failure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
            batch.End = true;
        }
    }

    public void Finish()
    {
        if (_thread is null)
            return;
        lock (_gate)
        {
            _stopping = true;
            Monitor.PulseAll(_gate);
        }
        _thread.Join();
        _thread = null;
    }

    public void Dispose() => Finish();
}
