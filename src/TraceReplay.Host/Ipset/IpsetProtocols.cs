using System.Globalization;

namespace TraceReplay.Host.Ipset;

/// <summary>
/// Protocol, service and ICMP names in `PROTO:PORT` element parts. libipset resolves protocols with
/// getprotobyname/getprotobynumber (/etc/protocols) and ICMP names from its own tables (lib/icmp.c,
/// lib/icmpv6.c); a snapshot is read on another machine, so the tables are built in: the Debian
/// /etc/protocols and the names `ipset save` printed for every type/code (checked against ipset 7.17).
/// </summary>
public static class IpsetProtocols
{
    public const byte Icmp = 1;
    public const byte Tcp = 6;
    public const byte Udp = 17;
    public const byte IcmpV6 = 58;
    public const byte Sctp = 132;
    public const byte UdpLite = 136;

    private static readonly (string Name, byte Number)[] Protocols =
    [
        ("icmp", 1), ("igmp", 2), ("ggp", 3), ("ipencap", 4), ("st", 5), ("tcp", 6), ("egp", 8), ("igp", 9),
        ("pup", 12), ("udp", 17), ("hmp", 20), ("xns-idp", 22), ("rdp", 27), ("iso-tp4", 29), ("dccp", 33),
        ("xtp", 36), ("ddp", 37), ("idpr-cmtp", 38), ("ipv6", 41), ("ipv6-route", 43), ("ipv6-frag", 44),
        ("idrp", 45), ("rsvp", 46), ("gre", 47), ("esp", 50), ("ah", 51), ("skip", 57), ("ipv6-icmp", 58),
        ("ipv6-nonxt", 59), ("ipv6-opts", 60), ("rspf", 73), ("vmtp", 81), ("eigrp", 88), ("ospf", 89),
        ("ax.25", 93), ("ipip", 94), ("etherip", 97), ("encap", 98), ("pim", 103), ("ipcomp", 108),
        ("vrrp", 112), ("l2tp", 115), ("isis", 124), ("sctp", 132), ("fc", 133), ("mobility-header", 135),
        ("udplite", 136), ("mpls-in-ip", 137), ("manet", 138), ("hip", 139), ("shim6", 140), ("wesp", 141),
        ("rohc", 142), ("ethernet", 143),
    ];

    /// <summary>lib/icmp.c: name → type/code.</summary>
    private static readonly (string Name, byte Type, byte Code)[] IcmpNames =
    [
        ("echo-reply", 0, 0), ("network-unreachable", 3, 0), ("host-unreachable", 3, 1),
        ("protocol-unreachable", 3, 2), ("port-unreachable", 3, 3), ("fragmentation-needed", 3, 4),
        ("source-route-failed", 3, 5), ("network-unknown", 3, 6), ("host-unknown", 3, 7),
        ("network-prohibited", 3, 9), ("host-prohibited", 3, 10), ("TOS-network-unreachable", 3, 11),
        ("TOS-host-unreachable", 3, 12), ("communication-prohibited", 3, 13),
        ("host-precedence-violation", 3, 14), ("precedence-cutoff", 3, 15), ("source-quench", 4, 0),
        ("network-redirect", 5, 0), ("host-redirect", 5, 1), ("TOS-network-redirect", 5, 2),
        ("TOS-host-redirect", 5, 3), ("echo-request", 8, 0), ("router-advertisement", 9, 0),
        ("router-solicitation", 10, 0), ("ttl-zero-during-transit", 11, 0),
        ("ttl-zero-during-reassembly", 11, 1), ("ip-header-bad", 12, 0), ("required-option-missing", 12, 1),
        ("timestamp-request", 13, 0), ("timestamp-reply", 14, 0), ("address-mask-request", 17, 0),
        ("address-mask-reply", 18, 0),
        // Aliases ipset accepts but never prints.
        ("ping", 8, 0), ("pong", 0, 0),
    ];

