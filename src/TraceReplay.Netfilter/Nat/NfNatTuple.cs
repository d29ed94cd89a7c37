using System.Runtime.CompilerServices;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Netfilter.Nat;

/// <summary>
/// The tuple operations the NAT core needs, mirrored from nf_conntrack_core.c / the l4 trackers so NAT
/// reads a tuple exactly as the kernel does.
/// </summary>
public static class NfNatTuple
{
    public const byte Icmp = 1;
    public const byte Tcp = 6;
    public const byte Udp = 17;
    public const byte Gre = 47;
    public const byte Icmpv6 = 58;
    public const byte Sctp = 132;
    public const byte UdpLite = 136;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsIcmp(byte protocol) => protocol is Icmp or Icmpv6;

    /// <summary>nf_ct_invert_tuple: the shared <see cref="NfConntrackTuple.Invert"/> (ICMP keeps its id in the source field both ways).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static NfConntrackTuple Invert(in NfConntrackTuple t) => t.Invert();

    /// <summary>HOOK2MANIP: POSTROUTING and INPUT rewrite the source, PREROUTING and OUTPUT the destination.</summary>
    public static NfNatManipType HookToManip(NfInetHook hook) =>
        hook is NfInetHook.PostRouting or NfInetHook.LocalIn ? NfNatManipType.Src : NfNatManipType.Dst;

    /// <summary>The status bit a manip type sets (IPS_SRC_NAT / IPS_DST_NAT).</summary>
    public static CtStatus NatBit(NfNatManipType manip) => manip == NfNatManipType.Src ? CtStatus.SrcNat : CtStatus.DstNat;

    /// <summary>The "done" bit (IPS_SRC_NAT_DONE / IPS_DST_NAT_DONE): nf_nat_initialized.</summary>
    public static CtStatus DoneBit(NfNatManipType manip) => manip == NfNatManipType.Src ? CtStatus.SrcNatDone : CtStatus.DstNatDone;

    /// <summary>nf_nat_initialized(ct, manip).</summary>
    public static bool Initialized(CtStatus status, NfNatManipType manip) => (status & DoneBit(manip)) != 0;

    /// <summary>
    /// nf_nat_packet's test: a packet of direction <paramref name="dir"/> at a hook of
    /// <paramref name="manip"/> is rewritten when the connection has that NAT (the other one for replies).
    /// </summary>
    public static bool NeedsManip(CtStatus status, NfNatManipType manip, CtDirection dir)
    {
        var bit = NatBit(manip);
        if (dir == CtDirection.Reply)
            bit ^= CtStatus.SrcNat | CtStatus.DstNat;
        return (status & bit) != 0;
    }
}
