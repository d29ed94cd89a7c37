using TraceReplay.Capture;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;
using TraceReplay.Capture.Writers;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Capture;

public sealed class MergeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-merge-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes a capture whose frames carry their own (file, index) as the UDP source port, to read the order back.</summary>
    private string Write(string name, int file, params long[] times)
    {
        string path = Path.Combine(_dir, name);
        using var w = PcapWriter.Create(path, LinkType.Ethernet);
        for (int i = 0; i < times.Length; i++)
            w.Write(times[i], Frames.UdpV4("10.0.0.1", (ushort)((file * 100) + i), "10.0.0.2", 53));
        return path;
    }

    [Fact]
    public void Files_merge_by_time_and_ties_keep_argument_then_file_order()
    {
        string a = Write("a.pcap", 1, 10, 20, 20, 40);
        string b = Write("b.pcap", 2, 5, 20, 30);
        string c = Write("c.pcap", 3, 20);
        using var stream = new PacketStream([new CaptureSource(a, "eth0"), new CaptureSource(b, "eth1"), new CaptureSource(c, "eth0")]);
        var order = new List<(long, int, string)>();
        while (stream.MoveNext())
            order.Add((stream.Record.TimestampNs, stream.Packet.SrcPort, stream.Points.Name(stream.Point)));
        // At t=20: a's two records in file order, then b's, then c's.
        Assert.Equal(
        [
            (5, 200, "eth1"), (10, 100, "eth0"), (20, 101, "eth0"), (20, 102, "eth0"), (20, 201, "eth1"),
            (20, 300, "eth0"), (30, 202, "eth1"), (40, 103, "eth0"),
        ], order);
        Assert.Equal(8, stream.PacketNumber);
    }

    [Fact]
    public void A_file_going_backwards_stays_in_its_own_order_within_the_merge()
    {
        string a = Write("a.pcap", 1, 10, 50, 30, 60);
        string b = Write("b.pcap", 2, 40, 55);
        using var stream = new PacketStream([new CaptureSource(a, null), new CaptureSource(b, null)]);
        var ports = new List<int>();
        while (stream.MoveNext())
            ports.Add(stream.Packet.SrcPort);
        // a's record at 30 is ordered at a's high-water mark 50: after b's 40, before b's 55.
        Assert.Equal([100, 200, 101, 102, 201, 103], ports);
        Assert.Equal(1, stream.Readers[0].Problems.TimestampsBackwards);
    }

    [Fact]
    public void Ethernet_direction_comes_from_the_interface_mac()
    {
        string a = Write("a.pcap", 1, 1);
        // Frames.UdpV4 sends from MacA: the interface owning MacA sees it leave, another sees it arrive.
        var host = InterfaceTable.Parse("""[{"ifindex":2,"ifname":"eth0","address":"02:00:00:00:00:0a"},{"ifindex":3,"ifname":"eth1","address":"02:00:00:00:00:0b"}]""", "link.json");
        using var stream = new PacketStream([new CaptureSource(a, "eth0"), new CaptureSource(a, "eth1"), new CaptureSource(a, "eth9")], host);
        var seen = new List<(string, PacketDirection)>();
        while (stream.MoveNext())
            seen.Add((stream.Points.Name(stream.Point), stream.Direction));
        Assert.Equal([("eth0", PacketDirection.Outgoing), ("eth1", PacketDirection.Incoming), ("eth9", PacketDirection.Unknown)], seen);
    }

    [Theory]
    [InlineData("eth0=/x.pcap", "eth0", "/x.pcap")]
    [InlineData("/x.pcap", null, "/x.pcap")]
    [InlineData("br-1a2b.3=/tmp/a=b.pcap", "br-1a2b.3", "/tmp/a=b.pcap")]
    public void Capture_arguments_bind_interfaces(string argument, string? iface, string path)
    {
        var s = CaptureSource.Parse(argument);
        Assert.Equal(iface, s.Interface);
        Assert.Equal(path, s.Path);
    }

    [Theory]
    [InlineData("this-name-is-too-long=/x.pcap", "is not an interface name")]
    [InlineData("a/b=/x.pcap", "is not an interface name")]
    [InlineData("eth0=", "no file after '='")]
    public void Bad_capture_arguments_say_why(string argument, string reason)
    {
        var e = Assert.Throws<ArgumentException>(() => CaptureSource.Parse(argument));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.Contains(argument, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{", "line 1: not valid JSON")]
    [InlineData("{}", "expected the array")]
    [InlineData("[{\"ifname\":\"eth0\"}]", "interface #1: needs a numeric \"ifindex\"")]
    public void Bad_link_json_names_the_file_and_problem(string json, string reason)
    {
        var e = Assert.Throws<InvalidDataException>(() => InterfaceTable.Parse(json, "snap/link.json"));
        Assert.StartsWith("snap/link.json", e.Message, StringComparison.Ordinal);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }
}
