using System.Text.Json;
using TraceReplay.Capture;
using TraceReplay.Capture.Writers;
using TraceReplay.Cli;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Cli;

public sealed class CapinfoCommandTests : CliTestBase
{
    [Fact]
    public void Json_describes_an_sll2_capture_with_interfaces_named_by_the_snapshot()
    {
        string path = Corpus.Pcap("zeek/testing/btest/Traces/linux_dlt_sll2.pcap");
        File.WriteAllText(Path.Combine(Dir, "link.json"), """[{"ifindex":1,"ifname":"lo"},{"ifindex":26,"ifname":"veth-a"}]""");
        var (code, stdout, stderr) = Run("capinfo", "--json", "--host", Dir, path);
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var f = doc.RootElement.EnumerateArray().Single();
        Assert.Equal(path, f.GetProperty("path").GetString());
        Assert.Equal("LINUX_SLL2", f.GetProperty("link_types")[0].GetString());
        Assert.Equal(6, f.GetProperty("packets").GetInt64());
        // SOURCES.md: 672-byte file; 24-byte header and 6 x 16-byte record headers leave 552 bytes of frames.
        Assert.Equal(552, f.GetProperty("captured_bytes").GetInt64());
        Assert.Equal(672, f.GetProperty("file_bytes").GetInt64());
        // tcpdump: 4 frames In on ifindex 1 (lo), 2 Out on ifindex 26.
        Assert.Equal(4, f.GetProperty("interfaces").GetProperty("lo").GetProperty("incoming").GetInt64());
        Assert.Equal(2, f.GetProperty("interfaces").GetProperty("veth-a").GetProperty("outgoing").GetInt64());
        Assert.Equal(1, f.GetProperty("protocols").GetProperty("arp").GetInt64());
        Assert.Equal("2022-08-15T03:30:49.872259000Z", f.GetProperty("first_ts").GetString());
    }

    [Fact]
    public void Text_output_shows_the_counts()
    {
        string path = Corpus.Pcap("tcpdump/tests/tcp-handshake-nano.pcap");
        var (code, stdout, _) = Run("capinfo", path);
        Assert.Equal(0, code);
        Assert.Contains("Format:       pcap (nanosecond)", stdout, StringComparison.Ordinal);
        Assert.Contains("Packets:      3", stdout, StringComparison.Ordinal);
        Assert.Contains("First packet: 2014-12-09T17:16:09.924505488Z", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_capture_exits_1_naming_file_record_and_offset()
    {
        string path = Path.Combine(Dir, "cut.pcap");
        byte[] frame = Frames.UdpV4("10.0.0.1", 1, "10.0.0.2", 2);
        using (var w = PcapWriter.Create(path, LinkType.Ethernet))
        {
            w.Write(1, frame);
            w.Write(2, frame);
        }
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..^3]);
        var (code, _, stderr) = Run("capinfo", path);
        Assert.Equal(1, code);
        Assert.Contains($"{path}: record 2 at byte offset {24 + 16 + frame.Length}", stderr, StringComparison.Ordinal);

        var (skipCode, stdout, _) = Run("capinfo", "--skip-bad", "--json", path);
        Assert.Equal(0, skipCode);
        using var doc = JsonDocument.Parse(stdout);
        var f = doc.RootElement[0];
        Assert.Equal(1, f.GetProperty("packets").GetInt64());
        Assert.Equal(1, f.GetProperty("skipped_records").GetInt64());
        Assert.True(f.GetProperty("ended_early").GetBoolean());
    }

    [Fact]
    public void Garbage_exits_1()
    {
        string path = Path.Combine(Dir, "notes.txt");
        File.WriteAllText(path, "hello, this is not a capture");
        var (code, _, stderr) = Run("capinfo", path);
        Assert.Equal(1, code);
        Assert.Contains(path + ": at byte offset 0: not a pcap or pcapng file", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_link_json_exits_1_naming_it()
    {
        File.WriteAllText(Path.Combine(Dir, "link.json"), "[{\"ifindex\": 1,");
        string path = Path.Combine(Dir, "a.pcap");
        using (var w = PcapWriter.Create(path, LinkType.Ethernet))
            w.Write(1, Frames.UdpV4("10.0.0.1", 1, "10.0.0.2", 2));
        var (code, _, stderr) = Run("capinfo", "--host", Dir, path);
        Assert.Equal(1, code);
        Assert.Contains(Path.Combine(Dir, "link.json"), stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "capinfo" }, "Required argument missing")]
    [InlineData(new[] { "capinfo", "/nonexistent/x.pcap" }, "capture file /nonexistent/x.pcap: no such file")]
    [InlineData(new[] { "capinfo", "--frobnicate", "x.pcap" }, "--frobnicate")]
    [InlineData(new[] { "capinfo", "bad/name=x.pcap" }, "is not an interface name")]
    [InlineData(new[] { "capinfo", "--host", "/nonexistent-dir", "x.pcap" }, "--host /nonexistent-dir: no such directory")]
    [InlineData(new[] { "nosuchcommand" }, "nosuchcommand")]
    public void Usage_errors_exit_2(string[] args, string message)
    {
        var (code, _, stderr) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }
}
