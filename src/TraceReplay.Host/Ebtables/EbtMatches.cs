using System.Runtime.CompilerServices;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Net;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Ebtables;

/// <summary>
/// A match or watcher of a rule. Each kind mirrors the kernel's info struct (ebt_ip_info, ebt_arp_info …)
/// with its bitmask and invflags, so the simulator's ebt_*_mt functions read the same fields the kernel's do.
/// </summary>
public abstract class EbtMatch
{
    /// <summary>The extension name as ebtables loads it (ip, ip6, arp, vlan, 802_3, among, mark_m, …).</summary>
    public abstract string Name { get; }

    /// <summary>Watchers (log, nflog) act on the frame but never decide whether the rule matches.</summary>
    public virtual bool IsWatcher => false;
}

/// <summary>
/// The bitmask / invflags pair every flag-driven ebt_*_info carries (ebt_ip_info, ebt_ip6_info, ebt_arp_info,
/// ebt_vlan_info, ebt_802_3_info, ebt_stp_info): which options the rule gave and which of them are negated,
/// tested as the kernel's FWINV does. <typeparamref name="TFlags"/> is the module's EBT_*_ bit enum (int-sized).
/// </summary>
public abstract class EbtFlagsMatch<TFlags> : EbtMatch
    where TFlags : struct, Enum
{
    public TFlags Bitmask { get; internal set; }
    public TFlags InvFlags { get; internal set; }
    public bool Has(TFlags f) => (Bits(Bitmask) & Bits(f)) != 0;
    public bool Inverted(TFlags f) => (Bits(InvFlags) & Bits(f)) != 0;

    /// <summary>Records an option as given, and negated if <paramref name="invert"/>; the parser has refused it twice already.</summary>
    internal void Set(TFlags f, bool invert)
    {
        int bit = Bits(f);
        Bitmask = FromBits(Bits(Bitmask) | bit);
        if (invert)
            InvFlags = FromBits(Bits(InvFlags) | bit);
    }

    // The EBT_* enums are all int-based; reinterpreting keeps Has() as cheap as the non-generic test it replaces.
    private static int Bits(TFlags f) => Unsafe.As<TFlags, int>(ref f);

    private static TFlags FromBits(int v) => Unsafe.As<int, TFlags>(ref v);
}

/// <summary>An inclusive 16-bit range (a port or type range as ebtables stores it, [0]..[1]).</summary>
public readonly record struct EbtRange(ushort Min, ushort Max)
{
    public bool Contains(int v) => v >= Min && v <= Max;
}

/// <summary>EBT_IP_* bits of struct ebt_ip_info (include/uapi/linux/netfilter_bridge/ebt_ip.h).</summary>
[Flags]
public enum EbtIpFlags
{
    None = 0,
    Source = 0x01,
    Dest = 0x02,
    Tos = 0x04,
    Proto = 0x08,
    SPort = 0x10,
    DPort = 0x20,
    Icmp = 0x40,
    Igmp = 0x80,
}

/// <summary>
/// What struct ebt_ip_info and struct ebt_ip6_info share (include/uapi/linux/netfilter_bridge/ebt_ip.h,
/// ebt_ip6.h): the same bitmask/invflags bit values, addresses, protocol, port ranges and ICMP ranges.
/// One base so the parser, printer and ebt_ip_mt / ebt_ip6_mt read these fields from one place.
/// </summary>
public abstract class EbtIpFamilyMatch : EbtFlagsMatch<EbtIpFlags>
{
    public IpNetwork Source { get; internal set; }
    public IpNetwork Dest { get; internal set; }
    public byte Protocol { get; internal set; }
    public EbtRange SPort { get; internal set; }
    public EbtRange DPort { get; internal set; }

    /// <summary>With <see cref="EbtIpFlags.Icmp"/>: type range and code range; with Igmp (ip only): type range.</summary>
    public EbtRange IcmpType { get; internal set; }

    public EbtRange IcmpCode { get; internal set; }
}

/// <summary>libebt_ip / net/bridge/netfilter/ebt_ip.c (struct ebt_ip_info).</summary>
public sealed class EbtIpMatch : EbtIpFamilyMatch
{
    public override string Name => "ip";
    public byte Tos { get; internal set; }
}

/// <summary>libebt_ip6 / ebt_ip6.c (struct ebt_ip6_info); flags reuse the EBT_IP6_* values of ebt_ip.</summary>
public sealed class EbtIp6Match : EbtIpFamilyMatch
{
    public override string Name => "ip6";
    public byte TrafficClass { get; internal set; }
}

