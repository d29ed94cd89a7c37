using TraceReplay.Capture.Decode;

namespace TraceReplay.Host.Ipset;

/// <summary>
/// The packet fields a set lookup may read — what the kernel's kadt functions take from the skb and
/// xt_action_param (addresses, ip_set_get_ip4_port's protocol/port, in/out device names, the Ethernet
/// header, skb->mark). The simulator fills one per packet (a struct: no allocation) and passes it to
/// every `-m set` test with that rule's <see cref="SetDirections"/>.
/// </summary>
public readonly record struct SetKey
{
    public IpAddr Src { get; init; }
    public IpAddr Dst { get; init; }

    /// <summary>The packet's family (the set's family must equal it unless the type is family-free).</summary>
    public bool IsV6 { get; init; }

    public byte Protocol { get; init; }
    public ushort SrcPort { get; init; }
    public ushort DstPort { get; init; }
    public byte IcmpType { get; init; }
    public byte IcmpCode { get; init; }

    /// <summary>
    /// The transport header is not readable: a non-first fragment or a truncated header. The kernel then
    /// fails port lookups for TCP/UDP/SCTP/UDP-Lite/ICMP (ip_set_get_ip4_port returns false) so such a set
    /// does not match, while other protocols (port 0) still do.
    /// </summary>
    public bool NoTransportHeader { get; init; }

    /// <summary>In device name (NULL in OUTPUT/POSTROUTING).</summary>
    public string? InIface { get; init; }

    /// <summary>Out device name (NULL in PREROUTING/INPUT).</summary>
    public string? OutIface { get; init; }

    /// <summary>True when the skb has an Ethernet header (not on locally generated packets).</summary>
    public bool HasMac { get; init; }

    public MacAddr SrcMac { get; init; }
    public MacAddr DstMac { get; init; }
    public uint Mark { get; init; }

    /// <summary>
    /// The port the kernel keys on for one side, as get_port() in ip_set_getport.c: the L4 port for
    /// TCP/UDP/SCTP/UDP-Lite, type &lt;&lt; 8 | code for ICMP and ICMPv6 (both sides), 0 for other protocols.
    /// False when the header is not available.
    /// </summary>
    public bool TryGetPort(bool src, out ushort port)
    {
        switch (Protocol)
        {
            case IpsetProtocols.Tcp or IpsetProtocols.Udp or IpsetProtocols.Sctp or IpsetProtocols.UdpLite:
                port = src ? SrcPort : DstPort;
                return !NoTransportHeader;
            case IpsetProtocols.Icmp or IpsetProtocols.IcmpV6:
                port = (ushort)((IcmpType << 8) | IcmpCode);
                return !NoTransportHeader;
            default:
                port = 0;
                return true;
        }
    }
}

/// <summary>
/// The `--match-set NAME src,dst,…` flags of one rule: bit i set means dimension i+1 is read from the
/// packet's source side (IPSET_DIM_ONE_SRC &lt;&lt; i in struct ip_set_adt_opt), <see cref="Dim"/> the number
/// of flags given. A set with more dimensions than flags never matches (ip_set_test).
/// </summary>
public readonly record struct SetDirections(byte SrcFlags, byte Dim)
{
    public const int MaxDim = 6; // IPSET_DIM_MAX

    public static SetDirections Src => new(1, 1);
    public static SetDirections Dst => new(0, 1);

    public bool IsSrc(int dimension) => ((SrcFlags >> dimension) & 1) != 0;

    /// <summary>Parses `src`, `dst`, `src,dst,dst` (up to six) as iptables' set match does.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out SetDirections directions)
    {
        directions = default;
        byte flags = 0, dim = 0;
        foreach (var range in text.Split(','))
        {
            var part = text[range];
            if (dim == MaxDim)
                return false;
            if (part.SequenceEqual("src"))
                flags |= (byte)(1 << dim);
            else if (!part.SequenceEqual("dst"))
                return false;
            dim++;
        }
        directions = new SetDirections(flags, dim);
        return dim > 0;
    }

    public static SetDirections Parse(string text) =>
        TryParse(text, out var d) ? d : throw new FormatException($"'{text}' is not a list of src/dst flags");

    public override string ToString()
    {
        var parts = new string[Dim];
        for (int i = 0; i < Dim; i++)
            parts[i] = IsSrc(i) ? "src" : "dst";
        return string.Join(',', parts);
    }
}
