using System.Buffers.Binary;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Ebtables;
using TraceReplay.Host.Net;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Bridge;

/// <summary>
/// A bridge match's run-time half (struct xt_match's .match for NFPROTO_BRIDGE, called by
/// ebt_do_match). Watchers (ebt_log, ebt_nflog) are evaluators too: they always say true and record.
/// </summary>
public abstract class EbtMatchEvaluator
{
    public abstract Tristate Match(ref EbtActionParam p);

    /// <summary>Whether evaluating changes state (limit tokens): not run speculatively past an unknown match.</summary>
    public virtual bool HasState => false;

    public virtual bool DependsOnClockOrRandom => false;

    /// <summary>A watcher runs after the rule matched and was counted (EBT_WATCHER_ITERATE), not with the matches.</summary>
    public virtual bool IsWatcher => false;

    /// <summary>Builds the evaluator of a Host match; stp and modules the parser kept verbatim answer unknown.</summary>
    public static EbtMatchEvaluator Create(EbtMatch m, EbtTableInfo table, XtNet net) => m switch
    {
        EbtIpMatch ip => new EbtIpMt(ip),
        EbtIp6Match ip6 => new EbtIp6Mt(ip6),
        EbtArpMatch arp => new EbtArpMt(arp),
        EbtVlanMatch vlan => new EbtVlanMt(vlan),
        Ebt8023Match m8023 => new Ebt8023Mt(m8023),
        EbtAmongMatch among => new EbtAmongMt(among),
        EbtMarkMatch mark => new EbtMarkMt(mark),
        EbtPktTypeMatch pkt => new EbtPktTypeMt(pkt),
        EbtLimitMatch limit => new EbtLimitMt(limit, net),
        EbtLogWatcher log => new EbtLogWatcherTg(table, EbtRecordKind.Log, log.Prefix, 0),
        EbtNflogWatcher nflog => new EbtLogWatcherTg(table, EbtRecordKind.Nflog, nflog.Prefix, nflog.Group),
        _ => EbtUnknownMt.Instance,
    };

    /// <summary>NF_INVF: the test's result, flipped when the option was negated.</summary>
    protected static bool Inv(bool test, bool inverted) => test ^ inverted;

    protected static bool Masked(IpNetwork n, uint addr) => (addr & (uint)n.Mask.Lo) == (uint)n.Address.Lo;
}

/// <summary>stp (BPDU fields are not decoded) and modules the parser did not know: the simulator cannot say.</summary>
public sealed class EbtUnknownMt : EbtMatchEvaluator
{
    public static EbtUnknownMt Instance { get; } = new();

    public override Tristate Match(ref EbtActionParam p) => Tristate.Unknown;
}

/// <summary>
/// ebt_ip_mt (net/bridge/netfilter/ebt_ip.c): TOS, addresses under their masks, protocol, then —
/// for the first fragment only — ports or ICMP/IGMP type and code, read from the raw header as
/// the kernel reads them (ihl*4 past the IP header start).
/// </summary>
public sealed class EbtIpMt(EbtIpMatch m) : EbtMatchEvaluator
{
    public EbtIpMatch Module { get; } = m;

