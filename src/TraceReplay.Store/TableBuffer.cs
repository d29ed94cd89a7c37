using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Apache.Arrow;
using Apache.Arrow.Types;
using TraceReplay.Capture.Decode;

namespace TraceReplay.Store;

/// <summary>The column types the run database uses, each with its Arrow and DuckDB spelling.</summary>
internal enum ColKind : byte
{
    Bool,
    UInt8,
    UInt16,
    UInt32,
    Int32,
    Int64,
    UInt64,
    Text,

    /// <summary>UTC microseconds: Arrow timestamp[us, UTC], DuckDB TIMESTAMPTZ.</summary>
    Ts,
}

/// <summary>How a Text column is stored in DuckDB when not as itself (see <see cref="TableDef.IsKeyed"/>).</summary>
internal enum ColStorage : byte
{
    /// <summary>As its own type (VARCHAR for text).</summary>
    Plain,

    /// <summary>
    /// An address as the UINTEGER id of its text in run_text (as IpAddr prints it). Not the IPv4 value:
    /// a run's addresses span far-apart prefixes, so their values bitpack at ~32 bits where ids of a
    /// few thousand distinct addresses take a dozen (measured: a 4 M-sighting replay's file 131 MB
    /// with values, 86 MB as text); and the view prints an id by a list lookup, not arithmetic.
    /// </summary>
    AddrKey,

    /// <summary>A text as the UINTEGER id of its run_text row (capture points, paths, reasons: a handful of values).</summary>
    TextId,
}

internal readonly record struct ColumnDef(string Name, ColKind Kind, bool Nullable, string Comment)
{
    /// <summary>How the column is stored in the table DuckDB holds; the view and the Arrow files show the text.</summary>
    public ColStorage Storage { get; init; }

    /// <summary>The type of the column in the stored table: the key for a keyed text column, else <see cref="SqlType"/>.</summary>
    public string StoredSqlType => Storage switch
    {
        ColStorage.AddrKey or ColStorage.TextId => "UINTEGER",
        _ => SqlType,
    };

    /// <summary>For a Text column of a fixed vocabulary: the DuckDB ENUM type it is stored as (one byte a value, and the allowed values are in the schema).</summary>
    public string? EnumType { get; init; }

    public string SqlType => EnumType ?? Kind switch
    {
        ColKind.Bool => "BOOLEAN",
        ColKind.UInt8 => "UTINYINT",
        ColKind.UInt16 => "USMALLINT",
        ColKind.UInt32 => "UINTEGER",
        ColKind.Int32 => "INTEGER",
        ColKind.Int64 => "BIGINT",
        ColKind.UInt64 => "UBIGINT",
        ColKind.Text => "VARCHAR",
        _ => "TIMESTAMPTZ",
    };

    public static readonly TimestampType UtcMicros = new(TimeUnit.Microsecond, "UTC");

    public IArrowType ArrowType => Kind switch
    {
        ColKind.Bool => BooleanType.Default,
        ColKind.UInt8 => UInt8Type.Default,
        ColKind.UInt16 => UInt16Type.Default,
        ColKind.UInt32 => UInt32Type.Default,
        ColKind.Int32 => Int32Type.Default,
        ColKind.Int64 => Int64Type.Default,
        ColKind.UInt64 => UInt64Type.Default,
        ColKind.Text => StringType.Default,
        _ => UtcMicros,
    };
}

/// <summary>One table of the run database: its columns, the Arrow schema and the DDL with COMMENT ON.</summary>
internal sealed partial class TableDef
{
    public TableDef(string name, string comment, params ColumnDef[] columns)
    {
        Name = name;
        Comment = comment;
        Columns = columns;
        Schema = new Schema([.. columns.Select(c => new Field(c.Name, c.ArrowType, c.Nullable))], null);
        ScanSchema = new Schema([.. columns.Select(c => new Field(c.Name, ScanType(c), c.Nullable))], null);
        IsKeyed = columns.Any(c => c.Storage != ColStorage.Plain);
        DataName = IsKeyed ? name + "_data" : name;
    }

    private static IArrowType ScanType(ColumnDef c) => c.Storage switch
    {
        ColStorage.AddrKey or ColStorage.TextId => UInt32Type.Default,
        _ => c.EnumType is null ? c.ArrowType : UInt8Type.Default,
    };

