using System.Globalization;

namespace TraceReplay.Host.Ebtables;

/// <summary>
/// The name tables ebtables prints and reads: /etc/ethertypes (xtables_getethertypebynumber), the
/// protocol names of /etc/protocols (getprotobynumber) and the ICMP/ICMPv6/IGMP names of
/// extensions/libxt_icmp.h. They are built in (netbase's files as shipped), so a snapshot prints the
/// same on any machine the replay runs on.
/// </summary>
internal static class EbtNames
{
    private static readonly (string Name, ushort Type, string[] Aliases)[] EtherTypes =
    [
        ("IPv4", 0x0800, ["ip", "ip4"]),
        ("X25", 0x0805, []),
        ("ARP", 0x0806, ["ether-arp"]),
        ("FR_ARP", 0x0808, []),
        ("BPQ", 0x08FF, []),
        ("TRILL", 0x22F3, []),
        ("L2-IS-IS", 0x22F4, []),
        ("TEB", 0x6558, []),
        ("RAW_FR", 0x6559, []),
        ("RARP", 0x8035, []),
        ("ATALK", 0x809B, []),
        ("AARP", 0x80F3, []),
        ("802_1Q", 0x8100, ["8021q", "1q", "802.1q", "dot1q"]),
        ("IPX", 0x8137, []),
        ("NetBEUI", 0x8191, []),
        ("IPv6", 0x86DD, ["ip6"]),
        ("PPP", 0x880B, []),
        ("MPLS", 0x8847, []),
        ("MPLS_MULTI", 0x8848, []),
        ("ATMMPOA", 0x884C, []),
        ("PPP_DISC", 0x8863, []),
        ("PPP_SES", 0x8864, []),
        ("ATMFATE", 0x8884, []),
        ("EAPOL", 0x888E, []),
        ("S-TAG", 0x88A8, []),
        ("EAP_PREAUTH", 0x88C7, []),
        ("LLDP", 0x88CC, []),
        ("MACSEC", 0x88E5, []),
        ("PBB", 0x88E7, ["macinmac"]),
        ("MVRP", 0x88F5, []),
        ("PTP", 0x88F7, []),
        ("FCOE", 0x8906, []),
        ("FIP", 0x8914, []),
        ("ROCE", 0x8915, []),
        ("LoWPAN", 0xA0ED, []),
    ];

    /// <summary>xtables_getethertypebyname: names and aliases, compared without case.</summary>
    public static bool TryEtherTypeByName(string name, out ushort type)
    {
        foreach (var (n, t, aliases) in EtherTypes)
        {
            if (string.Equals(n, name, StringComparison.OrdinalIgnoreCase) ||
                aliases.Any(a => string.Equals(a, name, StringComparison.OrdinalIgnoreCase)))
            {
                type = t;
                return true;
            }
        }
        type = 0;
        return false;
    }

    public static string? EtherTypeName(ushort type)
    {
        foreach (var (n, t, _) in EtherTypes)
        {
            if (t == type)
                return n;
        }
        return null;
    }

    // /etc/protocols as netbase ships it: the first name of a number is what getprotobynumber returns.
    private static readonly (byte Number, string Name)[] Protocols =
    [
        (0, "ip"), (0, "hopopt"), (1, "icmp"), (2, "igmp"), (3, "ggp"), (4, "ipencap"), (5, "st"), (6, "tcp"),
        (8, "egp"), (9, "igp"), (12, "pup"), (17, "udp"), (20, "hmp"), (22, "xns-idp"), (27, "rdp"),
        (29, "iso-tp4"), (33, "dccp"), (36, "xtp"), (37, "ddp"), (38, "idpr-cmtp"), (41, "ipv6"),
        (43, "ipv6-route"), (44, "ipv6-frag"), (45, "idrp"), (46, "rsvp"), (47, "gre"), (50, "esp"), (51, "ah"),
        (57, "skip"), (58, "ipv6-icmp"), (59, "ipv6-nonxt"), (60, "ipv6-opts"), (73, "rspf"), (81, "vmtp"),
        (88, "eigrp"), (89, "ospf"), (93, "ax.25"), (94, "ipip"), (97, "etherip"), (98, "encap"), (103, "pim"),
        (108, "ipcomp"), (112, "vrrp"), (115, "l2tp"), (124, "isis"), (132, "sctp"), (133, "fc"),
        (135, "mobility-header"), (136, "udplite"), (137, "mpls-in-ip"), (138, "manet"), (139, "hip"),
        (140, "shim6"), (141, "wesp"), (142, "rohc"), (143, "ethernet"),
    ];