/// <summary>EBT_ARP_* bits of struct ebt_arp_info.</summary>
[Flags]
public enum EbtArpFlags
{
    None = 0,
    Opcode = 0x01,
    HType = 0x02,
    PType = 0x04,
    SrcIp = 0x08,
    DstIp = 0x10,
    SrcMac = 0x20,
    DstMac = 0x40,
    Gratuitous = 0x80,
}

/// <summary>libebt_arp / ebt_arp.c (struct ebt_arp_info).</summary>
public sealed class EbtArpMatch : EbtFlagsMatch<EbtArpFlags>
{
    public override string Name => "arp";
    public ushort Opcode { get; internal set; }
    public ushort HType { get; internal set; }
    public ushort PType { get; internal set; }
    public IpNetwork SrcIp { get; internal set; }
    public IpNetwork DstIp { get; internal set; }
    public MacAddr SrcMac { get; internal set; }
    public MacAddr SrcMacMask { get; internal set; }
    public MacAddr DstMac { get; internal set; }
    public MacAddr DstMacMask { get; internal set; }
}

/// <summary>EBT_VLAN_* bits of struct ebt_vlan_info.</summary>
[Flags]
public enum EbtVlanFlags
{
    None = 0,
    Id = 0x01,
    Prio = 0x02,
    Encap = 0x04,
}

/// <summary>libebt_vlan / ebt_vlan.c (struct ebt_vlan_info).</summary>
public sealed class EbtVlanMatch : EbtFlagsMatch<EbtVlanFlags>
{
    public override string Name => "vlan";
    public ushort Id { get; internal set; }
    public byte Prio { get; internal set; }
    public ushort Encap { get; internal set; }
}

/// <summary>EBT_802_3_SAP / EBT_802_3_TYPE of struct ebt_802_3_info.</summary>
[Flags]
public enum Ebt8023Flags
{
    None = 0,
    Sap = 0x01,
    Type = 0x02,
}

/// <summary>libebt_802_3 / ebt_802_3.c: DSAP/SSAP and SNAP type of an 802.3 (length) frame.</summary>
public sealed class Ebt8023Match : EbtFlagsMatch<Ebt8023Flags>
{
    public override string Name => "802_3";
    public byte Sap { get; internal set; }
    public ushort Type { get; internal set; }
}

/// <summary>One element of an among list: a MAC, optionally bound to an IPv4 address (struct ebt_mac_wormhash_tuple).</summary>
public readonly record struct EbtAmongEntry(MacAddr Mac, IpAddr? Ip) : IComparable<EbtAmongEntry>
{
    public int CompareTo(EbtAmongEntry other)
    {
        int c = Mac.Value.CompareTo(other.Mac.Value);
        if (c != 0)
            return c;
        if (Ip is null)
            return other.Ip is null ? 0 : -1;
        return other.Ip is null ? 1 : Ip.Value.CompareTo(other.Ip.Value);
    }
}

/// <summary>
/// libebt_among / ebt_among.c: source and/or destination MAC[=IP] sets. Entries are kept sorted, as the
/// nft set ebtables-nft stores them in lists them.
/// </summary>
public sealed class EbtAmongMatch : EbtMatch
{
    public override string Name => "among";
    public IReadOnlyList<EbtAmongEntry>? Src { get; internal set; }
    public bool SrcInvert { get; internal set; }
    public IReadOnlyList<EbtAmongEntry>? Dst { get; internal set; }
    public bool DstInvert { get; internal set; }
}

/// <summary>libebt_mark_m / ebt_mark_m.c: EBT_MARK_AND ((mark &amp; mask) == value) or EBT_MARK_OR ((mark &amp; mask) != 0).</summary>
public sealed class EbtMarkMatch : EbtMatch
{
    public override string Name => "mark_m";
    public uint Mark { get; internal set; }
    public uint Mask { get; internal set; } = uint.MaxValue;
    public bool IsOr { get; internal set; }
    public bool Invert { get; internal set; }
}

/// <summary>libebt_pkttype / ebt_pkttype.c: skb->pkt_type (PACKET_HOST …).</summary>
public sealed class EbtPktTypeMatch : EbtMatch
{
    public override string Name => "pkttype";
    public byte PktType { get; internal set; }
    public bool Invert { get; internal set; }
}

/// <summary>
/// libebt_limit / ebt_limit.c: a token bucket. <see cref="Avg"/> is the period between packets in
/// EBT_LIMIT_SCALE (10000) units of a second, exactly as the kernel receives it.
/// </summary>
public sealed class EbtLimitMatch : EbtMatch
{
    public const uint Scale = 10000;
    public override string Name => "limit";
    /// <summary>Defaults to EBT_LIMIT_AVG, "3/hour", when only --limit-burst is given.</summary>
    public uint Avg { get; internal set; } = Scale * 60 * 60 / 3;

    public uint Burst { get; internal set; } = 5;
}