    /// <summary>
    /// Some text columns are stored as keys (<see cref="ColStorage"/>): DuckDB then holds the rows in
    /// <see cref="DataName"/> (NAME_data) and NAME is a view that prints the keys back as text, so the
    /// SQL contract is the same as if the text were stored.
    /// </summary>
    public bool IsKeyed { get; }

    /// <summary>The table DuckDB stores the rows in: <see cref="Name"/>, or NAME_data for a keyed table.</summary>
    public string DataName { get; }

    public string Name { get; }
    public string Comment { get; }
    public ColumnDef[] Columns { get; }
    public Schema Schema { get; }

    /// <summary>
    /// The schema of the batches DuckDB scans: <see cref="Schema"/> with each ENUM column as its
    /// value's 1-based code (UTINYINT), which the INSERT turns into the ENUM by indexing a constant list of the
    /// enum (<see cref="ScanSelect"/>): a string per row cast to an ENUM is a hash lookup per row,
    /// DuckDB casts a dictionary vector by flattening it first, and there is no integer-to-ENUM cast.
    /// </summary>
    public Schema ScanSchema { get; }

    /// <summary>The select list that turns a <see cref="ScanSchema"/> batch into this table's row: ENUM codes back into ENUMs.</summary>
    public string ScanSelect() => string.Join(", ", Columns.Select(c => c.EnumType is { } e
        ? $"([{string.Join(", ", RunSchema.EnumValues(e).Select(Quote))}]::{e}[])[\"{c.Name}\"]"
        : $"\"{c.Name}\""));

    public IEnumerable<string> CreateStatements()
    {
        var sb = new StringBuilder();
        sb.Append("CREATE TABLE ").Append(DataName).Append(" (");
        for (int i = 0; i < Columns.Length; i++)
        {
            var c = Columns[i];
            sb.Append(i == 0 ? "" : ", ").Append('"').Append(c.Name).Append("\" ").Append(c.StoredSqlType);
            if (!c.Nullable)
                sb.Append(" NOT NULL");
        }
        sb.Append(')');
        yield return sb.ToString();
        if (!IsKeyed)
        {
            yield return $"COMMENT ON TABLE {Name} IS {Quote(Comment)}";
            foreach (var c in Columns)
                yield return $"COMMENT ON COLUMN {Name}.\"{c.Name}\" IS {Quote(c.Comment)}";
            yield break;
        }
        yield return $"COMMENT ON TABLE {DataName} IS {Quote($"The rows of the view {Name}, with addresses and texts as keys (the view prints them): {Comment}")}";
        foreach (var c in Columns)
        {
            string stored = c.Storage switch
            {
                ColStorage.AddrKey or ColStorage.TextId => " — stored as run_text.id of the text",
                _ => "",
            };
            yield return $"COMMENT ON COLUMN {DataName}.\"{c.Name}\" IS {Quote(c.Comment + stored)}";
        }
        foreach (var view in Views())
            yield return view;
    }

    /// <summary>
    /// For a keyed table: NAME_keyed, the rows with every column as text plus each address's key
    /// (COLUMN_key, for filters that should compare integers), and NAME, the same without the keys —
    /// exactly the columns and types the table would have if it stored text. run_text is read once per
    /// query (a one-row cross join), and an id indexes its list of texts.
    /// </summary>
    private IEnumerable<string> Views()
    {
        var select = new StringBuilder();
        var keys = new List<string>();
        foreach (var c in Columns)
        {
            string col = $"d.\"{c.Name}\"";
            select.Append(select.Length == 0 ? "" : ", ").Append(c.Storage switch
            {
                ColStorage.AddrKey or ColStorage.TextId => $"t.t[{col}::BIGINT + 1]",
                _ => col,
            }).Append(" AS \"").Append(c.Name).Append('"');
            if (c.Storage == ColStorage.AddrKey)
                keys.Add($"{c.Name}_key");
        }
        foreach (var c in Columns.Where(c => c.Storage == ColStorage.AddrKey))
            select.Append($", d.\"{c.Name}\" AS \"{c.Name}_key\"");
        yield return $"CREATE VIEW {Name}_keyed AS WITH t AS (SELECT coalesce(list(text ORDER BY id), []::VARCHAR[]) AS t FROM run_text) SELECT {select} FROM {DataName} d CROSS JOIN t";
        yield return $"COMMENT ON VIEW {Name}_keyed IS {Quote($"{Name} with each address's stored key (COLUMN_key: run_text.id of its text): compare keys (key IN (SELECT id FROM run_text WHERE ...)), not text, in hot filters")}";
        yield return $"CREATE VIEW {Name} AS SELECT * EXCLUDE ({string.Join(", ", keys)}) FROM {Name}_keyed";
        yield return $"COMMENT ON VIEW {Name} IS {Quote(Comment)}";
        foreach (var c in Columns)
            yield return $"COMMENT ON COLUMN {Name}.\"{c.Name}\" IS {Quote(c.Comment)}";
    }

