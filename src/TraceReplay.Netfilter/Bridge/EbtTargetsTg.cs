using System.Buffers.Binary;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Ebtables;

namespace TraceReplay.Netfilter.Bridge;

/// <summary>
/// A bridge target extension's run-time half (struct xt_target's .target for NFPROTO_BRIDGE): it
/// acts on the frame and returns one of the EBT_* standard verdicts (info->target | ~EBT_VERDICT_BITS).
/// </summary>
public abstract class EbtTargetEvaluator
{
    public abstract EbtVerdict Target(ref EbtActionParam p);

    /// <summary>The simulator does not carry the target out: the fate is unknown.</summary>
    public virtual bool IsUnknown => false;

    public static EbtTargetEvaluator Create(EbtTarget t, EbtTableInfo table) => t switch
    {
        EbtMarkTarget mark => new EbtMarkTg(mark),
        EbtRedirectTarget r => new EbtRedirectTg(r),
        EbtSnatTarget s => new EbtSnatTg(s),
        EbtDnatTarget d => new EbtDnatTg(d),
        EbtArpReplyTarget a => new EbtArpReplyTg(a, table),
        _ => EbtUnknownTg.Instance,
    };
}

/// <summary>A target the parser kept verbatim: its effect and verdict are unknown.</summary>
public sealed class EbtUnknownTg : EbtTargetEvaluator
{
    public static EbtUnknownTg Instance { get; } = new();

    public override bool IsUnknown => true;

    public override EbtVerdict Target(ref EbtActionParam p) => EbtVerdict.Continue;
}

/// <summary>ebt_mark_tg (ebt_mark.c): set, or, and or xor skb->mark.</summary>
public sealed class EbtMarkTg(EbtMarkTarget t) : EbtTargetEvaluator
{
    public EbtMarkTarget Module { get; } = t;

    public override EbtVerdict Target(ref EbtActionParam p)
    {
        p.Mark = Module.Op switch
        {
            EbtMarkOp.Set => Module.Value,
            EbtMarkOp.Or => p.Mark | Module.Value,
            EbtMarkOp.And => p.Mark & Module.Value,
            _ => p.Mark ^ Module.Value,
        };
        return Module.Verdict;
    }
}

/// <summary>
/// ebt_redirect_tg (ebt_redirect.c): the destination MAC becomes the bridge's (in BROUTING: the
/// input port's own), and the frame is for this host (PACKET_HOST).
/// </summary>
public sealed class EbtRedirectTg(EbtRedirectTarget t) : EbtTargetEvaluator
{
    public EbtRedirectTarget Module { get; } = t;

    public override EbtVerdict Target(ref EbtActionParam p)
    {
        p.DstMac = p.Hook == NfBrHook.Broute ? p.InPortMac : p.InBridgeMac;
        p.PktType = 0;
        p.MacRewriteEntry = p.Entry;
        return Module.Verdict;
    }
}

/// <summary>
/// ebt_snat_tg (ebt_snat.c): the source MAC becomes the given one; with --snat-arp the ARP sender
/// hardware address too (an ARP frame whose ar_hln is not 6 is dropped then).
/// </summary>
public sealed class EbtSnatTg(EbtSnatTarget t) : EbtTargetEvaluator
{
    public EbtSnatTarget Module { get; } = t;

    public override EbtVerdict Target(ref EbtActionParam p)
    {
        p.SrcMac = Module.Mac;
        p.MacRewriteEntry = p.Entry;
        if (Module.SnatArp && !p.VlanTagPresent && p.Packet.EtherType == EtherTypes.Arp)
        {
            int at = p.NetworkOffset;
            if (p.Frame.Length < at + 8)
                return EbtVerdict.Drop;
            if (p.Frame[at + 4] != 6)
                return EbtVerdict.Drop;
            p.ArpSenderMac = Module.Mac;
            p.ArpSenderMacChanged = true;
        }
        return Module.Verdict;
    }
}

/// <summary>
/// ebt_dnat_tg (ebt_dnat.c): the destination MAC becomes the given one, and pkt_type follows it —
/// broadcast, multicast, or host/otherhost against the bridge's address (in BROUTING the port's;
/// at OUTPUT left alone).
/// </summary>
public sealed class EbtDnatTg(EbtDnatTarget t) : EbtTargetEvaluator
{
    public EbtDnatTarget Module { get; } = t;

    public override EbtVerdict Target(ref EbtActionParam p)
    {
        var mac = Module.Mac;
        p.DstMac = mac;
        p.MacRewriteEntry = p.Entry;
        if ((mac.Value & 0x0100_0000_0000UL) != 0)
        {
            p.PktType = mac.Value == 0xFFFF_FFFF_FFFFUL ? (byte)1 : (byte)2;
        }
        else if (p.Hook is NfBrHook.Broute or NfBrHook.PreRouting)
        {
            var dev = p.Hook == NfBrHook.Broute ? p.InPortMac : p.InBridgeMac;
            p.PktType = mac == dev ? (byte)0 : (byte)3;
        }
        return Module.Verdict;
    }
}

/// <summary>
/// ebt_arpreply_tg (ebt_arpreply.c): an ARP request for IPv4 over Ethernet is answered with the
/// given MAC out of the input port (recorded), then the rule's verdict; anything else continues.
/// </summary>
public sealed class EbtArpReplyTg(EbtArpReplyTarget t, EbtTableInfo table) : EbtTargetEvaluator
{
    public EbtArpReplyTarget Module { get; } = t;

    public override EbtVerdict Target(ref EbtActionParam p)
    {
        var f = p.Frame;
        int at = p.NetworkOffset;
        if (f.Length < at + 8)
            return EbtVerdict.Drop;
        if (BinaryPrimitives.ReadUInt16BigEndian(f[(at + 6)..]) != 1 || f[at + 4] != 6
            || BinaryPrimitives.ReadUInt16BigEndian(f[(at + 2)..]) != EtherTypes.Ipv4 || f[at + 5] != 4)
            return EbtVerdict.Continue;
        if (f.Length < at + 28)
            return EbtVerdict.Drop;
        p.RecordSink?.Record(new EbtRecord(EbtRecordKind.ArpReply, table, p.Entry, string.Empty, 0, Module.Mac, p.TimeNs), in p.Packet);
        return Module.Verdict;
    }
}
