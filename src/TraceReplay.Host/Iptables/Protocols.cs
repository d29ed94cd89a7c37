using System.Globalization;

namespace TraceReplay.Host.Iptables;

/// <summary>
/// IP protocol names as iptables reads and prints them: the names of /etc/protocols (netbase) and
/// xtables_chain_protos (icmpv6, ipv6-mh, mh, all) for reading.
/// </summary>
public static class Protocols
{
    public const byte Tcp = 6, Udp = 17, Icmp = 1, IcmpV6 = 58, Sctp = 132, Dccp = 33, UdpLite = 136, Esp = 50, Ah = 51, Gre = 47, Mh = 135;

    // xtables_chain_protos, in its order: the first name of a number is the one printed.
    private static readonly (string Name, byte Number)[] ChainProtos =
    [
        ("tcp", 6), ("sctp", 132), ("udp", 17), ("udplite", 136), ("icmp", 1), ("icmpv6", 58), ("ipv6-icmp", 58),
        ("esp", 50), ("ah", 51), ("ipv6-mh", 135), ("mh", 135), ("all", 0),
    ];

    // Debian's /etc/protocols (netbase), in its order: iptables-save names a protocol with
    // getprotobynumber, so the first name of a number is the one printed (58 is "ipv6-icmp").
    private static readonly (string Name, byte Number)[] EtcProtocols =
    [
        ("ip", 0), ("hopopt", 0), ("icmp", 1), ("igmp", 2), ("ggp", 3), ("ipencap", 4), ("st", 5), ("tcp", 6), ("egp", 8), ("igp", 9),
        ("pup", 12), ("udp", 17), ("hmp", 20), ("xns-idp", 22), ("rdp", 27), ("iso-tp4", 29), ("dccp", 33), ("xtp", 36), ("ddp", 37),
        ("idpr-cmtp", 38), ("ipv6", 41), ("ipv6-route", 43), ("ipv6-frag", 44), ("idrp", 45), ("rsvp", 46), ("gre", 47), ("esp", 50),
        ("ah", 51), ("skip", 57), ("ipv6-icmp", 58), ("ipv6-nonxt", 59), ("ipv6-opts", 60), ("rspf", 73), ("vmtp", 81), ("eigrp", 88),
        ("ospf", 89), ("ax.25", 93), ("ipip", 94), ("etherip", 97), ("encap", 98), ("pim", 103), ("ipcomp", 108), ("vrrp", 112),
        ("l2tp", 115), ("isis", 124), ("sctp", 132), ("fc", 133), ("mobility-header", 135), ("udplite", 136), ("mpls-in-ip", 137),
        ("manet", 138), ("hip", 139), ("shim6", 140), ("wesp", 141), ("rohc", 142), ("ethernet", 143),
    ];

    /// <summary>Reads `-p` as xtables_parse_protocol does: a number, or a name (case-insensitive).</summary>
    public static bool TryParse(string text, out byte protocol)
    {
        if (uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out uint n))
        {
            protocol = (byte)n;
            return n <= 255;
        }
        foreach (var (name, number) in EtcProtocols)
        {
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase))
            {
                protocol = number;
                return true;
            }
        }
        foreach (var (name, number) in ChainProtos)
        {
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase))
            {
                protocol = number;
                return true;
            }
        }
        protocol = 0;
        return false;
    }

    /// <summary>The name iptables-save (1.8.9, Debian) prints: the /etc/protocols name, then xtables_chain_protos, else the number.</summary>
    public static string Name(byte protocol, IptFamily family)
    {
        _ = family;
        foreach (var (name, number) in EtcProtocols)
        {
            if (number == protocol)
                return name;
        }
        foreach (var (name, number) in ChainProtos)
        {
            if (number == protocol)
                return name;
        }
        return protocol.ToString(CultureInfo.InvariantCulture);
    }
}

/// <summary>Service names for ports (`--dport ssh`), from Debian's /etc/services for the names rule sets use; iptables-save always prints numbers.</summary>
public static class Services
{
    private static readonly Dictionary<string, ushort> Ports = new(StringComparer.OrdinalIgnoreCase)
    {
        ["tcpmux"] = 1, ["echo"] = 7, ["discard"] = 9, ["daytime"] = 13, ["ftp-data"] = 20, ["ftp"] = 21, ["ssh"] = 22, ["telnet"] = 23,
        ["smtp"] = 25, ["time"] = 37, ["whois"] = 43, ["tacacs"] = 49, ["domain"] = 53, ["bootps"] = 67, ["bootpc"] = 68, ["tftp"] = 69,
        ["gopher"] = 70, ["finger"] = 79, ["http"] = 80, ["www"] = 80, ["kerberos"] = 88, ["pop3"] = 110, ["sunrpc"] = 111, ["auth"] = 113,
        ["ident"] = 113, ["nntp"] = 119, ["ntp"] = 123, ["epmap"] = 135, ["netbios-ns"] = 137, ["netbios-dgm"] = 138, ["netbios-ssn"] = 139,
        ["imap2"] = 143, ["imap"] = 143, ["snmp"] = 161, ["snmp-trap"] = 162, ["bgp"] = 179, ["irc"] = 194, ["ldap"] = 389,
        ["https"] = 443, ["microsoft-ds"] = 445, ["isakmp"] = 500, ["syslog"] = 514, ["printer"] = 515, ["talk"] = 517, ["ntalk"] = 518,
        ["route"] = 520, ["submission"] = 587, ["ipp"] = 631, ["ldaps"] = 636, ["rsync"] = 873, ["ftps"] = 990, ["imaps"] = 993,
        ["pop3s"] = 995, ["socks"] = 1080, ["openvpn"] = 1194, ["ms-sql-s"] = 1433, ["l2tp"] = 1701, ["pptp"] = 1723, ["radius"] = 1812,
        ["radius-acct"] = 1813, ["nfs"] = 2049, ["mysql"] = 3306, ["ms-wbt-server"] = 3389, ["svn"] = 3690, ["sip"] = 5060,
        ["xmpp-client"] = 5222, ["postgresql"] = 5432, ["x11"] = 6000, ["ircd"] = 6667, ["http-alt"] = 8080, ["webcache"] = 8080,
        ["ipsec-nat-t"] = 4500, ["mdns"] = 5353, ["bacula-dir"] = 9101, ["git"] = 9418, ["zabbix-agent"] = 10050,
    };

    public static bool TryGetPort(string name, string protocol, out ushort port)
    {
        _ = protocol;
        return Ports.TryGetValue(name, out port);
    }
}