    public static string Quote(string s) => "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'";
}

/// <summary>
/// The text of addresses, kept as UTF-8 per distinct address so a row costs a dictionary lookup and a
/// copy, not a format and a string. Bounded: past <see cref="Limit"/> entries it starts over, so
/// memory follows the working set of addresses, never the packet count.
/// </summary>
internal sealed class AddressText
{
    private const int Limit = 1 << 16;
    private readonly Dictionary<IpAddr, byte[]> _text = [];

    /// <summary>The run's run_text ids, shared by every buffer of every keyed table.</summary>
    public TextIds Ids { get; } = new();

    /// <summary>Keyed columns also keep their text, for plain batches (the Arrow files, --arrow).</summary>
    public bool KeepText { get; init; }

    public ReadOnlySpan<byte> Get(IpAddr a)
    {
        if (_text.Count >= Limit && !_text.ContainsKey(a))
            _text.Clear();
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_text, a, out bool exists);
        if (!exists)
            slot = Encoding.ASCII.GetBytes(a.ToString());
        return slot!;
    }
}

/// <summary>
/// The columns of one table for one record batch, as Arrow lays them out (values, validity bitmap,
/// int32 offsets + UTF-8 bytes for text), in plain arrays reused from batch to batch. Arrow's own
/// builders build a validity bit and a bounds check per value and copy every buffer again at Build;
/// here a value is one store, <see cref="Build"/> wraps the arrays without copying, and a batch
/// allocates a handful of wrapper objects, never anything per row. The batch Build returns is only
/// valid until <see cref="Clear"/>: the writer sends it to DuckDB and the Arrow file first.
/// Values are appended column by column in schema order through a cursor, and <see cref="EndRow"/>
/// checks the row was complete, so a row writer that skips a column fails at once instead of
/// shifting data.
/// </summary>
internal sealed partial class TableBuffer
{
    private readonly Column[] _c;
    private readonly AddressText _addresses;
    private int _col;
    private int _capacity;

    public TableBuffer(TableDef def, AddressText addresses, int capacity)
    {
        Def = def;
        _addresses = addresses;
        _capacity = Math.Max(capacity, 8);
        _c = [.. def.Columns.Select(c => new Column(c, _capacity, addresses.KeepText))];
    }

    public TableDef Def { get; }
    public int Rows { get; private set; }

    private sealed class Column(ColumnDef def, int capacity, bool keepText)
    {
        public readonly ColumnDef Def = def;
        public readonly ColStorage Storage = def.Storage;
        public readonly int Width = def.Storage switch
        {
            ColStorage.AddrKey or ColStorage.TextId => 4,
            _ => def.Kind switch
            {
                ColKind.Bool => 0,
                ColKind.UInt8 => 1,
                ColKind.UInt16 => 2,
                ColKind.UInt32 or ColKind.Int32 => 4,
                ColKind.Text => 4, // the offsets
                _ => 8,
            },
        };

        // A keyed column's Values are its keys; its text (offsets + UTF-8, as a plain text column's
        // Values + Data) is kept only for plain batches, when the run writes Arrow files.
        public readonly bool KeepText = def.Storage == ColStorage.Plain ? def.Kind == ColKind.Text : keepText;

        public byte[] Values = new byte[Size(def, capacity)];
        public byte[] Offsets = def.Storage != ColStorage.Plain && keepText ? new byte[(capacity + 1) * 4] : [];

        // An ENUM column keeps each row's code (its index in RunSchema.Enums) and writes the text only
        // when a plain batch is built (the Arrow file), so a row costs a byte store.
        public readonly string[]? EnumValues = def.EnumType is { } e ? RunSchema.EnumValues(e) : null;
        public readonly byte[][]? EnumUtf8 = def.EnumType is { } e2 ? [.. RunSchema.EnumValues(e2).Select(Encoding.UTF8.GetBytes)] : null;
        public byte[] Codes = def.EnumType is null ? [] : new byte[capacity];
        public byte[] Validity = new byte[(capacity + 7) / 8];
        public byte[] Data = def.Kind == ColKind.Text ? new byte[capacity * 16] : [];
        public int DataLength;
        public int NullCount;

