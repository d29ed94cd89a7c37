using TraceReplay.Store;

namespace TraceReplay.Tests.Store;

/// <summary>
/// TableBuffer's column-at-a-time primitives (TableBuffer.Columns.cs) on their own: a column's
/// validity copied from another for a range that starts inside a byte of the bitmap must take that
/// range's bits only, whatever the two columns held for the rows before.
/// </summary>
public sealed class TableBufferColumnsTests
{
    private static int Column(string name) => Array.FindIndex(RunSchema.Packets.Columns, c => c.Name == name);

    [Fact]
    public void Same_validity_takes_only_the_range_s_bits()
    {
        int family = Column("family"), proto = Column("proto");
        var b = new TableBuffer(RunSchema.Packets, new AddressText(), 64);

        // Rows 0-4: family valid, proto NULL — the opposite of what the copy below would give them.
        b.Reserve(5);
        b.AllValid(family, 5);
        b.AddNulls(proto, 5);
        b.AdvanceRows(5);

        // Rows 5-14 (starting mid-byte, ending mid-byte of the next): family valid on even rows, and proto the same.
        b.Reserve(10);
        var bits = b.ValidityOf(family);
        int nulls = 0;
        for (int r = 5; r < 15; r++)
        {
            if (r % 2 == 0)
                TableBuffer.SetValid(bits, r);
            else
                nulls++;
        }
        b.AddNulls(family, nulls);
        b.SameValidity(family, [proto], 10, nulls);
        b.AdvanceRows(10);

        using var batch = b.BuildForScan();
        var p = batch.Column(proto);
        var f = batch.Column(family);
        for (int r = 0; r < 15; r++)
        {
            Assert.Equal(r >= 5 && r % 2 == 0, p.IsValid(r));
            Assert.Equal(r < 5 || r % 2 == 0, f.IsValid(r));
        }
        // NULLs: proto 5 before + 5 odd rows; family the 5 odd rows.
        Assert.Equal(10, p.NullCount);
        Assert.Equal(5, f.NullCount);
    }
}
