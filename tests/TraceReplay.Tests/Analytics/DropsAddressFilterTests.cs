using TraceReplay.Analytics.Drops;
using TraceReplay.Analytics.Run;
using TraceReplay.Capture.Decode;
using TraceReplay.Store;

namespace TraceReplay.Tests.Analytics;

/// <summary>
/// `drops --src/--dst` compare the stored address keys (schema 3): the same packets must be selected as
/// when the filter compared text — an address however it is typed, an IPv4 prefix with its bounds, an
/// IPv6 prefix over the run's IPv6 texts.
/// </summary>
public sealed class DropsAddressFilterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-dropsaddr-").FullName;
    private readonly string _db;

    // One dropped packet from each source, all to 192.0.2.1, each its own flow (no conntrack entry).
    private static readonly string[] Sources = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "11.0.0.0", "2001:db8::1", "2001:db8::1:0:0:1"];

    public DropsAddressFilterTests()
    {
        _db = Path.Combine(_dir, "run.duckdb");
        using var w = RunWriter.Create(_db);
        w.AddRule(new RuleRow { Id = 0, Family = RunFamily.Ipv4, Table = "filter", Chain = "INPUT", Position = 0, IsPolicy = true, Text = "DROP" });
        for (int i = 0; i < Sources.Length; i++)
        {
            var src = IpAddr.Parse(Sources[i]);
            w.AddPacket(new PacketRow
            {
                Id = i, PacketId = i, TimestampUs = 1_795_575_600_000_000 + i, CapturePoint = "eth0", Direction = SightingDirection.In,
                Family = src.IsV4 ? RunFamily.Ipv4 : RunFamily.Ipv6, Protocol = 6, Src = src, Dst = src.IsV4 ? IpAddr.Parse("192.0.2.1") : IpAddr.Parse("2001:db8::ffff"),
                SrcPort = (ushort)(1000 + i), DstPort = 22, Length = 60, CtId = -1, Path = "PREROUTING>INPUT", Verdict = PacketVerdict.Drop, VerdictRuleId = 0,
            });
        }
        w.Complete();
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("10.0.0.1", new[] { "10.0.0.1" })]
    [InlineData("2001:DB8:0::1", new[] { "2001:db8::1" })] // typed differently: the same address
    [InlineData("2001:db8::1:0:0:1", new[] { "2001:db8::1:0:0:1" })]
    [InlineData("::ffff:10.0.0.2", new[] { "10.0.0.2" })] // IPv4-mapped: the address the run prints dotted
    [InlineData("10.0.0.2/31", new[] { "10.0.0.2", "10.0.0.3" })] // 10.0.0.2–10.0.0.3
    [InlineData("10.0.0.0/8", new[] { "10.0.0.1", "10.0.0.2", "10.0.0.3" })] // not 11.0.0.0, the next key up
    [InlineData("0.0.0.0/0", new[] { "10.0.0.1", "10.0.0.2", "10.0.0.3", "11.0.0.0" })] // IPv4 only: IPv6 texts are not dotted
    // IPv6 prefixes. 2001:db8::1:0:0:1 is 2001:db8:0:0:1:0:0:1: inside /64 (its first four groups are
    // 2001:db8:0:0), outside /80 (its fifth group is 1), where 2001:db8::1 (fifth group 0) stays inside.
    [InlineData("2001:db8::/32", new[] { "2001:db8::1", "2001:db8::1:0:0:1" })]
    [InlineData("2001:db8::/64", new[] { "2001:db8::1", "2001:db8::1:0:0:1" })]
    [InlineData("2001:db8::/80", new[] { "2001:db8::1" })]
    [InlineData("2001:db8:0:0:1::/80", new[] { "2001:db8::1:0:0:1" })]
    [InlineData("2001:DB8::1/128", new[] { "2001:db8::1" })]
    [InlineData("2001:db8::1:2:3:4/80", new[] { "2001:db8::1:0:0:1" })] // 2001:db8:0:0:1:2:3:4: the bits past /80 are masked off (2001:db8:0:0:1::/80), as iptables does
    [InlineData("::ffff:10.0.0.0/126", new[] { "10.0.0.1", "10.0.0.2", "10.0.0.3" })] // IPv4-mapped: 10.0.0.0/30, printed dotted
    [InlineData("::/0", new[] { "2001:db8::1", "2001:db8::1:0:0:1" })] // IPv6 only: the run prints IPv4 dotted
    [InlineData("2001:db9::/32", new string[0])]
    [InlineData("192.0.2.99", new string[0])]
    [InlineData("2001:db8::2", new string[0])] // an address the run never saw has no run_text row
    public void A_source_filter_selects_the_packets_from_that_address_or_prefix(string filter, string[] expected)
    {
        using var db = RunDatabase.Open(_db);
        var report = DropReports.Build(db, new DropFilter { Src = filter, Top = 100 });
        Assert.Equal(expected, report.Causes.SelectMany(c => c.TopFlows).Select(f => f.Src!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_ipv6_prefix_compares_destinations_and_skips_texts_that_are_not_addresses()
    {
        using (var db = RunDatabase.Open(_db))
        {
            Assert.Equal(2, DropReports.Build(db, new DropFilter { Dst = "2001:db8::ff00/120" }).Packets);
            Assert.Equal(0, DropReports.Build(db, new DropFilter { Dst = "2001:db8::/120" }).Packets);
        }

        // run_text holds more than addresses: a capture point or a drop reason with colons is read with
        // the addresses. A rule id such as filter:INPUT:policy fails to parse; "[2001:db8::0]:443" does
        // parse (IPAddress takes a bracketed address with a port, here 2001:db8::) and lands in
        // 2001:db8::/127's id list, harmlessly: no packet's source key is that text's id.
        string other = Path.Combine(_dir, "colons.duckdb");
        using (var w = RunWriter.Create(other))
        {
            w.AddRule(new RuleRow { Id = 0, Family = RunFamily.Ipv6, Table = "filter", Chain = "INPUT", Position = 0, IsPolicy = true, Text = "DROP" });
            w.AddPacket(new PacketRow
            {
                Id = 0, PacketId = 0, TimestampUs = 1_795_575_600_000_000, CapturePoint = "[2001:db8::0]:443", Direction = SightingDirection.In,
                Family = RunFamily.Ipv6, Protocol = 6, Src = IpAddr.Parse("2001:db8::1"), Dst = IpAddr.Parse("2001:db8::2"),
                SrcPort = 1000, DstPort = 22, Length = 80, CtId = -1, Path = "PREROUTING>INPUT", Verdict = PacketVerdict.Drop, VerdictRuleId = 0,
                DropReason = "filter:INPUT:policy",
            });
            w.Complete();
        }
        using var colons = RunDatabase.Open(other);
        Assert.Equal(1, DropReports.Build(colons, new DropFilter { Src = "::/0" }).Packets);
        Assert.Equal(1, DropReports.Build(colons, new DropFilter { Src = "2001:db8::/127" }).Packets);
        Assert.Equal(0, DropReports.Build(colons, new DropFilter { Src = "2001:db8::/127", Dst = "2001:db8::/127" }).Packets); // dst 2001:db8::2 is outside
    }

    [Fact]
    public void A_destination_filter_compares_the_destination_key()
    {
        using var db = RunDatabase.Open(_db);
        Assert.Equal(4, DropReports.Build(db, new DropFilter { Dst = "192.0.2.1" }).Packets);
        Assert.Equal(2, DropReports.Build(db, new DropFilter { Dst = "2001:db8::ffff" }).Packets);
    }
}