    public override Tristate Match(ref EbtActionParam p)
    {
        var f = p.Frame;
        int at = p.NetworkOffset;
        if (f.Length < at + 20)
            return p.Short(at + 20);
        var ih = f.Slice(at);
        var m = Module;
        if (m.Has(EbtIpFlags.Tos) && Inv(m.Tos != ih[1], m.Inverted(EbtIpFlags.Tos)))
            return Tristate.False;
        if (m.Has(EbtIpFlags.Source) && Inv(!Masked(m.Source, BinaryPrimitives.ReadUInt32BigEndian(ih[12..])), m.Inverted(EbtIpFlags.Source)))
            return Tristate.False;
        if (m.Has(EbtIpFlags.Dest) && Inv(!Masked(m.Dest, BinaryPrimitives.ReadUInt32BigEndian(ih[16..])), m.Inverted(EbtIpFlags.Dest)))
            return Tristate.False;
        if (!m.Has(EbtIpFlags.Proto))
            return Tristate.True;
        if (Inv(m.Protocol != ih[9], m.Inverted(EbtIpFlags.Proto)))
            return Tristate.False;
        if ((m.Bitmask & (EbtIpFlags.DPort | EbtIpFlags.SPort | EbtIpFlags.Icmp | EbtIpFlags.Igmp)) == 0)
            return Tristate.True;
        if ((BinaryPrimitives.ReadUInt16BigEndian(ih[6..]) & 0x1FFF) != 0)
            return Tristate.False;

        // "min icmp/igmp headersize is 4": the kernel reads 4 bytes past ihl*4.
        int l4 = at + ((ih[0] & 0x0F) * 4);
        if (f.Length < l4 + 4)
            return p.Short(l4 + 4);
        return PortsAndTypes(f.Slice(l4, 4), m.Bitmask, m.InvFlags, m.SPort, m.DPort, m.IcmpType, m.IcmpCode, igmp: true);
    }

    /// <summary>The port, ICMP and IGMP tests ebt_ip_mt and ebt_ip6_mt share (EBT_IP6_* reuse the EBT_IP_* values).</summary>
    internal static Tristate PortsAndTypes(ReadOnlySpan<byte> h, EbtIpFlags bits, EbtIpFlags inv, EbtRange sport, EbtRange dport,
        EbtRange type, EbtRange code, bool igmp)
    {
        if ((bits & EbtIpFlags.DPort) != 0)
        {
            int dst = BinaryPrimitives.ReadUInt16BigEndian(h[2..]);
            if (Inv(!dport.Contains(dst), (inv & EbtIpFlags.DPort) != 0))
                return Tristate.False;
        }
        if ((bits & EbtIpFlags.SPort) != 0)
        {
            int src = BinaryPrimitives.ReadUInt16BigEndian(h);
            if (Inv(!sport.Contains(src), (inv & EbtIpFlags.SPort) != 0))
                return Tristate.False;
        }
        if ((bits & EbtIpFlags.Icmp) != 0 && Inv(!type.Contains(h[0]) || !code.Contains(h[1]), (inv & EbtIpFlags.Icmp) != 0))
            return Tristate.False;
        if (igmp && (bits & EbtIpFlags.Igmp) != 0 && Inv(!type.Contains(h[0]), (inv & EbtIpFlags.Igmp) != 0))
            return Tristate.False;
        return Tristate.True;
    }
}

/// <summary>
/// ebt_ip6_mt (ebt_ip6.c): traffic class, addresses, and the upper protocol after
/// ipv6_skip_exthdr — the decoder has walked the extension headers the same way.
/// </summary>
public sealed class EbtIp6Mt(EbtIp6Match m) : EbtMatchEvaluator
{
    public EbtIp6Match Module { get; } = m;