    /// <summary>lib/icmpv6.c: name → type/code.</summary>
    private static readonly (string Name, byte Type, byte Code)[] IcmpV6Names =
    [
        ("no-route", 1, 0), ("communication-prohibited", 1, 1), ("address-unreachable", 1, 3),
        ("port-unreachable", 1, 4), ("packet-too-big", 2, 0), ("ttl-zero-during-transit", 3, 0),
        ("ttl-zero-during-reassembly", 3, 1), ("bad-header", 4, 0), ("unknown-header-type", 4, 1),
        ("unknown-option", 4, 2), ("echo-request", 128, 0), ("echo-reply", 129, 0),
        ("router-solicitation", 133, 0), ("router-advertisement", 134, 0),
        ("neighbour-solicitation", 135, 0), ("neighbour-advertisement", 136, 0), ("redirect", 137, 0),
        ("ping", 128, 0), ("pong", 129, 0),
    ];

    /// <summary>The few /etc/services names seen in ipset rule sets; anything else must be numeric.</summary>
    private static readonly (string Name, ushort Port)[] Services =
    [
        ("ftp-data", 20), ("ftp", 21), ("ssh", 22), ("telnet", 23), ("smtp", 25), ("domain", 53),
        ("tftp", 69), ("http", 80), ("www", 80), ("pop3", 110), ("ntp", 123), ("imap", 143), ("snmp", 161),
        ("ldap", 389), ("https", 443), ("submission", 587), ("imaps", 993), ("pop3s", 995),
        ("mysql", 3306), ("postgresql", 5432),
    ];

    public static bool TryParseProtocol(ReadOnlySpan<char> text, out byte protocol)
    {
        if (byte.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out protocol))
            return protocol != 0; // ipset: "Invalid protocol specified" for 0
        if (text.Equals("icmpv6", StringComparison.Ordinal))
        {
            protocol = IcmpV6;
            return true;
        }
        foreach (var (name, number) in Protocols)
        {
            if (text.Equals(name, StringComparison.Ordinal))
            {
                protocol = number;
                return true;
            }
        }
        return false;
    }

    /// <summary>The name `ipset save` prints for a protocol, or its number when /etc/protocols has none.</summary>
    public static string ProtocolName(byte protocol)
    {
        foreach (var (name, number) in Protocols)
        {
            if (number == protocol)
                return name;
        }
        return protocol.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>True for protocols whose elements carry a real port (get_port in ip_set_getport.c).</summary>
    public static bool HasPorts(byte protocol) => protocol is Tcp or Udp or Sctp or UdpLite;

    public static bool TryParseService(ReadOnlySpan<char> text, out ushort port)
    {
        if (ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port))
            return true;
        foreach (var (name, p) in Services)
        {
            if (text.Equals(name, StringComparison.Ordinal))
            {
                port = p;
                return true;
            }
        }
        return false;
    }

    /// <summary>Parses `NAME` or `TYPE/CODE` for ICMP (v6 = false) or ICMPv6; the result is type &lt;&lt; 8 | code as the kernel keys it.</summary>
    public static bool TryParseIcmp(ReadOnlySpan<char> text, bool v6, out ushort typeCode)
    {
        typeCode = 0;
        int slash = text.IndexOf('/');
        if (slash >= 0)
        {
            if (!byte.TryParse(text[..slash], NumberStyles.None, CultureInfo.InvariantCulture, out byte type)
                || !byte.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out byte code))
                return false;
            typeCode = (ushort)((type << 8) | code);
            return true;
        }
        foreach (var (name, type, code) in v6 ? IcmpV6Names : IcmpNames)
        {
            if (text.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                typeCode = (ushort)((type << 8) | code);
                return true;
            }
        }
        return false;
    }

    /// <summary>The ICMP part as `ipset save` prints it: the table's first name, else TYPE/CODE.</summary>
    public static string IcmpName(ushort typeCode, bool v6)
    {
        byte type = (byte)(typeCode >> 8), code = (byte)typeCode;
        foreach (var (name, t, c) in v6 ? IcmpV6Names : IcmpNames)
        {
            if (t == type && c == code)
                return name;
        }
        return string.Create(CultureInfo.InvariantCulture, $"{type}/{code}");
    }
}