    /// <summary>xtables_parse_protocol: a number, an /etc/protocols name, or one of xtables' built-in names.</summary>
    public static bool TryParseProtocol(string text, out byte proto)
    {
        if (byte.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out proto))
            return true;
        foreach (var (n, name) in Protocols)
        {
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase))
            {
                proto = n;
                return true;
            }
        }
        // xtables_chain_protos: names iptables knows even where /etc/protocols lacks them.
        switch (text.ToLowerInvariant())
        {
            case "icmpv6": proto = 58; return true;
            case "mh": proto = 135; return true;
            default: proto = 0; return false;
        }
    }

    public static string ProtocolName(byte proto)
    {
        foreach (var (n, name) in Protocols)
        {
            if (n == proto)
                return name;
        }
        return proto.ToString(CultureInfo.InvariantCulture);
    }

    public readonly record struct IcmpName(string Name, byte Type, byte CodeMin, byte CodeMax);

    public static readonly IcmpName[] IcmpCodes =
    [
        new("any", 0xFF, 0, 0xFF),
        new("echo-reply", 0, 0, 0xFF), new("pong", 0, 0, 0xFF),
        new("destination-unreachable", 3, 0, 0xFF),
        new("network-unreachable", 3, 0, 0), new("host-unreachable", 3, 1, 1),
        new("protocol-unreachable", 3, 2, 2), new("port-unreachable", 3, 3, 3),
        new("fragmentation-needed", 3, 4, 4), new("source-route-failed", 3, 5, 5),
        new("network-unknown", 3, 6, 6), new("host-unknown", 3, 7, 7),
        new("network-prohibited", 3, 9, 9), new("host-prohibited", 3, 10, 10),
        new("TOS-network-unreachable", 3, 11, 11), new("TOS-host-unreachable", 3, 12, 12),
        new("communication-prohibited", 3, 13, 13), new("host-precedence-violation", 3, 14, 14),
        new("precedence-cutoff", 3, 15, 15),
        new("source-quench", 4, 0, 0xFF),
        new("redirect", 5, 0, 0xFF), new("network-redirect", 5, 0, 0), new("host-redirect", 5, 1, 1),
        new("TOS-network-redirect", 5, 2, 2), new("TOS-host-redirect", 5, 3, 3),
        new("echo-request", 8, 0, 0xFF), new("ping", 8, 0, 0xFF),
        new("router-advertisement", 9, 0, 0xFF),
        new("router-solicitation", 10, 0, 0xFF),
        new("time-exceeded", 11, 0, 0xFF), new("ttl-exceeded", 11, 0, 0xFF),
        new("ttl-zero-during-transit", 11, 0, 0), new("ttl-zero-during-reassembly", 11, 1, 1),
        new("parameter-problem", 12, 0, 0xFF), new("ip-header-bad", 12, 0, 0),
        new("required-option-missing", 12, 1, 1),
        new("timestamp-request", 13, 0, 0xFF),
        new("timestamp-reply", 14, 0, 0xFF),
        new("address-mask-request", 17, 0, 0xFF),
        new("address-mask-reply", 18, 0, 0xFF),
    ];

    public static readonly IcmpName[] Icmpv6Codes =
    [
        new("destination-unreachable", 1, 0, 0xFF),
        new("no-route", 1, 0, 0), new("communication-prohibited", 1, 1, 1), new("beyond-scope", 1, 2, 2),
        new("address-unreachable", 1, 3, 3), new("port-unreachable", 1, 4, 4), new("failed-policy", 1, 5, 5),
        new("reject-route", 1, 6, 6),
        new("packet-too-big", 2, 0, 0xFF),
        new("time-exceeded", 3, 0, 0xFF), new("ttl-exceeded", 3, 0, 0xFF),
        new("ttl-zero-during-transit", 3, 0, 0), new("ttl-zero-during-reassembly", 3, 1, 1),
        new("parameter-problem", 4, 0, 0xFF), new("bad-header", 4, 0, 0),
        new("unknown-header-type", 4, 1, 1), new("unknown-option", 4, 2, 2),
        new("echo-request", 128, 0, 0xFF), new("ping", 128, 0, 0xFF),
        new("echo-reply", 129, 0, 0xFF), new("pong", 129, 0, 0xFF),
        new("router-solicitation", 133, 0, 0xFF),
        new("router-advertisement", 134, 0, 0xFF),
        new("neighbour-solicitation", 135, 0, 0xFF), new("neighbor-solicitation", 135, 0, 0xFF),
        new("neighbour-advertisement", 136, 0, 0xFF), new("neighbor-advertisement", 136, 0, 0xFF),
        new("redirect", 137, 0, 0xFF),
    ];

    public static readonly IcmpName[] IgmpTypes =
    [
        new("membership-query", 0x11, 0, 0), new("membership-report-v1", 0x12, 0, 0),
        new("membership-report-v2", 0x16, 0, 0), new("leave-group", 0x17, 0, 0),
        new("membership-report-v3", 0x22, 0, 0),
    ];

    /// <summary>ebt_parse_icmp: a name (exact, else an unambiguous prefix, without case) or its index.</summary>
    public static int FindIcmpName(IcmpName[] table, string text)
    {
        for (int i = 0; i < table.Length; i++)
        {
            if (string.Equals(table[i].Name, text, StringComparison.OrdinalIgnoreCase))
                return i;
        }
        int match = -1;
        for (int i = 0; i < table.Length; i++)
        {
            if (table[i].Name.StartsWith(text, StringComparison.OrdinalIgnoreCase))
            {
                if (match >= 0 && (table[match].Type != table[i].Type || table[match].CodeMin != table[i].CodeMin ||
                                   table[match].CodeMax != table[i].CodeMax))
                    return -2; // ambiguous
                match = i;
            }
        }
        return match;
    }

    public static readonly string[] ArpOpcodes =
    [
        "Request", "Reply", "Request_Reverse", "Reply_Reverse", "DRARP_Request", "DRARP_Reply", "DRARP_Error",
        "InARP_Request", "ARP_NAK",
    ];

    /// <summary>libebt_pkttype's class names, indexed by PACKET_* (linux/if_packet.h).</summary>
    public static readonly string[] PktTypes = ["host", "broadcast", "multicast", "otherhost", "outgoing", "loopback", "fastroute"];

    /// <summary>syslog level names as libebt_log prints them, indexed by level.</summary>
    public static readonly string[] LogLevels = ["emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"];
}
