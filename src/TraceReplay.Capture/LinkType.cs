namespace TraceReplay.Capture;

/// <summary>
/// LINKTYPE_* values as written in pcap and pcapng headers (tcpdump.org/linktypes.html).
/// Only the ones the decoder understands are named; others pass through as their number.
/// </summary>
public enum LinkType : ushort
{
    Null = 0,
    Ethernet = 1,
    /// <summary>DLT_RAW as most BSDs and Linux number it in files written by old libpcap.</summary>
    RawBsd12 = 12,
    /// <summary>DLT_RAW as OpenBSD numbers it.</summary>
    RawBsd14 = 14,
    Raw = 101,
    Loop = 108,
    LinuxSll = 113,
    Ipv4 = 228,
    Ipv6 = 229,
    Nflog = 239,
    LinuxSll2 = 276,
}

public static class LinkTypes
{
    public static bool IsSupported(LinkType t) => t switch
    {
        LinkType.Null or LinkType.Ethernet or LinkType.RawBsd12 or LinkType.RawBsd14 or LinkType.Raw
            or LinkType.Loop or LinkType.LinuxSll or LinkType.Ipv4 or LinkType.Ipv6 or LinkType.Nflog
            or LinkType.LinuxSll2 => true,
        _ => false,
    };

    public static string Name(LinkType t) => t switch
    {
        LinkType.Null => "NULL",
        LinkType.Ethernet => "EN10MB",
        LinkType.RawBsd12 or LinkType.RawBsd14 or LinkType.Raw => "RAW",
        LinkType.Loop => "LOOP",
        LinkType.LinuxSll => "LINUX_SLL",
        LinkType.Ipv4 => "IPV4",
        LinkType.Ipv6 => "IPV6",
        LinkType.Nflog => "NFLOG",
        LinkType.LinuxSll2 => "LINUX_SLL2",
        _ => "LINKTYPE_" + ((ushort)t).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
