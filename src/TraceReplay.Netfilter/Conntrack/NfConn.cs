using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TraceReplay.Netfilter.Conntrack;

/// <summary>
/// enum tcp_conntrack (include/uapi/linux/netfilter/nf_conntrack_tcp.h). SynSent2 reuses the obsolete
/// LISTEN slot as the kernel does; Max is sIV (invalid) and Ignore is sIG in the state table; Retrans and
/// Unack index only the timeout table.
/// </summary>
public enum TcpConntrack : byte
{
    None = 0,
    SynSent = 1,
    SynRecv = 2,
    Established = 3,
    FinWait = 4,
    CloseWait = 5,
    LastAck = 6,
    TimeWait = 7,
    Close = 8,
    SynSent2 = 9,
    Max = 10,
    Ignore = 11,
    Retrans = 12,
    Unack = 13,
}

/// <summary>IP_CT_TCP_FLAG_* and IP_CT_EXP_CHALLENGE_ACK / IP_CT_TCP_SIMULTANEOUS_OPEN (nf_conntrack_tcp.h).</summary>
[Flags]
public enum TcpConntrackFlags : byte
{
    None = 0,
    WindowScale = 0x01,
    SackPerm = 0x02,
    CloseInit = 0x04,
    BeLiberal = 0x08,
    DataUnacknowledged = 0x10,
    MaxAckSet = 0x20,
    ExpChallengeAck = 0x40,
    SimultaneousOpen = 0x80,
}

/// <summary>One direction's window data: struct ip_ct_tcp_state (include/linux/netfilter/nf_conntrack_tcp.h).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct IpCtTcpState
{
    public uint TdEnd;
    public uint TdMaxEnd;
    public uint TdMaxWin;
    public uint TdMaxAck;
    public byte TdScale;
    public TcpConntrackFlags Flags;
}

/// <summary>seen[2] of struct ip_ct_tcp, indexed by <see cref="CtDirection"/>.</summary>
[InlineArray(2)]
public struct IpCtTcpSeen
{
    private IpCtTcpState _element0;
}

/// <summary>
/// The TCP part of a connection: struct ip_ct_tcp. The last_* fields remember the previous packet so the
/// tracker can recognise retransmissions, ignored SYNs answered later, and RSTs in a train.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct IpCtTcp
{
    public IpCtTcpSeen Seen;
    public uint LastSeq;
    public uint LastAck;
    public uint LastEnd;
    public ushort LastWin;
    public TcpConntrack State;
    public CtDirection LastDir;
    public byte Retrans;
    public byte LastIndex;
    public byte LastWscale;
    public TcpConntrackFlags LastFlags;
}

/// <summary>Slot bookkeeping of <see cref="NfConntrackTable"/>; not kernel state.</summary>
[Flags]
internal enum SlotFlags : byte
{
    Free = 0,
    InUse = 1,
    /// <summary>Inserted in the hash (nf_conntrack_confirm done).</summary>
    Hashed = 2,
    /// <summary>Has the acct extension (nf_conntrack_acct was on at creation, or the dump showed counters).</summary>
    Acct = 4,
    /// <summary>Killed while a packet still refers to it; the slot is recycled at the next packet.</summary>
    DeferredFree = 8,
}

/// <summary>
/// One tracked connection, struct nf_conn (include/net/netfilter/nf_conntrack.h) reduced to what the
/// simulation needs, stored by value in <see cref="NfConntrackTable"/>'s array: no object per connection.
/// Its two tuplehash nodes (hash chain links and hashes) live in the table's node arrays, so walking a
/// chain does not touch the entries of other connections.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public struct NfConn
{
    public NfConntrackTuple Orig;
    public NfConntrackTuple Reply;
    /// <summary>
    /// Deadline on the capture clock (ns); nf_conn.timeout, kept absolute even while unconfirmed. Read it;
    /// only the table and its trackers set it (they keep the expiry sweep's copy in step).
    /// </summary>
    public long Timeout;
    public ulong OrigPackets;
    public ulong OrigBytes;
    public ulong ReplyPackets;
    public ulong ReplyBytes;
    public CtStatus Status;
    public uint Mark;
    public ushort Zone;
    public IpCtTcp Tcp;
    /// <summary>proto.udp.stream_ts (and GRE's): when a replied flow counts as a stream.</summary>
    public long StreamTs;
    /// <summary>
    /// nf_conn_tstamp.start (the timestamp extension, nf_conntrack_timestamp.h): when the entry was
    /// confirmed (__nf_conntrack_confirm), capture clock, ns; 0 for an entry of the starting table,
    /// which predates the capture (as the kernel leaves it 0 for entries made before tstamp was on).
    /// Kept here so a consumer of DESTROY needs no table of its own per live connection.
    /// </summary>
    public long StartNs;
    internal SlotFlags Slot;
    /// <summary>IPCT_* bits cached during a packet, delivered as one UPDATE (nf_conntrack_event_cache).</summary>
    internal NfctEventMask PendingEvents;

    public readonly bool IsConfirmed => (Status & CtStatus.Confirmed) != 0;
    public readonly bool IsAssured => (Status & CtStatus.Assured) != 0;
    public readonly bool SeenReply => (Status & CtStatus.SeenReply) != 0;
    public readonly bool HasAcct => (Slot & SlotFlags.Acct) != 0;

    public readonly ref readonly NfConntrackTuple Tuple(CtDirection dir) =>
        ref dir == CtDirection.Original ? ref Unsafe.AsRef(in Orig) : ref Unsafe.AsRef(in Reply);
}