    public override Tristate Match(ref EbtActionParam p)
    {
        var f = p.Frame;
        int at = p.NetworkOffset;
        if (f.Length < at + 40)
            return p.Short(at + 40);
        var ih = f.Slice(at);
        var m = Module;
        byte tclass = (byte)((BinaryPrimitives.ReadUInt16BigEndian(ih) >> 4) & 0xFF);
        if (m.Has(EbtIpFlags.Tos) && Inv(m.TrafficClass != tclass, m.Inverted(EbtIpFlags.Tos)))
            return Tristate.False;
        if (m.Has(EbtIpFlags.Source) && Inv(!m.Source.Contains(IpAddr.ReadV6(ih[8..])), m.Inverted(EbtIpFlags.Source)))
            return Tristate.False;
        if (m.Has(EbtIpFlags.Dest) && Inv(!m.Dest.Contains(IpAddr.ReadV6(ih[24..])), m.Inverted(EbtIpFlags.Dest)))
            return Tristate.False;
        if (!m.Has(EbtIpFlags.Proto))
            return Tristate.True;
        ref var d = ref p.Packet;
        if (!d.HasIp || d.IpVersion != 6 || d.L4Offset == 0)
            return d.IsTruncated ? Tristate.Unknown : Tristate.False;
        if (Inv(m.Protocol != d.Protocol, m.Inverted(EbtIpFlags.Proto)))
            return Tristate.False;
        if ((m.Bitmask & (EbtIpFlags.DPort | EbtIpFlags.SPort | EbtIpFlags.Icmp)) == 0)
            return Tristate.True;
        int l4 = d.L4Offset;
        if (f.Length < l4 + 4)
            return p.Short(l4 + 4);
        return EbtIpMt.PortsAndTypes(f.Slice(l4, 4), m.Bitmask, m.InvFlags, m.SPort, m.DPort, m.IcmpType, m.IcmpCode, igmp: false);
    }
}

/// <summary>
/// ebt_arp_mt (ebt_arp.c): opcode, hardware and protocol type; the IPv4 addresses only when
/// ar_pln is 4 and ar_pro IPv4; the MACs only when ar_hln is 6 and ar_hrd Ethernet.
/// </summary>
public sealed class EbtArpMt(EbtArpMatch m) : EbtMatchEvaluator
{
    public EbtArpMatch Module { get; } = m;

    public override Tristate Match(ref EbtActionParam p)
    {
        var f = p.Frame;
        int at = p.NetworkOffset;
        if (f.Length < at + 8)
            return p.Short(at + 8);
        var ah = f.Slice(at);
        var m = Module;
        ushort hrd = BinaryPrimitives.ReadUInt16BigEndian(ah);
        ushort pro = BinaryPrimitives.ReadUInt16BigEndian(ah[2..]);
        byte hln = ah[4], pln = ah[5];
        ushort op = BinaryPrimitives.ReadUInt16BigEndian(ah[6..]);
        if (m.Has(EbtArpFlags.Opcode) && Inv(m.Opcode != op, m.Inverted(EbtArpFlags.Opcode)))
            return Tristate.False;
        if (m.Has(EbtArpFlags.HType) && Inv(m.HType != hrd, m.Inverted(EbtArpFlags.HType)))
            return Tristate.False;
        if (m.Has(EbtArpFlags.PType) && Inv(m.PType != pro, m.Inverted(EbtArpFlags.PType)))
            return Tristate.False;
        if ((m.Bitmask & (EbtArpFlags.SrcIp | EbtArpFlags.DstIp | EbtArpFlags.Gratuitous)) != 0)
        {
            if (pln != 4 || pro != EtherTypes.Ipv4)
                return Tristate.False;
            int sap = at + 8 + hln, dap = at + 8 + (2 * hln) + 4;
            if (f.Length < dap + 4)
                return p.Short(dap + 4);
            uint sa = BinaryPrimitives.ReadUInt32BigEndian(f[sap..]), da = BinaryPrimitives.ReadUInt32BigEndian(f[dap..]);
            if (m.Has(EbtArpFlags.SrcIp) && Inv(!Masked(m.SrcIp, sa), m.Inverted(EbtArpFlags.SrcIp)))
                return Tristate.False;
            if (m.Has(EbtArpFlags.DstIp) && Inv(!Masked(m.DstIp, da), m.Inverted(EbtArpFlags.DstIp)))
                return Tristate.False;
            if (m.Has(EbtArpFlags.Gratuitous) && Inv(da != sa, m.Inverted(EbtArpFlags.Gratuitous)))
                return Tristate.False;
        }
        if ((m.Bitmask & (EbtArpFlags.SrcMac | EbtArpFlags.DstMac)) != 0)
        {
            if (hln != 6 || hrd != 1)
                return Tristate.False;
            if (m.Has(EbtArpFlags.SrcMac))
            {
                int mp = at + 8;
                if (f.Length < mp + 6)
                    return p.Short(mp + 6);
                if (Inv(!MaskedEqual(MacAddr.Read(f[mp..]), m.SrcMac, m.SrcMacMask), m.Inverted(EbtArpFlags.SrcMac)))
                    return Tristate.False;
            }
            if (m.Has(EbtArpFlags.DstMac))
            {
                int mp = at + 8 + hln + pln;
                if (f.Length < mp + 6)
                    return p.Short(mp + 6);
                if (Inv(!MaskedEqual(MacAddr.Read(f[mp..]), m.DstMac, m.DstMacMask), m.Inverted(EbtArpFlags.DstMac)))
                    return Tristate.False;
            }
        }
        return Tristate.True;
    }