        // The UTF-8 bytes (a keyed column: the id) of the last few strings written, by reference:
        // packets' text columns take a handful of shared strings (capture points, paths, enum names), so
        // most rows copy bytes or an id instead of transcoding or hashing. Fixed slots, overwritten in
        // turn, so a miss allocates nothing either.
        public const int CacheSlots = 8, CacheSlotBytes = 64;
        public readonly string?[] CachedText = def.Kind == ColKind.Text ? new string?[CacheSlots] : [];
        public readonly int[] CachedLength = def.Kind == ColKind.Text ? new int[CacheSlots] : [];
        public readonly uint[] CachedId = def.Kind == ColKind.Text ? new uint[CacheSlots] : [];
        public readonly byte[] CachedBytes = def.Kind == ColKind.Text ? new byte[CacheSlots * CacheSlotBytes] : [];
        public int CacheNext;

        // An address column's last few addresses and their ids: a packet's sightings and a flow's
        // packets come in runs, so most rows skip the run's address table (a 16-byte hash).
        public const int AddrSlots = 4;
        public readonly IpAddr[] CachedAddr = def.Storage == ColStorage.AddrKey ? new IpAddr[AddrSlots] : [];
        public readonly uint[] CachedAddrId = def.Storage == ColStorage.AddrKey ? new uint[AddrSlots] : [];
        public int CachedAddrCount;
        public int AddrNext;

        private static int Size(ColumnDef def, int capacity) => def.Storage switch
        {
            ColStorage.AddrKey or ColStorage.TextId => capacity * 4,
            _ => def.Kind switch
            {
                ColKind.Bool => (capacity + 7) / 8,
                ColKind.UInt8 => capacity,
                ColKind.UInt16 => capacity * 2,
                ColKind.UInt32 or ColKind.Int32 => capacity * 4,
                ColKind.Text => (capacity + 1) * 4,
                _ => capacity * 8,
            },
        };

        /// <summary>Where the text offsets go: Values for a plain text column, Offsets for a keyed one.</summary>
        public byte[] TextOffsets => Storage == ColStorage.Plain ? Values : Offsets;

        public void Grow(int capacity)
        {
            System.Array.Resize(ref Values, Size(Def, capacity));
            if (Offsets.Length > 0)
                System.Array.Resize(ref Offsets, (capacity + 1) * 4);
            if (EnumValues is not null)
                System.Array.Resize(ref Codes, capacity);
            System.Array.Resize(ref Validity, (capacity + 7) / 8);
        }

