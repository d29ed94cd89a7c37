using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using TraceReplay.Capture;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Capture;

/// <summary>
/// Every capture of the shared corpus opens and reads to the end, and agrees with three independent
/// witnesses: the packet counts in SOURCES.md, the pcapng generator's block counts (.txt), and
/// tcpdump's own reading of timestamps and directions.
/// </summary>
public sealed partial class CorpusTests
{
    [Theory]
    [MemberData(nameof(Corpus.CaptureFiles), MemberType = typeof(Corpus))]
    public void Every_capture_reads_to_the_end_with_the_packet_count_SOURCES_md_gives(string relative)
    {
        string path = Corpus.Pcap(relative);
        var expected = SourcesPacketCounts().GetValueOrDefault(relative.Replace('\\', '/'));
        Assert.True(expected > 0, $"{relative} is not listed in SOURCES.md");

        using var stream = new PacketStream([new CaptureSource(path, null)]);
        long packets = 0;
        while (stream.MoveNext())
            packets++;
        Assert.Equal(expected, packets);
        Assert.Equal(0, stream.Readers[0].Problems.SkippedRecords);
    }

    [Theory]
    [InlineData("pcapng-test-generator/output_be/basic/test005.pcapng")]
    [InlineData("pcapng-test-generator/output_le/advanced/test101.pcapng")]
    [InlineData("pcapng-test-generator/output_le/basic/test001.pcapng")]
    [InlineData("pcapng-test-generator/output_le/basic/test005.pcapng")]
    [InlineData("pcapng-test-generator/output_le/basic/test006.pcapng")]
    [InlineData("pcapng-test-generator/output_le/basic/test010.pcapng")]
    [InlineData("pcapng-test-generator/output_le/difficult/test202.pcapng")]
    public void Pcapng_edge_cases_match_their_block_descriptions(string relative)
    {
        string path = Corpus.Pcap(relative);
        var counts = BlockCounts(Path.ChangeExtension(path, ".txt"));
        using var reader = CaptureFile.Open(path);
        long packets = 0;
        var linkTypes = new HashSet<LinkType>();
        while (reader.MoveNext())
        {
            packets++;
            linkTypes.Add(reader.Current.LinkType);
            Assert.Equal(reader.Interfaces[reader.Current.InterfaceIndex].LinkType, reader.Current.LinkType);
        }
        Assert.Equal(counts.GetValueOrDefault("EPB") + counts.GetValueOrDefault("SPB") + counts.GetValueOrDefault("PB"), packets);
        Assert.Equal(counts.GetValueOrDefault("IDB"), reader.Interfaces.Count);
        Assert.Equal(counts.GetValueOrDefault("SHB"), ((PcapNgReader)reader).Sections);
    }

    [Fact]
    public void Two_linktype_pcapng_that_libpcap_rejects_is_read_with_both_link_types()
    {
        // tcpdump: "an interface has a type 0 different from the type of the first interface".
        string path = Corpus.Pcap("pcapng-test-generator/output_le/basic/test006.pcapng");
        using var reader = CaptureFile.Open(path);
        var seen = new HashSet<LinkType>();
        while (reader.MoveNext())
            seen.Add(reader.Current.LinkType);
        Assert.Equal([LinkType.Null, LinkType.Ethernet], seen.Order());
    }

    /// <summary>Files libpcap can read: our timestamps (to the nanosecond) and lengths equal tcpdump's.</summary>
    [Theory]
    [MemberData(nameof(Corpus.CaptureFiles), MemberType = typeof(Corpus))]
    public void Timestamps_agree_with_tcpdump(string relative)
    {
        string path = Corpus.Pcap(relative);
        var tcpdump = Tcpdump.Run("-nn", "-tt", "--time-stamp-precision=nano", "-r", path);
        // libpcap stops at a second pcapng interface whose link type or snap length differs from the
        // first one's; what it printed up to there must still be a prefix of what we read.
        bool libpcapGaveUp = tcpdump.ExitCode != 0;
        if (libpcapGaveUp)
            Assert.Matches("different from the (type|snapshot length) of the first interface", tcpdump.Error);
        var expected = tcpdump.Lines.Select(l => l[..l.IndexOf(' ', StringComparison.Ordinal)]).ToList();
        using var reader = CaptureFile.Open(path);
        var actual = new List<string>();
        while (reader.MoveNext())
        {
            long ns = reader.Current.TimestampNs;
            actual.Add(string.Create(CultureInfo.InvariantCulture, $"{ns / 1_000_000_000}.{ns % 1_000_000_000:D9}"));
        }
        if (libpcapGaveUp)
            Assert.Equal(expected, actual.Take(expected.Count));
        else
            Assert.Equal(expected, actual);
    }

