using System.Globalization;
using System.Net;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Netfilter.Hooks;

/// <summary>
/// The host's listening sockets from the snapshot's `sockets.txt` (`ss -H -ltun`): which local TCP
/// and UDP ports a packet delivered to the host finds a socket on (__inet_lookup_listener /
/// __udp4_lib_lookup, and their IPv6 twins). Only what decides whether the kernel answers a closed
/// port is kept: protocol, local address (wildcard or one address) and port. A wildcard IPv6 socket
/// takes IPv4 too (net.ipv6.bindv6only defaults to 0, and ss does not print IPV6_V6ONLY).
/// </summary>
public sealed class NfLocalSockets
{
    private readonly HashSet<(byte Protocol, ushort Port)> _wildcard = [];
    private readonly HashSet<(byte Protocol, ushort Port, IpAddr Address)> _bound = [];

    /// <summary>The sockets of `ss -H -ltun` output; <paramref name="file"/> names it in errors.</summary>
    public static NfLocalSockets Parse(string text, string file)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = new NfLocalSockets();
        int line = 0;
        foreach (var raw in text.Split('\n'))
        {
            line++;
            var cols = raw.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (cols.Length == 0)
                continue;
            byte proto = cols[0] switch
            {
                "tcp" => L4Protocol.Tcp,
                "udp" => L4Protocol.Udp,
                _ => throw new HostParseException(new SourceLocation(file, line, 1), "not a tcp or udp socket", cols[0], "tcp or udp (ss -H -ltun)"),
            };
            if (cols.Length < 5)
                throw new HostParseException(new SourceLocation(file, line, 0), "too few columns", raw.Trim(), "Netid State Recv-Q Send-Q Local:Port Peer:Port");
            string local = cols[4];
            int colon = local.LastIndexOf(':');
            if (colon <= 0 || !ushort.TryParse(local.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out ushort port))
                throw new HostParseException(new SourceLocation(file, line, 0), "no local address:port", local, "ADDRESS:PORT");
            string addr = local[..colon];
            int pct = addr.IndexOf('%', StringComparison.Ordinal);
            if (pct >= 0)
                addr = addr[..pct]; // SO_BINDTODEVICE: the device is not part of the lookup key kept here
            addr = addr.Trim('[', ']');
            if (addr is "*" or "0.0.0.0" or "::")
            {
                s._wildcard.Add((proto, port));
            }
            else if (IPAddress.TryParse(addr, out var ip))
            {
                var a = IpAddr.FromIPAddress(ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip);
                s._bound.Add((proto, port, a));
            }
            else
            {
                throw new HostParseException(new SourceLocation(file, line, 0), "not an address", addr, "an IPv4 or IPv6 address, * or [::]");
            }
        }
        return s;
    }

    /// <summary>The snapshot folder's sockets.txt, or null when it has none (then nobody knows which ports are closed).</summary>
    public static NfLocalSockets? Load(string directory)
    {
        string path = Path.Combine(directory, "sockets.txt");
        return File.Exists(path) ? Parse(File.ReadAllText(path), path) : null;
    }

    /// <summary>Whether a socket listens on <paramref name="protocol"/> port <paramref name="port"/> of <paramref name="address"/>.</summary>
    public bool IsOpen(byte protocol, IpAddr address, ushort port) =>
        _wildcard.Contains((protocol, port)) || _bound.Contains((protocol, port, address));
}
