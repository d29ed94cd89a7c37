using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Tests.Host.Iptables;

/// <summary>
/// XtValues.ScanUInt32, the one strtoul(…, 0) prefix scanner behind libxt_NAT's port parser and
/// libxt_u32's parse_number. Expected values are C's strtoul with base 0: `0x` is hex only when a
/// hex digit follows (else the `0` is read as octal and the scan stops at `x`), a leading `0` is
/// octal and stops at 8 or 9, and no digit leaves the end pointer where it started.
/// </summary>
public sealed class XtValuesTests
{
    [Theory]
    [InlineData("0x1f,", 0, 31ul, 4)]
    [InlineData("017", 0, 15ul, 3)]
    [InlineData("09", 0, 0ul, 1)]
    [InlineData("0x", 0, 0ul, 1)]
    [InlineData("0xg", 0, 0ul, 1)]
    [InlineData("a12", 1, 12ul, 3)]
    [InlineData("abc", 0, 0ul, 0)]
    [InlineData("4294967295-", 0, 4294967295ul, 10)]
    public void Scan_reads_what_strtoul_base_0_reads(string text, int start, ulong value, int end)
    {
        Assert.Equal(end, XtValues.ScanUInt32(text, start, out ulong v));
        Assert.Equal(value, v);
    }

    [Fact]
    public void Scan_shows_a_32_bit_overflow()
    {
        Assert.Equal(11, XtValues.ScanUInt32("99999999999", 0, out ulong v));
        Assert.True(v > uint.MaxValue);
    }

    [Fact]
    public void Nat_ports_and_u32_numbers_use_it()
    {
        // `010` is octal 8 and `0x14` hex 20, as strtoul reads them in libxt_NAT.c parse_ports.
        var rs = IptablesParser.Parse("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:010-0x14\nCOMMIT\n", "t.rules", IptFamily.IPv4);
        var range = Assert.IsType<DnatTarget>(rs.Table("nat")!.Chain("PREROUTING")!.Rules[0].Target).Range;
        Assert.Equal(((ushort)8, (ushort)20), (range.MinProto, range.MaxProto));

        var e = Assert.Throws<HostParseException>(() =>
            IptablesParser.Parse("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m u32 --u32 0x100000000=1\nCOMMIT\n", "t.rules", IptFamily.IPv4));
        Assert.Contains("does not fit in 32 bits", e.Message, StringComparison.Ordinal);
        Assert.Equal(3, e.Location.Line);
    }
}