    [Fact]
    public void Sll2_names_interfaces_through_link_json_and_directions_match_tcpdump()
    {
        string path = Corpus.Pcap("zeek/testing/btest/Traces/linux_dlt_sll2.pcap");
        // Names are ours to choose (the capture's host is unknown); tcpdump gives the directions.
        var host = InterfaceTable.Parse("""[{"ifindex":1,"ifname":"lo","address":"00:00:00:00:00:00"},{"ifindex":26,"ifname":"veth-a"}]""", "link.json");
        var directions = Tcpdump.Run("-nn", "-r", path).Lines
            .Select(l => l.Contains(" In ", StringComparison.Ordinal) ? PacketDirection.Incoming : l.Contains(" Out ", StringComparison.Ordinal) ? PacketDirection.Outgoing : PacketDirection.Unknown)
            .ToList();
        Assert.Equal(6, directions.Count);

        using var stream = new PacketStream([new CaptureSource(path, null)], host);
        var seen = new List<(string, PacketDirection, int)>();
        while (stream.MoveNext())
            seen.Add((stream.Points.Name(stream.Point), stream.Direction, stream.Packet.LinkIfIndex));
        Assert.Equal(directions, seen.Select(s => s.Item2));
        Assert.All(seen, s => Assert.Equal(s.Item3 == 1 ? "lo" : "veth-a", s.Item1));
        Assert.Equal([1, 26], seen.Select(s => s.Item3).Distinct().Order());
    }

    [Fact]
    public void Sll2_without_link_json_names_the_interface_by_index()
    {
        string path = Corpus.Pcap("zeek/testing/btest/Traces/linux_dlt_sll2.pcap");
        using var stream = new PacketStream([new CaptureSource(path, null)]);
        var names = new HashSet<string>();
        while (stream.MoveNext())
            names.Add(stream.Points.Name(stream.Point));
        Assert.Equal(["ifindex1", "ifindex26"], names.Order());
    }

    [Fact]
    public void Multi_interface_pcapng_gives_each_packet_its_own_interface()
    {
        // SOURCES.md: docker traffic (172.17.0.2) was captured on one IDB, host traffic (10.0.0.4) on the other.
        string path = Corpus.Pcap("zeek/testing/btest/Traces/pcapng-multi-interface.pcapng");
        using var stream = new PacketStream([new CaptureSource(path, null)]);
        var byHost = new Dictionary<string, HashSet<string>>();
        while (stream.MoveNext())
        {
            var p = stream.Packet;
            string inside = p.Src.ToString() == "1.1.1.1" ? p.Dst.ToString() : p.Src.ToString();
            if (!byHost.TryGetValue(inside, out var set))
                byHost[inside] = set = [];
            set.Add(stream.Points.Name(stream.Point));
        }
        Assert.Equal(["10.0.0.4", "172.17.0.2"], byHost.Keys.Order());
        Assert.Single(byHost["10.0.0.4"]);
        Assert.Single(byHost["172.17.0.2"]);
        Assert.NotEqual(byHost["10.0.0.4"].Single(), byHost["172.17.0.2"].Single());
        using var reader = CaptureFile.Open(path);
        while (reader.MoveNext())
        {
        }
        Assert.Equal(reader.Interfaces.Select(i => i.Name).Order(), byHost.Values.Select(v => v.Single()).Order());
    }

    [Fact]
    public void Pcapng_epb_flags_give_directions()
    {
        // ptcpdump writes EPB flags; a loopback TCP session is seen once leaving and once arriving.
        string path = Corpus.Pcap("ptcpdump/testdata/format/tcp.pcapng");
        using var stream = new PacketStream([new CaptureSource(path, null)]);
        int incoming = 0, outgoing = 0;
        while (stream.MoveNext())
        {
            Assert.Equal("lo", stream.Points.Name(stream.Point));
            if (stream.Direction == PacketDirection.Incoming)
                incoming++;
            else if (stream.Direction == PacketDirection.Outgoing)
                outgoing++;
        }
        Assert.Equal(24, incoming + outgoing);
        Assert.Equal(incoming, outgoing);
    }

    private static Dictionary<string, long> SourcesPacketCounts()
    {
        // | file | origin repo | path in repo | commit | licence | bytes | packets | ...
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string line in File.ReadLines(Path.Combine(Corpus.Pcaps, "SOURCES.md")))
        {
            var cells = line.Split('|', StringSplitOptions.TrimEntries);
            if (cells.Length > 8 && long.TryParse(cells[7], NumberStyles.None, CultureInfo.InvariantCulture, out long packets))
                result[cells[1]] = packets;
        }
        return result;
    }

    private static Dictionary<string, int> BlockCounts(string txt)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match m in BlockCountLine().Matches(File.ReadAllText(txt)))
            counts[m.Groups[1].Value] = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        return counts;
    }

    [GeneratedRegex(@"^\t([A-Z]+): (\d+)$", RegexOptions.Multiline)]
    private static partial Regex BlockCountLine();
}
