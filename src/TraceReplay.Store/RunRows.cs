using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Store;

/// <summary>Protocol family of a row, the NFPROTO_* numbers (include/uapi/linux/netfilter.h); stored as text.</summary>
public enum RunFamily : byte
{
    /// <summary>NFPROTO_UNSPEC: a frame with no IP header (ARP, LLDP on a bridge port).</summary>
    None = 0,
    Ipv4 = 2,
    Bridge = 7,
    Ipv6 = 10,
}

/// <summary>Whether a sighting was a packet arriving on the capture point or leaving by it (pcapng epb_flags in/out).</summary>
public enum SightingDirection : byte
{
    Unknown,
    In,
    Out,
}

/// <summary>The final verdict on a packet: the NF_* verdicts (include/uapi/linux/netfilter.h) with REJECT told apart from DROP.</summary>
public enum PacketVerdict : byte
{
    Accept,
    Drop,
    Reject,
    Queue,
    Stolen,
}

/// <summary>
/// One packet sighting: a row of <c>packets</c>. A value the replay fills in place and hands over by
/// <c>in</c>; strings are expected to be shared constants (interface names, verdict and path texts
/// the replay keeps), since the writer copies their bytes and never holds on to them.
/// </summary>
public struct PacketRow
{
    public long Id;

    /// <summary>The real packet this sighting belongs to (the replay's correlation): its first sighting's packet id.</summary>
    public long PacketId;

    /// <summary>Capture time, UTC microseconds since the epoch.</summary>
    public long TimestampUs;

    public string CapturePoint;
    public SightingDirection Direction;

    /// <summary><see cref="RunFamily.None"/> leaves the tuple columns NULL.</summary>
    public RunFamily Family;
    public byte Protocol;
    public IpAddr Src;
    public IpAddr Dst;
    public ushort SrcPort;
    public ushort DstPort;

    /// <summary>False while NAT did not touch the packet: the nat_* columns are then NULL rather than a copy.</summary>
    public bool HasNat;
    public IpAddr NatSrc;
    public IpAddr NatDst;
    public ushort NatSrcPort;
    public ushort NatDstPort;

    /// <summary>Length on the wire.</summary>
    public int Length;

    /// <summary>The conntrack entry's id; negative for none (untracked, or not IP).</summary>
    public long CtId;
    public CtState CtState;
    public CtDirection CtDirection;

    /// <summary>The hooks the packet went through, e.g. "PREROUTING>FORWARD>POSTROUTING".</summary>
    public string? Path;

    public PacketVerdict Verdict;

    /// <summary><see cref="RuleRow.Id"/> of the rule (or chain policy) that gave the verdict; negative for none.</summary>
    public int VerdictRuleId;

    public string? DropReason;

    /// <summary>An unknown (not fully evaluable) match decided the path: the verdict is a best guess.</summary>
    public bool DependsOnUnknown;

    /// <summary>Observed egress versus the prediction ("match", "missing", "unexpected", ...); null until the fidelity check fills it.</summary>
    public string? Observed;
}

/// <summary>
/// One rule or chain policy of the simulated rule set with its counters: a row of <c>rules</c>, in
/// iptables-save order. A policy has <see cref="Position"/> 0 and its target (ACCEPT/DROP) as text.
/// </summary>
public struct RuleRow
{
    public int Id;
    public RunFamily Family;
    public string Table;
    public string Chain;

    /// <summary>1-based position in the chain as `iptables -L --line-numbers` counts; 0 for the policy.</summary>
    public int Position;
    public bool IsPolicy;
    public string Text;
    public ulong Packets;
    public ulong Bytes;
}

/// <summary>One connection over its life: a row of <c>connections</c>, written when it is destroyed or at the end of the run.</summary>
public struct ConnectionRow
{
    public long CtId;
    public NfConntrackTuple Orig;
    public NfConntrackTuple Reply;
    public long FirstUs;

    /// <summary>When the entry was destroyed; negative while it is still live at the end of the run (NULL).</summary>
    public long LastUs;
    public CtStatus Status;
    public TcpConntrack TcpState;
    public uint Mark;
    public ushort Zone;
    public ulong OrigPackets;
    public ulong OrigBytes;
    public ulong ReplyPackets;
    public ulong ReplyBytes;
}

/// <summary>A row of <c>conntrack_start</c>: an entry of the snapshot's starting table as it went live.</summary>
public struct ConntrackStartRow
{
    public long TimestampUs;
    public long CtId;
    public byte Protocol;
    public CtStatus Status;
    public TcpConntrack TcpState;
    public uint Mark;
    public long TimeoutSeconds;
}

/// <summary>trace_packet's comments (ipt_do_table): what kind of entry a TRACE line names.</summary>
public enum RuleTraceType : byte
{
    Rule,
    Return,
    Policy,
}

/// <summary>One step of a packet's walk through the tables (`--trace`): a row of <c>rule_trace</c>, as the TRACE target's nf_log lines.</summary>
public struct RuleTraceRow
{
    /// <summary>The real packet (packets.packet_id).</summary>
    public long PacketId;

    /// <summary>Order of this step within the packet, from 1.</summary>
    public int Seq;
    public RunFamily Family;

    /// <summary>PREROUTING, INPUT, FORWARD, OUTPUT or POSTROUTING; a shared constant.</summary>
    public string Hook;
    public string Table;
    public string Chain;

    /// <summary>The number TRACE prints: 1-based rule position; rules + 1 for a policy or a user chain's end.</summary>
    public int RuleNum;

    /// <summary><see cref="RuleRow.Id"/>; negative for none (a user chain's implicit return).</summary>
    public int RuleId;
    public RuleTraceType Type;

    /// <summary>A rule: matched or not; null when an unknown match left it undecided. True for return and policy.</summary>
    public bool? Matched;

    /// <summary>A policy's verdict (ACCEPT, DROP); null otherwise.</summary>
    public string? Verdict;
}

/// <summary>One capture file: a row of <c>captures</c>.</summary>
public struct CaptureRow
{
    public string File;
    public string Format;
    public string LinkType;
    public string? Interface;
    public long Packets;
    public long FirstUs;
    public long LastUs;
}