    /// <summary>ether_addr_equal_masked.</summary>
    internal static bool MaskedEqual(MacAddr a, MacAddr b, MacAddr mask) => ((a.Value ^ b.Value) & mask.Value) == 0;
}

/// <summary>
/// ebt_vlan_mt (ebt_vlan.c): id, priority and encapsulated type of the outer tag, which
/// __netif_receive_skb_core has moved into skb->vlan_tci (skb->protocol then holds the encapsulated type).
/// </summary>
public sealed class EbtVlanMt(EbtVlanMatch m) : EbtMatchEvaluator
{
    public EbtVlanMatch Module { get; } = m;

    public override Tristate Match(ref EbtActionParam p)
    {
        ref var d = ref p.Packet;
        if (d.VlanCount == 0)
            return Tristate.False; // -p 802_1Q is required, and an untagged frame fails it first
        ushort tci = d.OuterVlanTci;
        // With two tags the outer one encapsulates the inner tag, whose TPID the decoder does not keep: 802.1Q.
        ushort encap = d.VlanCount == 1 ? d.EtherType : EtherTypes.Vlan;
        var m = Module;
        if (m.Has(EbtVlanFlags.Id) && Inv(m.Id != (tci & 0x0FFF), m.Inverted(EbtVlanFlags.Id)))
            return Tristate.False;
        if (m.Has(EbtVlanFlags.Prio) && Inv(m.Prio != ((tci >> 13) & 7), m.Inverted(EbtVlanFlags.Prio)))
            return Tristate.False;
        if (m.Has(EbtVlanFlags.Encap) && Inv(m.Encap != encap, m.Inverted(EbtVlanFlags.Encap)))
            return Tristate.False;
        return Tristate.True;
    }
}

/// <summary>
/// ebt_802_3_mt (ebt_802_3.c): DSAP and SSAP both equal to --802_3-sap; the SNAP type (only when
/// both SAPs are 0xaa) from the UI or the NI layout as the control field says.
/// </summary>
public sealed class Ebt8023Mt(Ebt8023Match m) : EbtMatchEvaluator
{
    public Ebt8023Match Module { get; } = m;

    public override Tristate Match(ref EbtActionParam p)
    {
        int llc = p.NetworkOffset;
        var f = p.Frame;
        if (f.Length < llc + 8)
            return p.Short(llc + 8);
        byte dsap = f[llc], ssap = f[llc + 1], ctrl = f[llc + 2];
        ushort type = (ctrl & 0x03) != 0
            ? BinaryPrimitives.ReadUInt16BigEndian(f[(llc + 6)..])
            : (f.Length >= llc + 9 ? BinaryPrimitives.ReadUInt16BigEndian(f[(llc + 7)..]) : (ushort)0);
        var m = Module;
        if (m.Has(Ebt8023Flags.Sap))
        {
            if (Inv(m.Sap != ssap, m.Inverted(Ebt8023Flags.Sap)))
                return Tristate.False;
            if (Inv(m.Sap != dsap, m.Inverted(Ebt8023Flags.Sap)))
                return Tristate.False;
        }
        if (m.Has(Ebt8023Flags.Type))
        {
            if (!(dsap == 0xAA && ssap == 0xAA))
                return Tristate.False;
            if (Inv(m.Type != type, m.Inverted(Ebt8023Flags.Type)))
                return Tristate.False;
        }
        return Tristate.True;
    }
}