        public void Reset(int rows)
        {
            System.Array.Clear(Validity, 0, (rows + 7) / 8);
            if (Def.Kind == ColKind.Bool)
                System.Array.Clear(Values, 0, (rows + 7) / 8);
            DataLength = 0;
            NullCount = 0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Column Next()
    {
        var c = _c[_col++];
        c.Validity[Rows >> 3] |= (byte)(1 << (Rows & 7));
        return c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Put<T>(T v) where T : unmanaged
    {
        var c = Next();
        Unsafe.WriteUnaligned(ref c.Values[Rows * Unsafe.SizeOf<T>()], v);
    }

    public void Bool(bool v)
    {
        var c = Next();
        if (v)
            c.Values[Rows >> 3] |= (byte)(1 << (Rows & 7));
    }

    public void U8(byte v) => Put(v);
    public void U16(ushort v) => Put(v);
    public void U32(uint v) => Put(v);
    public void I32(int v) => Put(v);
    public void I64(long v) => Put(v);
    public void U64(ulong v) => Put(v);
    public void Ts(long us) => Put(us);

    public void Text(string? s)
    {
        if (s is null)
        {
            Null();
            return;
        }
        var c = Next();
        if (c.EnumValues is { } values)
        {
            // 1-based, as DuckDB lists index: the INSERT indexes with the code as it is (an add with an
            // overflow check per row was ~3% of the import).
            c.Codes[Rows] = (byte)(EnumCode(c, values, s) + 1);
            return;
        }
        if (c.Storage == ColStorage.TextId)
        {
            Unsafe.WriteUnaligned(ref c.Values[Rows * 4], TextId(c, s));
            if (c.KeepText)
                AppendText(c, s);
            return;
        }
        AppendText(c, s);
    }

    /// <summary>The run_text id of a keyed column's text: the reference cache first, then the run's table.</summary>
    private uint TextId(Column c, string s)
    {
        var cached = c.CachedText;
        for (int i = 0; i < cached.Length; i++)
        {
            if (ReferenceEquals(cached[i], s))
                return c.CachedId[i];
        }
        uint id = _addresses.Ids.Text(s);
        int slot = c.CacheNext;
        c.CacheNext = (slot + 1) % Column.CacheSlots;
        cached[slot] = s;
        c.CachedId[slot] = id;
        return id;
    }

    /// <summary>The UTF-8 of <paramref name="s"/> after the column's text so far, and the row's end offset.</summary>
    private void AppendText(Column c, string s)
    {
        var offsets = c.TextOffsets;
        if (c.Storage == ColStorage.Plain)
        {
            var cached = c.CachedText;
            for (int i = 0; i < cached.Length; i++)
            {
                if (ReferenceEquals(cached[i], s))
                {
                    int n = c.CachedLength[i];
                    if (c.DataLength + n > c.Data.Length)
                        System.Array.Resize(ref c.Data, Math.Max(c.Data.Length * 2, c.DataLength + n));
                    c.CachedBytes.AsSpan(i * Column.CacheSlotBytes, n).CopyTo(c.Data.AsSpan(c.DataLength));
                    c.DataLength += n;
                    Unsafe.WriteUnaligned(ref offsets[(Rows + 1) * 4], c.DataLength);
                    return;
                }
            }
        }
        int max = Encoding.UTF8.GetMaxByteCount(s.Length);
        if (c.DataLength + max > c.Data.Length)
            System.Array.Resize(ref c.Data, Math.Max(c.Data.Length * 2, c.DataLength + max));
        int written = Encoding.UTF8.GetBytes(s, c.Data.AsSpan(c.DataLength));
        if (c.Storage == ColStorage.Plain && written <= Column.CacheSlotBytes)
        {
            int slot = c.CacheNext;
            c.CacheNext = (slot + 1) % Column.CacheSlots;
            c.Data.AsSpan(c.DataLength, written).CopyTo(c.CachedBytes.AsSpan(slot * Column.CacheSlotBytes));
            c.CachedLength[slot] = written;
            c.CachedText[slot] = s;
        }
        c.DataLength += written;
        Unsafe.WriteUnaligned(ref offsets[(Rows + 1) * 4], c.DataLength);
    }

    /// <summary>The code of an ENUM value: the row writers pass the same literals RunSchema.Enums holds, so the reference test nearly always hits.</summary>
    private static byte EnumCode(Column c, string[] values, string s)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (ReferenceEquals(values[i], s))
                return (byte)i;
        }
        for (int i = 0; i < values.Length; i++)
        {
            if (string.Equals(values[i], s, StringComparison.Ordinal))
                return (byte)i;
        }
        throw new InvalidOperationException($"{c.Def.Name}: '{s}' is not a value of {c.Def.EnumType}");
    }

    public void Addr(IpAddr a)
    {
        var c = Next();
        if (c.Storage == ColStorage.AddrKey)
        {
            Unsafe.WriteUnaligned(ref c.Values[Rows * 4], AddrId(c, a));
            if (!c.KeepText)
                return;
        }
        var text = _addresses.Get(a);
        var offsets = c.TextOffsets;
        if (c.DataLength + text.Length > c.Data.Length)
            System.Array.Resize(ref c.Data, Math.Max(c.Data.Length * 2, c.DataLength + text.Length));
        text.CopyTo(c.Data.AsSpan(c.DataLength));
        c.DataLength += text.Length;
        Unsafe.WriteUnaligned(ref offsets[(Rows + 1) * 4], c.DataLength);
    }

    private uint AddrId(Column c, IpAddr a)
    {
        var cached = c.CachedAddr;
        for (int i = 0; i < c.CachedAddrCount; i++)
        {
            if (cached[i] == a)
                return c.CachedAddrId[i];
        }
        uint id = _addresses.Ids.Key(a);
        int slot = c.AddrNext;
        c.AddrNext = (slot + 1) % Column.AddrSlots;
        c.CachedAddrCount = Math.Max(c.CachedAddrCount, slot + 1);
        cached[slot] = a;
        c.CachedAddrId[slot] = id;
        return id;
    }

    /// <summary>A NULL in the next column, whatever its type: validity bit left clear (text repeats its offset).</summary>
    public void Null()
    {
        var c = _c[_col++];
        c.NullCount++;
        if (c.Def.Kind == ColKind.Text && c.KeepText)
            Unsafe.WriteUnaligned(ref c.TextOffsets[(Rows + 1) * 4], c.DataLength);
    }

