using System.Runtime.CompilerServices;
using TraceReplay.Capture.Decode;

namespace TraceReplay.Store;

/// <summary>
/// Column-at-a-time filling: a writer that holds a whole array of rows (RunWriter.Packets.cs) writes
/// one column for all of them in a tight loop straight into its value and validity arrays, then
/// <see cref="AdvanceRows"/> makes them rows. The row cursor (<see cref="Next"/>, EndRow) costs a
/// call, a column object and a bounds check per value; this costs a store. The arrays are the
/// same, so <see cref="Build"/> and <see cref="BuildForScan"/> give the very batches row-at-a-time
/// filling would. Not for a table that keeps keyed columns' text too (the Arrow files): those offsets
/// are the row path's.
/// </summary>
internal sealed partial class TableBuffer
{
    /// <summary>Room for <paramref name="rows"/> more rows (and the one the row path always keeps free).</summary>
    public void Reserve(int rows)
    {
        if (_col != 0)
            throw new InvalidOperationException($"{Def.Name}: a row was left unfinished");
        if (Rows + rows < _capacity)
            return;
        while (Rows + rows >= _capacity)
            _capacity *= 2;
        foreach (var c in _c)
            c.Grow(_capacity);
    }

    /// <summary>The <paramref name="rows"/> rows written column by column from <see cref="Rows"/> on are complete.</summary>
    public void AdvanceRows(int rows)
    {
        if (Rows + rows >= _capacity)
            throw new InvalidOperationException($"{Def.Name}: {rows} rows past the reserved capacity");
        Rows += rows;
    }

    /// <summary>The value slots of a fixed-width column for the next <paramref name="rows"/> rows.</summary>
    public Span<T> Values<T>(int column, int rows) where T : unmanaged
    {
        var c = _c[column];
        if (c.Width != Unsafe.SizeOf<T>() || c.EnumValues is not null)
            throw new InvalidOperationException($"{Def.Name}.{c.Def.Name}: not a column of {typeof(T).Name}");
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(c.Values.AsSpan(Rows * c.Width, rows * c.Width));
    }

    /// <summary>An ENUM column's 1-based codes (as <see cref="Text"/> stores them) for the next rows; 0 for a NULL is not a code.</summary>
    public Span<byte> Codes(int column, int rows)
    {
        var c = _c[column];
        if (c.EnumValues is null)
            throw new InvalidOperationException($"{Def.Name}.{c.Def.Name}: not an ENUM column");
        return c.Codes.AsSpan(Rows, rows);
    }

    /// <summary>Marks the next <paramref name="rows"/> rows of a column valid (a column without NULLs there).</summary>
    public void AllValid(int column, int rows)
    {
        var v = _c[column].Validity;
        int r = Rows, end = Rows + rows;
        for (; r < end && (r & 7) != 0; r++)
            v[r >> 3] |= (byte)(1 << (r & 7));
        for (; r + 8 <= end; r += 8)
            v[r >> 3] = 0xff;
        for (; r < end; r++)
            v[r >> 3] |= (byte)(1 << (r & 7));
    }

    /// <summary>
    /// A column's validity bytes, for a writer that sets the bits of rows <see cref="Rows"/>.. itself
    /// (<see cref="SetValid"/>) and reports the NULLs with <see cref="AddNulls"/>.
    /// </summary>
    public byte[] ValidityOf(int column) => _c[column].Validity;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetValid(byte[] validity, int row) => validity[row >> 3] |= (byte)(1 << (row & 7));

    public void AddNulls(int column, int nulls) => _c[column].NullCount += nulls;

    /// <summary>
    /// Columns <paramref name="to"/> get the validity column <paramref name="from"/> has for the next
    /// <paramref name="rows"/> rows (<paramref name="nulls"/> of them NULL): columns NULL together (an
    /// address's ports) cost one pass of bits.
    /// </summary>
    public void SameValidity(int from, ReadOnlySpan<int> to, int rows, int nulls)
    {
        if (rows == 0)
            return;
        var src = _c[from].Validity;
        int first = Rows >> 3, last = (Rows + rows - 1) >> 3;
        // The first and last bytes may hold other rows' bits: only this range's are taken (the
        // targets' bits of the range are still clear).
        byte firstMask = (byte)(0xff << (Rows & 7));
        byte lastMask = (byte)(0xff >> (7 - ((Rows + rows - 1) & 7)));
        foreach (int column in to)
        {
            var c = _c[column];
            var dst = c.Validity;
            if (first == last)
            {
                dst[first] |= (byte)(src[first] & firstMask & lastMask);
            }
            else
            {
                dst[first] |= (byte)(src[first] & firstMask);
                src.AsSpan(first + 1, last - first - 1).CopyTo(dst.AsSpan(first + 1));
                dst[last] |= (byte)(src[last] & lastMask);
            }
            c.NullCount += nulls;
        }
    }

    /// <summary>Row <see cref="Rows"/> + <paramref name="row"/> of a BOOLEAN column (valid).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void BoolAt(int column, int row, bool value)
    {
        var c = _c[column];
        int r = Rows + row;
        c.Validity[r >> 3] |= (byte)(1 << (r & 7));
        if (value)
            c.Values[r >> 3] |= (byte)(1 << (r & 7));
    }

    /// <summary>Row <see cref="Rows"/> + <paramref name="row"/> of a text-id column: the run_text id of its text, or NULL.</summary>
    public void TextIdAt(int column, int row, string? s)
    {
        var c = _c[column];
        if (c.Storage != ColStorage.TextId || c.KeepText)
            throw new InvalidOperationException($"{Def.Name}.{c.Def.Name}: not a text-id column without text");
        int r = Rows + row;
        if (s is null)
        {
            c.NullCount++;
            return;
        }
        c.Validity[r >> 3] |= (byte)(1 << (r & 7));
        Unsafe.WriteUnaligned(ref c.Values[r * 4], TextId(c, s));
    }

    /// <summary>Row <see cref="Rows"/> + <paramref name="row"/> of an address-key column: its address's key.</summary>
    public void AddrKeyAt(int column, int row, IpAddr a)
    {
        var c = _c[column];
        if (c.Storage != ColStorage.AddrKey || c.KeepText)
            throw new InvalidOperationException($"{Def.Name}.{c.Def.Name}: not an address-key column without text");
        int r = Rows + row;
        c.Validity[r >> 3] |= (byte)(1 << (r & 7));
        Unsafe.WriteUnaligned(ref c.Values[r * 4], AddrId(c, a));
    }

    /// <summary>A keyed column's value in the row being filled is NULL (its validity bit stays clear).</summary>
    public void NullAt(int column) => _c[column].NullCount++;
}