/// <summary>EBT_LOG_IP / ARP / IP6 bits of struct ebt_log_info.</summary>
[Flags]
public enum EbtLogFlags
{
    None = 0,
    Ip = 0x01,
    Arp = 0x02,
    Ip6 = 0x08,
}

/// <summary>The log watcher (libebt_log / ebt_log.c).</summary>
public sealed class EbtLogWatcher : EbtMatch
{
    public override string Name => "log";
    public override bool IsWatcher => true;
    public byte Level { get; internal set; } = 5;
    public string Prefix { get; internal set; } = string.Empty;
    public EbtLogFlags Flags { get; internal set; }
}

/// <summary>The nflog watcher (libebt_nflog / ebt_nflog.c).</summary>
public sealed class EbtNflogWatcher : EbtMatch
{
    public override string Name => "nflog";
    public override bool IsWatcher => true;
    public string Prefix { get; internal set; } = string.Empty;
    public ushort Group { get; internal set; } = 1;
    public uint Range { get; internal set; }
    public ushort Threshold { get; internal set; } = 1;
}

/// <summary>
/// Options the parser does not know (a module it does not implement, or a form that needs files it
/// cannot see, such as --among-src-file). Kept verbatim and printed back as read; the simulator
/// evaluates the rule as unknown.
/// </summary>
public sealed class EbtUnknownMatch : EbtMatch
{
    internal EbtUnknownMatch(string module, SourceLocation location)
    {
        Module = module;
        Location = location;
    }

    public override string Name => Module;

    /// <summary>The module guessed from the option name (the part before its first dash).</summary>
    public string Module { get; }

    public SourceLocation Location { get; }
    internal EbtVerbatimOptions Verbatim { get; } = new();

    /// <summary>The tokens as read, `!` included, unquoted.</summary>
    public IReadOnlyList<string> Tokens => Verbatim.Tokens;

    internal void Add(string token, bool quoted) => Verbatim.Add(token, quoted);
}

/// <summary>
/// The options of a match or target the parser does not know (<see cref="EbtUnknownMatch"/>,
/// <see cref="EbtUnknownTarget"/>), kept as read so ebtables-save's text prints back unchanged.
/// </summary>
internal sealed class EbtVerbatimOptions
{
    /// <summary>The tokens as read, `!` included, unquoted.</summary>
    internal List<string> Tokens { get; } = [];

    /// <summary>Which tokens were quoted in the file, so a quoted "-x" value prints back quoted.</summary>
    internal List<bool> Quoted { get; } = [];

    internal void Add(string token, bool quoted)
    {
        Tokens.Add(token);
        Quoted.Add(quoted);
    }
}

/// <summary>EBT_STP_* bits of struct ebt_stp_info; the print order of libebt_stp follows them.</summary>
[Flags]
public enum EbtStpFlags
{
    None = 0,
    Type = 0x0001,
    Flags = 0x0002,
    RootPrio = 0x0004,
    RootAddr = 0x0008,
    RootCost = 0x0010,
    SenderPrio = 0x0020,
    SenderAddr = 0x0040,
    Port = 0x0080,
    MsgAge = 0x0100,
    MaxAge = 0x0200,
    HelloTime = 0x0400,
    ForwardDelay = 0x0800,
}

/// <summary>An inclusive 32-bit range (the STP root path cost).</summary>
public readonly record struct EbtRange32(uint Min, uint Max)
{
    public bool Contains(uint v) => v >= Min && v <= Max;
}

/// <summary>
/// libebt_stp / ebt_stp.c (struct ebt_stp_info): fields of a spanning-tree BPDU. Every option except
/// --stp-type and --stp-flags only matches configuration BPDUs (EBT_STP_CONFIG_MASK).
/// </summary>
public sealed class EbtStpMatch : EbtFlagsMatch<EbtStpFlags>
{
    public const byte TypeConfig = 0x00;
    public const byte TypeTcn = 0x80;
    public const byte FlagTc = 0x01;
    public const byte FlagTcAck = 0x80;

    public override string Name => "stp";
    public byte Type { get; internal set; }
    public byte Flags { get; internal set; }
    public EbtRange RootPrio { get; internal set; }
    public MacAddr RootAddr { get; internal set; }
    public MacAddr RootAddrMask { get; internal set; }
    public EbtRange32 RootCost { get; internal set; }
    public EbtRange SenderPrio { get; internal set; }
    public MacAddr SenderAddr { get; internal set; }
    public MacAddr SenderAddrMask { get; internal set; }
    public EbtRange Port { get; internal set; }
    public EbtRange MsgAge { get; internal set; }
    public EbtRange MaxAge { get; internal set; }
    public EbtRange HelloTime { get; internal set; }
    public EbtRange ForwardDelay { get; internal set; }
}
