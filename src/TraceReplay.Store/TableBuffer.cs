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

internal readonly record struct ColumnDef(string Name, ColKind Kind, bool Nullable, string Comment)
{
    public string SqlType => Kind switch
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
internal sealed class TableDef
{
    public TableDef(string name, string comment, params ColumnDef[] columns)
    {
        Name = name;
        Comment = comment;
        Columns = columns;
        Schema = new Schema([.. columns.Select(c => new Field(c.Name, c.ArrowType, c.Nullable))], null);
    }

    public string Name { get; }
    public string Comment { get; }
    public ColumnDef[] Columns { get; }
    public Schema Schema { get; }

    public IEnumerable<string> CreateStatements()
    {
        var sb = new StringBuilder();
        sb.Append("CREATE TABLE ").Append(Name).Append(" (");
        for (int i = 0; i < Columns.Length; i++)
        {
            var c = Columns[i];
            sb.Append(i == 0 ? "" : ", ").Append('"').Append(c.Name).Append("\" ").Append(c.SqlType);
            if (!c.Nullable)
                sb.Append(" NOT NULL");
        }
        sb.Append(')');
        yield return sb.ToString();
        yield return $"COMMENT ON TABLE {Name} IS {Quote(Comment)}";
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
/// Column builders of one table, reused from batch to batch (Clear keeps their capacity). Values are
/// appended column by column in schema order through a cursor, and <see cref="EndRow"/> checks the
/// row was complete, so a row writer that skips a column fails at once instead of shifting data.
/// </summary>
internal sealed class TableBuffer
{
    private readonly IArrowArrayBuilder[] _b;
    private readonly ColKind[] _kinds;
    private readonly AddressText _addresses;
    private int _col;

    public TableBuffer(TableDef def, AddressText addresses)
    {
        Def = def;
        _addresses = addresses;
        _kinds = [.. def.Columns.Select(c => c.Kind)];
        _b = [.. _kinds.Select(NewBuilder)];
    }

    public TableDef Def { get; }
    public int Rows { get; private set; }

    private static IArrowArrayBuilder NewBuilder(ColKind k) => k switch
    {
        ColKind.Bool => new BooleanArray.Builder(),
        ColKind.UInt8 => new UInt8Array.Builder(),
        ColKind.UInt16 => new UInt16Array.Builder(),
        ColKind.UInt32 => new UInt32Array.Builder(),
        ColKind.Int32 => new Int32Array.Builder(),
        ColKind.Int64 or ColKind.Ts => new Int64Array.Builder(),
        ColKind.UInt64 => new UInt64Array.Builder(),
        _ => new StringArray.Builder(),
    };

    private T Next<T>() where T : class => Unsafe.As<T>(_b[_col++]);

    public void Bool(bool v) => Next<BooleanArray.Builder>().Append(v);
    public void U8(byte v) => Next<UInt8Array.Builder>().Append(v);
    public void U16(ushort v) => Next<UInt16Array.Builder>().Append(v);
    public void U32(uint v) => Next<UInt32Array.Builder>().Append(v);
    public void I32(int v) => Next<Int32Array.Builder>().Append(v);
    public void I64(long v) => Next<Int64Array.Builder>().Append(v);
    public void U64(ulong v) => Next<UInt64Array.Builder>().Append(v);
    public void Ts(long us) => Next<Int64Array.Builder>().Append(us);

    public void Text(string? s)
    {
        var b = Next<StringArray.Builder>();
        if (s is null)
        {
            b.AppendNull();
            return;
        }
        if (s.Length <= 256)
        {
            Span<byte> utf8 = stackalloc byte[s.Length * 3];
            b.Append(utf8[..Encoding.UTF8.GetBytes(s, utf8)]);
        }
        else
        {
            b.Append(s, Encoding.UTF8);
        }
    }

    public void Addr(IpAddr a) => Next<StringArray.Builder>().Append(_addresses.Get(a));

    /// <summary>A NULL in the next column, whatever its type.</summary>
    public void Null()
    {
        var b = _b[_col];
        _ = _kinds[_col++] switch
        {
            ColKind.Bool => ((BooleanArray.Builder)b).AppendNull(),
            ColKind.UInt8 => ((UInt8Array.Builder)b).AppendNull(),
            ColKind.UInt16 => ((UInt16Array.Builder)b).AppendNull(),
            ColKind.UInt32 => ((UInt32Array.Builder)b).AppendNull(),
            ColKind.Int32 => ((Int32Array.Builder)b).AppendNull(),
            ColKind.Int64 or ColKind.Ts => ((Int64Array.Builder)b).AppendNull(),
            ColKind.UInt64 => ((UInt64Array.Builder)b).AppendNull(),
            _ => (object)((StringArray.Builder)b).AppendNull(),
        };
    }

    public void EndRow()
    {
        if (_col != _b.Length)
            throw new InvalidOperationException($"{Def.Name}: row has {_col} values for {_b.Length} columns");
        _col = 0;
        Rows++;
    }

    /// <summary>The buffered rows as a record batch; the builders are cleared for the next one.</summary>
    public RecordBatch Build()
    {
        if (_col != 0)
            throw new InvalidOperationException($"{Def.Name}: a row was left unfinished");
        var arrays = new IArrowArray[_b.Length];
        for (int i = 0; i < _b.Length; i++)
        {
            arrays[i] = _kinds[i] switch
            {
                ColKind.Bool => ((BooleanArray.Builder)_b[i]).Build(),
                ColKind.UInt8 => ((UInt8Array.Builder)_b[i]).Build(),
                ColKind.UInt16 => ((UInt16Array.Builder)_b[i]).Build(),
                ColKind.UInt32 => ((UInt32Array.Builder)_b[i]).Build(),
                ColKind.Int32 => ((Int32Array.Builder)_b[i]).Build(),
                ColKind.Int64 => ((Int64Array.Builder)_b[i]).Build(),
                ColKind.Ts => AsTimestamp(((Int64Array.Builder)_b[i]).Build()),
                ColKind.UInt64 => ((UInt64Array.Builder)_b[i]).Build(),
                _ => ((StringArray.Builder)_b[i]).Build(),
            };
        }
        var batch = new RecordBatch(Def.Schema, arrays, Rows);
        foreach (var b in _b)
            Clear(b);
        Rows = 0;
        return batch;
    }

    /// <summary>Microseconds were appended as int64; Arrow's timestamp has the same layout, so the buffers are reused as they are.</summary>
    private static TimestampArray AsTimestamp(Int64Array a) =>
        new(ColumnDef.UtcMicros, a.ValueBuffer, a.NullBitmapBuffer, a.Length, a.NullCount, a.Offset);

    private static void Clear(IArrowArrayBuilder b)
    {
        switch (b)
        {
            case BooleanArray.Builder x: x.Clear(); break;
            case UInt8Array.Builder x: x.Clear(); break;
            case UInt16Array.Builder x: x.Clear(); break;
            case UInt32Array.Builder x: x.Clear(); break;
            case Int32Array.Builder x: x.Clear(); break;
            case Int64Array.Builder x: x.Clear(); break;
            case UInt64Array.Builder x: x.Clear(); break;
            case StringArray.Builder x: x.Clear(); break;
        }
    }
}
