using System.Runtime.CompilerServices;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;

namespace TraceReplay.Store;

/// <summary>
/// The tables the replay fills once per sighting or connection (packets, conntrack_events,
/// connections, nat_mappings) take rows as plain values: the replay's thread copies each into an array of
/// references-free structs and hands a full array over, and whoever stores batches (the writer
/// thread, or the replay itself without one) turns it into columns. Column filling (run_text ids,
/// ENUM codes, address keys) is then off the replay's critical path, and a held row is a value
/// copy without write barriers. run_text is filled where the packets rows are, so its ids come out
/// in the order the rows' texts are first seen, as when rows were filled one by one.
/// </summary>
public sealed partial class RunWriter
{
    /// <summary>Rows handed over at a time: small enough to stay in cache, many per stored batch.</summary>
    private const int RowsPerHandOver = 16 * 1024;

    // The replay's side: texts as handles (1-based; 0 is NULL), interned by value as run_text is, with
    // a few slots by reference first since the replay passes the same shared strings again and again.
    private readonly Dictionary<string, int> _handles = new(StringComparer.Ordinal);
    private readonly List<string> _newTexts = [];
    private const int RecentSlots = 8;
    private readonly string?[] _recentText = new string?[RecentSlots];
    private readonly int[] _recentHandle = new int[RecentSlots];
    private int _recentNext;

    // The filling side: handle - 1 → text, learnt from the batches in the order they were handed over.
    private readonly List<string> _textOf = [];

    private long _packetsAdded;
    private RowSource<PacketRecord> _packetRows = null!;
    private RowSource<NfConntrackEvent> _eventRows = null!;
    private RowSource<ConnectionRow> _connectionRows = null!;
    private RowSource<NatMapping> _natRows = null!;

