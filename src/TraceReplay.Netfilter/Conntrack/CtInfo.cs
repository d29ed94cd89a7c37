namespace TraceReplay.Netfilter.Conntrack;

/// <summary>Whether conntrack let the packet go on (NF_ACCEPT) or dropped it itself (NF_DROP).</summary>
public enum CtVerdict : byte
{
    Accept,
    Drop,
}

/// <summary>Why a packet was INVALID or dropped by conntrack: the kernel's nf_ct_l4proto_log_invalid texts, as values.</summary>
public enum CtReason : byte
{
    None,
    /// <summary>get_l4proto / pkt_to_tuple failed: no usable L4 header (short, malformed, non-first fragment).</summary>
    NoTuple,
    /// <summary>nf_ct_invert_tuple failed: an ICMP type with no reply type (icmp_invert_tuple).</summary>
    NotInvertible,
    /// <summary>"nf_conntrack: table full, dropping packet" (__nf_conntrack_alloc, early_drop found nothing).</summary>
    TableFull,
    /// <summary>icmp_error: type above NR_ICMP_TYPES, or a short header.</summary>
    IcmpBadType,
    /// <summary>nf_conntrack_inet_error: the quoted packet is not part of a tracked connection.</summary>
    IcmpErrorNoConnection,
    /// <summary>nf_conntrack_inet_error: "outer daddr != inner".</summary>
    IcmpErrorWrongAddress,
    /// <summary>icmp_packet: "can't create new conn with type" (only requests start an ICMP connection).</summary>
    IcmpNotNew,
    /// <summary>tcp_error: a flag combination not in tcp_valid_flags, or a bad data offset.</summary>
    TcpBadFlags,
    /// <summary>tcp_new: "invalid new" (no SYN, or a non-SYN with nf_conntrack_tcp_loose=0).</summary>
    TcpInvalidNew,
    /// <summary>tcp_packet: "invalid state" (sIV in tcp_conntracks).</summary>
    TcpInvalidState,
    /// <summary>tcp_in_window refused the segment (SEQ/ACK over or under the window).</summary>
    TcpOutOfWindow,
    /// <summary>tcp_packet: "invalid rst" (RST below td_maxack).</summary>
    TcpInvalidRst,
    /// <summary>tcp_packet returned NF_DROP: reopening a closed connection while its timer could not be taken.</summary>
    TcpReopenDrop,
    /// <summary>__nf_conntrack_confirm found the tuple inserted meanwhile (an insert clash).</summary>
    InsertClash,
    /// <summary>udp_error: length field shorter than the header or beyond the datagram.</summary>
    UdpBadLength,
}

/// <summary>
/// What conntrack decided for one packet: the entry (index into the table, -1 when none), the ctinfo
/// (enum ip_conntrack_info split into state and direction), the verdict and, for INVALID or a drop, why.
/// A NEW entry is unconfirmed until <see cref="NfConntrackTable.Confirm"/>. Packed in one ulong: it is
/// returned for every packet, and a register is cheaper than a struct assembled byte by byte on the stack.
/// </summary>
public readonly record struct CtInfo
{
    private readonly ulong _v;

    public CtInfo(int entry, CtState state, CtDirection direction, CtVerdict verdict, CtReason reason) =>
        _v = (uint)entry | ((ulong)state << 32) | ((ulong)direction << 40) | ((ulong)verdict << 48) | ((ulong)reason << 56);

    public int Entry => (int)(uint)_v;
    public CtState State => (CtState)(byte)(_v >> 32);
    public CtDirection Direction => (CtDirection)(byte)(_v >> 40);
    public CtVerdict Verdict => (CtVerdict)(byte)(_v >> 48);
    public CtReason Reason => (CtReason)(byte)(_v >> 56);

    public static CtInfo Invalid(CtReason reason) => new(-1, CtState.Invalid, CtDirection.Original, CtVerdict.Accept, reason);

    /// <summary>The raw table's NOTRACK / CT --notrack (nf_ct_set(skb, NULL, IP_CT_UNTRACKED)).</summary>
    public static CtInfo Untracked { get; } = new(-1, CtState.Untracked, CtDirection.Original, CtVerdict.Accept, CtReason.None);

    public bool HasEntry => Entry >= 0;
}