    public void EndRow()
    {
        if (_col != _c.Length)
            throw new InvalidOperationException($"{Def.Name}: row has {_col} values for {_c.Length} columns");
        _col = 0;
        if (++Rows == _capacity)
        {
            _capacity *= 2;
            foreach (var c in _c)
                c.Grow(_capacity);
        }
    }

    /// <summary>
    /// The buffered rows as a record batch over the column arrays themselves: consume it, then
    /// <see cref="Clear"/> before the next append.
    /// </summary>
    public RecordBatch Build() => BuildBatch(scan: false);

    /// <summary>As <see cref="Build"/>, in <see cref="TableDef.ScanSchema"/>: ENUM columns as their codes, for DuckDB.</summary>
    public RecordBatch BuildForScan() => BuildBatch(scan: true);

    private RecordBatch BuildBatch(bool scan)
    {
        if (_col != 0)
            throw new InvalidOperationException($"{Def.Name}: a row was left unfinished");
        int rows = Rows;
        var arrays = new IArrowArray[_c.Length];
        for (int i = 0; i < _c.Length; i++)
        {
            var c = _c[i];
            var validity = c.NullCount == 0 ? ArrowBuffer.Empty : new ArrowBuffer(c.Validity.AsMemory(0, (rows + 7) / 8));
            if (c.EnumValues is not null)
            {
                if (scan)
                {
                    arrays[i] = new UInt8Array(new ArrayData(UInt8Type.Default, rows, c.NullCount, 0, [validity, new ArrowBuffer(c.Codes.AsMemory(0, rows))]));
                    continue;
                }
                ExpandEnum(c, rows);
            }
            if (c.Storage != ColStorage.Plain)
            {
                if (scan)
                {
                    arrays[i] = ArrowArrayFactory.BuildArray(new ArrayData(UInt32Type.Default, rows, c.NullCount, 0, [validity, new ArrowBuffer(c.Values.AsMemory(0, rows * c.Width))]));
                    continue;
                }
                if (!c.KeepText)
                    throw new InvalidOperationException($"{Def.Name}.{c.Def.Name}: a plain batch needs the text, which this run does not keep (AddressText.KeepText)");
                arrays[i] = new StringArray(new ArrayData(StringType.Default, rows, c.NullCount, 0,
                    [validity, new ArrowBuffer(c.Offsets.AsMemory(0, (rows + 1) * 4)), new ArrowBuffer(c.Data.AsMemory(0, c.DataLength))]));
                continue;
            }
            ArrowBuffer[] buffers = c.Def.Kind switch
            {
                ColKind.Text => [validity, new ArrowBuffer(c.Values.AsMemory(0, (rows + 1) * 4)), new ArrowBuffer(c.Data.AsMemory(0, c.DataLength))],
                ColKind.Bool => [validity, new ArrowBuffer(c.Values.AsMemory(0, (rows + 7) / 8))],
                _ => [validity, new ArrowBuffer(c.Values.AsMemory(0, rows * c.Width))],
            };
            arrays[i] = ArrowArrayFactory.BuildArray(new ArrayData(c.Def.ArrowType, rows, c.NullCount, 0, buffers));
        }
        return new RecordBatch(scan ? Def.ScanSchema : Def.Schema, arrays, rows);
    }

    /// <summary>An ENUM column's codes as the text of its values, for a plain batch (the Arrow file, the appender).</summary>
    private static void ExpandEnum(Column c, int rows)
    {
        var utf8 = c.EnumUtf8!;
        int length = 0;
        for (int r = 0; r < rows; r++)
        {
            if ((c.Validity[r >> 3] & (1 << (r & 7))) != 0)
            {
                var text = utf8[c.Codes[r] - 1];
                if (length + text.Length > c.Data.Length)
                    System.Array.Resize(ref c.Data, Math.Max(c.Data.Length * 2, length + text.Length));
                text.CopyTo(c.Data, length);
                length += text.Length;
            }
            Unsafe.WriteUnaligned(ref c.Values[(r + 1) * 4], length);
        }
        c.DataLength = length;
    }

    /// <summary>Starts the next batch, once the one from <see cref="Build"/> has been consumed (it shares these arrays).</summary>
    public void Clear()
    {
        foreach (var c in _c)
            c.Reset(Rows);
        Rows = 0;
    }
}
