using TraceReplay.Capture.Decode;
using TraceReplay.Host.Parsing;
using TraceReplay.Netfilter.Hooks;

namespace TraceReplay.Tests.Netfilter.Hooks;

/// <summary>sockets.txt as `ss -H -ltun` prints it (iproute2 6.x: Netid State Recv-Q Send-Q Local:Port Peer:Port).</summary>
public sealed class NfLocalSocketsTests
{
    private const string Ss = """
        udp   UNCONN 0      0      127.0.0.53%lo:53        0.0.0.0:*
        udp   UNCONN 0      0            0.0.0.0:68        0.0.0.0:*
        tcp   LISTEN 0      4096         0.0.0.0:22        0.0.0.0:*
        tcp   LISTEN 0      511        127.0.0.1:6379      0.0.0.0:*
        tcp   LISTEN 0      4096            [::]:8080         [::]:*
        tcp   LISTEN 0      128   [fd00:1::1]:443            [::]:*
        udp   UNCONN 0      0                  *:5353            *:*
        """;

    [Fact]
    public void Wildcard_and_bound_listeners_open_their_ports()
    {
        var s = NfLocalSockets.Parse(Ss, "sockets.txt");
        var any = IpAddr.Parse("192.0.2.1");
        Assert.True(s.IsOpen(L4Protocol.Tcp, any, 22)); // 0.0.0.0:22
        Assert.False(s.IsOpen(L4Protocol.Udp, any, 22)); // tcp only
        Assert.True(s.IsOpen(L4Protocol.Tcp, IpAddr.Parse("127.0.0.1"), 6379));
        Assert.False(s.IsOpen(L4Protocol.Tcp, any, 6379)); // bound to 127.0.0.1 only
        Assert.True(s.IsOpen(L4Protocol.Tcp, any, 8080)); // [::] takes IPv4 too (bindv6only 0)
        Assert.True(s.IsOpen(L4Protocol.Tcp, IpAddr.Parse("fd00:1::1"), 443));
        Assert.False(s.IsOpen(L4Protocol.Tcp, IpAddr.Parse("fd00:1::2"), 443));
        Assert.True(s.IsOpen(L4Protocol.Udp, IpAddr.Parse("127.0.0.53"), 53)); // %lo: the device is dropped
        Assert.True(s.IsOpen(L4Protocol.Udp, IpAddr.Parse("2001:db8::1"), 5353)); // *
        Assert.False(s.IsOpen(L4Protocol.Udp, any, 9999));
    }

    [Fact]
    public void An_empty_file_means_every_port_is_closed()
    {
        Assert.False(NfLocalSockets.Parse(string.Empty, "sockets.txt").IsOpen(L4Protocol.Tcp, IpAddr.Parse("192.0.2.1"), 22));
    }

    [Theory]
    [InlineData("raw   UNCONN 0 0 0.0.0.0:1 0.0.0.0:*", "snap/sockets.txt:2:1")]
    [InlineData("tcp LISTEN 0 4096", "snap/sockets.txt:2")]
    [InlineData("tcp LISTEN 0 4096 0.0.0.0:http 0.0.0.0:*", "snap/sockets.txt:2")]
    [InlineData("tcp LISTEN 0 4096 nowhere:80 0.0.0.0:*", "snap/sockets.txt:2")]
    public void A_bad_line_names_file_and_line(string line, string where)
    {
        var e = Assert.Throws<HostParseException>(() => NfLocalSockets.Parse("tcp LISTEN 0 1 0.0.0.0:22 0.0.0.0:*\n" + line, "snap/sockets.txt"));
        Assert.StartsWith(where, e.Message, StringComparison.Ordinal);
    }
}