/// <summary>
/// ebt_among_mt (ebt_among.c): the source / destination MAC (of the possibly rewritten Ethernet
/// header), bound to the IPv4 address get_ip_src/get_ip_dst read (IP header or ARP sender/target,
/// 0 for other frames); an entry without an address matches any (ebt_mac_wormhash_contains).
/// The lists are copied into sorted arrays once, so a lookup is a binary search.
/// </summary>
public sealed class EbtAmongMt : EbtMatchEvaluator
{
    private readonly ulong[]? _srcMacs, _dstMacs;
    private readonly uint[]? _srcIps, _dstIps;

    public EbtAmongMt(EbtAmongMatch m)
    {
        Module = m;
        (_srcMacs, _srcIps) = Build(m.Src);
        (_dstMacs, _dstIps) = Build(m.Dst);
    }

    public EbtAmongMatch Module { get; }

    private static (ulong[]?, uint[]?) Build(IReadOnlyList<EbtAmongEntry>? list)
    {
        if (list is null)
            return (null, null);
        var sorted = list.OrderBy(e => e.Mac.Value).ThenBy(e => e.Ip?.V4 ?? 0).ToArray();
        return (sorted.Select(e => e.Mac.Value).ToArray(), sorted.Select(e => e.Ip?.V4 ?? 0).ToArray());
    }

    public override Tristate Match(ref EbtActionParam p)
    {
        if (_srcMacs is not null)
        {
            var r = IpOf(ref p, src: true, out uint sip);
            if (r != Tristate.True)
                return r;
            if (Contains(_srcMacs, _srcIps!, p.SrcMac.Value, sip) == Module.SrcInvert)
                return Tristate.False;
        }
        if (_dstMacs is not null)
        {
            var r = IpOf(ref p, src: false, out uint dip);
            if (r != Tristate.True)
                return r;
            if (Contains(_dstMacs, _dstIps!, p.DstMac.Value, dip) == Module.DstInvert)
                return Tristate.False;
        }
        return Tristate.True;
    }

    private static bool Contains(ulong[] macs, uint[] ips, ulong mac, uint ip)
    {
        int i = Array.BinarySearch(macs, mac);
        if (i < 0)
            return false;
        while (i > 0 && macs[i - 1] == mac)
            i--;
        for (; i < macs.Length && macs[i] == mac; i++)
        {
            if (ips[i] == 0 || ips[i] == ip)
                return true;
        }
        return false;
    }

    /// <summary>get_ip_src / get_ip_dst: by the Ethernet header's type (a tagged frame's h_proto is the tag's, so 0).</summary>
    private static Tristate IpOf(ref EbtActionParam p, bool src, out uint ip)
    {
        ip = 0;
        var f = p.Frame;
        int at = p.NetworkOffset;
        ushort proto = p.VlanTagPresent ? EtherTypes.Vlan : p.Packet.EtherType;
        if (proto == EtherTypes.Ipv4)
        {
            if (f.Length < at + 20)
                return p.Short(at + 20) == Tristate.Unknown ? Tristate.Unknown : Tristate.False;
            ip = BinaryPrimitives.ReadUInt32BigEndian(f[(at + (src ? 12 : 16))..]);
        }
        else if (proto == EtherTypes.Arp)
        {
            if (f.Length < at + 8)
                return p.Short(at + 8);
            if (f[at + 5] != 4 || BinaryPrimitives.ReadUInt16BigEndian(f[(at + 2)..]) != EtherTypes.Ipv4)
                return Tristate.False;
            int off = at + 8 + (src ? 6 : 16);
            if (f.Length < off + 4)
                return p.Short(off + 4);
            ip = BinaryPrimitives.ReadUInt32BigEndian(f[off..]);
        }
        return Tristate.True;
    }
}