    /// <summary>
    /// The handle of a text for <see cref="PacketRecord"/>'s text fields (0 for null). Handles stand
    /// for their text for the whole run; equal texts share one.
    /// </summary>
    public int TextHandle(string? text)
    {
        if (text is null)
            return 0;
        for (int i = 0; i < RecentSlots; i++)
        {
            if (ReferenceEquals(_recentText[i], text))
                return _recentHandle[i];
        }
        ref int slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_handles, text, out bool exists);
        if (!exists)
        {
            _newTexts.Add(text);
            slot = _handles.Count;
        }
        int handle = slot;
        int next = _recentNext;
        _recentNext = (next + 1) % RecentSlots;
        _recentText[next] = text;
        _recentHandle[next] = handle;
        return handle;
    }

    public long PacketRows => _packetsAdded;

    /// <summary>A packets row with its texts as <see cref="TextHandle"/> handles.</summary>
    public void AddPacket(in PacketRecord r)
    {
        _packetsAdded++;
        _packetRows.Add(this, r);
    }

    /// <summary>A packets row with its texts as strings (tests, tools): the same row as the handles would give.</summary>
    public void AddPacket(in PacketRow r) =>
        AddPacket(Record(r, TextHandle(r.CapturePoint), TextHandle(r.Path), TextHandle(r.DropReason), TextHandle(r.Observed)));

    /// <summary>A conntrack event (<see cref="NfConntrackEvent"/>); <see cref="NfConntrackEvent.Entry"/> is the ct_id.</summary>
    public void AddConntrackEvent(in NfConntrackEvent e) => _eventRows.Add(this, e);

    public void AddConnection(in ConnectionRow r) => _connectionRows.Add(this, r);

    /// <summary>A NAT binding (<see cref="NatMapping"/>); its capture-clock nanoseconds become UTC microseconds.</summary>
    public void AddNatMapping(in NatMapping m) => _natRows.Add(this, m);

    internal static PacketRecord Record(in PacketRow r, int capturePoint, int path, int dropReason, int observed) => new()
    {
        Id = r.Id,
        PacketId = r.PacketId,
        TimestampUs = r.TimestampUs,
        CtId = r.CtId,
        Src = r.Src,
        Dst = r.Dst,
        NatSrc = r.NatSrc,
        NatDst = r.NatDst,
        CapturePoint = capturePoint,
        Path = path,
        DropReason = dropReason,
        Observed = observed,
        Length = r.Length,
        VerdictRuleId = r.VerdictRuleId,
        SrcPort = r.SrcPort,
        DstPort = r.DstPort,
        NatSrcPort = r.NatSrcPort,
        NatDstPort = r.NatDstPort,
        Direction = r.Direction,
        Family = r.Family,
        Protocol = r.Protocol,
        HasNat = r.HasNat,
        CtState = r.CtState,
        CtDirection = r.CtDirection,
        Verdict = r.Verdict,
        DependsOnUnknown = r.DependsOnUnknown,
    };

    private void CreateRowSources()
    {
        int rows = Math.Min(_options.BatchRows, RowsPerHandOver);
        // As many arrays as hold two stored batches besides the one filling: the slack the replay had
        // when it filled column buffers itself (three per table).
        int arrays = 1 + (2 * ((_options.BatchRows + rows - 1) / rows));
        _packetRows = new(_packets, rows, arrays);
        // The per-connection tables come in bursts (a million NEW events in the scale run's first
        // seconds, the connections at the end): with a packets-sized pool each would keep ~20 MB of
        // arrays for the rest of the run, which took the scale run's peak from 951 to 1,040 MB. Three
        // arrays let the replay go on while the writer stores; in a burst it waits instead.
        int fewer = Math.Min(arrays, 3);
        _eventRows = new(_events, rows, fewer);
        _connectionRows = new(_connections, rows, fewer);
        _natRows = new(_nat, rows, fewer);
    }

    /// <summary>Hands over the rows not yet handed over (at Complete): they may still add run_text rows.</summary>
    private void HandOverRows()
    {
        _packetRows.HandOver(this);
        _eventRows.HandOver(this);
        _connectionRows.HandOver(this);
        _natRows.HandOver(this);
    }

    /// <summary>
    /// A table whose buffer only the filling side touches: its rows arrive as <see cref="RowBatch"/>es.
    /// Every table with an address or keyed column must be one: <see cref="AddressText"/> and
    /// <see cref="TextIds"/> are one thread's (the others, filled by the replay, hold plain values and texts).
    /// </summary>
    private bool FilledFromRows(Table t) => t == _packets || t == _events || t == _connections || t == _nat || t == _text;

    /// <summary>A batch of rows of one table, with the texts first handed over with it.</summary>
    private abstract class RowBatch
    {
        public int Count;
        public string[] NewTexts = [];

        /// <summary>Turns the rows into the table's columns (storing each full batch), then empties this batch.</summary>
        public abstract void Fill(RunWriter w);

        /// <summary>Gives the emptied batch back to the replay's side.</summary>
        public abstract void Recycle();
    }

    private sealed class RowBatch<T>(RowSource<T> source, int capacity) : RowBatch where T : unmanaged
    {
        public readonly T[] Rows = new T[capacity];

        public override void Fill(RunWriter w)
        {
            w.Learn(NewTexts);
            NewTexts = [];
            var rows = Rows.AsSpan(0, Count);
            Count = 0;
            if (typeof(T) == typeof(PacketRecord))
                w.FillPackets(MemoryMarshalCast<PacketRecord>(rows));
            else if (typeof(T) == typeof(NfConntrackEvent))
                w.FillEvents(MemoryMarshalCast<NfConntrackEvent>(rows));
            else if (typeof(T) == typeof(ConnectionRow))
                w.FillConnections(MemoryMarshalCast<ConnectionRow>(rows));
            else
                w.FillNatMappings(MemoryMarshalCast<NatMapping>(rows));
        }

        private static ReadOnlySpan<TTo> MemoryMarshalCast<TTo>(Span<T> rows) where TTo : unmanaged =>
            System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<T, TTo>(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(rows)), rows.Length);

        public override void Recycle() => source.Recycle(this);
    }

    /// <summary>The replay's side of one table's rows: the array filling, and the emptied ones back from the filling side.</summary>
    private sealed class RowSource<T>(Table table, int rows, int arrays) where T : unmanaged
    {
        private readonly Stack<RowBatch<T>> _spares = new();
        private int _made = 1;
        private RowBatch<T> _filling = null!;

        public Table Table { get; } = table;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add(RunWriter w, in T row)
        {
            var b = _filling ??= new RowBatch<T>(this, rows);
            b.Rows[b.Count++] = row;
            if (b.Count == b.Rows.Length)
                HandOver(w);
        }

        /// <summary>The filling array to the filling side (the writer thread, or at once here), and an empty one to go on with.</summary>
        public void HandOver(RunWriter w)
        {
            ObjectDisposedException.ThrowIf(w._disposed, w);
            var b = _filling;
            if (b is null || b.Count == 0)
                return;
            if (w._newTexts.Count > 0)
            {
                b.NewTexts = [.. w._newTexts];
                w._newTexts.Clear();
            }
            if (w._background is { } bg)
            {
                _filling = null!;
                bg.Enqueue(b);
                _filling = Take();
            }
            else
            {
                b.Fill(w);
            }
        }

        private RowBatch<T> Take()
        {
            lock (_spares)
            {
                while (_spares.Count == 0 && _made >= arrays)
                    Monitor.Wait(_spares);
                if (_spares.Count > 0)
                    return _spares.Pop();
                _made++;
            }
            return new RowBatch<T>(this, rows);
        }

        public void Recycle(RowBatch<T> b)
        {
            b.Count = 0;
            b.NewTexts = [];
            lock (_spares)
            {
                _spares.Push(b);
                Monitor.PulseAll(_spares);
            }
        }
    }

    private void Learn(string[] texts)
    {
        foreach (var s in texts)
            _textOf.Add(s);
    }

    private string? TextOf(int handle) => handle == 0 ? null : _textOf[handle - 1];

    private void FillPackets(ReadOnlySpan<PacketRecord> rows)
    {
        // Column by column (RunWriter.Packets.cs) unless keyed columns keep their text too (--arrow).
        if (_options.ArrowDirectory is null)
        {
            FillPacketsByColumn(rows);
            return;
        }
        foreach (ref readonly var r in rows)
        {
            AppendPacket(_packets.Buffer, r, TextOf(r.CapturePoint), TextOf(r.Path), TextOf(r.DropReason), TextOf(r.Observed));
            EndFilledRow(_packets);
            if (_ids.HasPending)
                WriteTexts();
        }
    }

    private void FillEvents(ReadOnlySpan<NfConntrackEvent> rows)
    {
        foreach (ref readonly var e in rows)
        {
            AppendConntrackEvent(_events.Buffer, e);
            EndFilledRow(_events);
        }
    }

    private void FillConnections(ReadOnlySpan<ConnectionRow> rows)
    {
        foreach (ref readonly var r in rows)
        {
            AppendConnection(_connections.Buffer, r);
            EndFilledRow(_connections);
        }
    }

    private void FillNatMappings(ReadOnlySpan<NatMapping> rows)
    {
        foreach (ref readonly var m in rows)
        {
            AppendNatMapping(_nat.Buffer, m);
            EndFilledRow(_nat);
        }
    }

    /// <summary>The filling side's EndRow: a full buffer is stored here, on the thread that filled it.</summary>
    private void EndFilledRow(Table t)
    {
        t.Buffer.EndRow();
        if (t.Buffer.Rows >= _options.BatchRows)
            StoreFilled(t);
    }

    private void StoreFilled(Table t)
    {
        if (t.Buffer.Rows == 0)
            return;
        t.Rows += t.Buffer.Rows;
        Store(t, t.Buffer);
    }
}