/// <summary>ebt_mark_mt (ebt_mark_m.c): EBT_MARK_OR — any masked bit set; EBT_MARK_AND — masked mark equals the value.</summary>
public sealed class EbtMarkMt(EbtMarkMatch m) : EbtMatchEvaluator
{
    public EbtMarkMatch Module { get; } = m;

    public override Tristate Match(ref EbtActionParam p)
    {
        bool hit = Module.IsOr ? (p.Mark & Module.Mask) != 0 : (p.Mark & Module.Mask) == Module.Mark;
        return hit ^ Module.Invert ? Tristate.True : Tristate.False;
    }
}

/// <summary>ebt_pkttype_mt (ebt_pkttype.c): skb->pkt_type, as eth_type_trans and the bridge set it.</summary>
public sealed class EbtPktTypeMt(EbtPktTypeMatch m) : EbtMatchEvaluator
{
    public EbtPktTypeMatch Module { get; } = m;

    public override Tristate Match(ref EbtActionParam p) =>
        (p.PktType == Module.PktType) ^ Module.Invert ? Tristate.True : Tristate.False;
}

/// <summary>
/// ebt_limit_mt (ebt_limit.c): the token bucket of xt_limit with the same integer arithmetic
/// (CREDITS_PER_JIFFY, user2credits), full at the first frame (ebt_limit_mt_check), on the capture clock.
/// </summary>
public sealed class EbtLimitMt : EbtMatchEvaluator
{
    private readonly XtNet _net;
    private bool _started;
    private long _prev;

    public EbtLimitMt(EbtLimitMatch m, XtNet net)
    {
        Module = m;
        _net = net;
        CreditsPerJiffy = Xt.Matches.LimitMt.CreditsPerJiffyFor(net.Hz);
        CreditCap = User2Credits(unchecked(m.Avg * m.Burst));
        Cost = User2Credits(m.Avg);
    }

    public EbtLimitMatch Module { get; }
    public uint CreditsPerJiffy { get; }
    public uint CreditCap { get; }
    public uint Cost { get; }
    public uint Credit { get; private set; }
    public override bool HasState => true;
    public override bool DependsOnClockOrRandom => true;

    private uint User2Credits(uint user)
    {
        uint hzCpj = (uint)_net.Hz * CreditsPerJiffy;
        if (user > 0xFFFFFFFFu / hzCpj)
            return unchecked(user / EbtLimitMatch.Scale * hzCpj);
        return unchecked(user * hzCpj / EbtLimitMatch.Scale);
    }

    public override Tristate Match(ref EbtActionParam p)
    {
        long now = _net.Jiffies(p.TimeNs);
        if (!_started)
        {
            _started = true;
            _prev = now;
            Credit = CreditCap;
        }
        Credit = unchecked(Credit + (uint)((ulong)(now - _prev) * CreditsPerJiffy));
        _prev = now;
        if (Credit > CreditCap)
            Credit = CreditCap;
        if (Credit >= Cost)
        {
            Credit -= Cost;
            return Tristate.True;
        }
        return Tristate.False;
    }
}

/// <summary>ebt_log_tg / ebt_nflog_tg used as watchers: the frame is logged, the rule's outcome unchanged.</summary>
public sealed class EbtLogWatcherTg(EbtTableInfo table, EbtRecordKind kind, string prefix, ushort group) : EbtMatchEvaluator
{
    public override bool IsWatcher => true;

    public override Tristate Match(ref EbtActionParam p)
    {
        p.RecordSink?.Record(new EbtRecord(kind, table, p.Entry, prefix, group, default, p.TimeNs), in p.Packet);
        return Tristate.True;
    }
}
