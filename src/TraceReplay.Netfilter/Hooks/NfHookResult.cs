using System.Text;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Reject;
using TraceReplay.Netfilter.Routing;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Hooks;

/// <summary>The xtables tables in the order the kernel registers their hooks (NF_IP_PRI_RAW … NF_IP_PRI_SECURITY).</summary>
public enum NfTableId : byte
{
    Raw = 0,
    Mangle = 1,
    Nat = 2,
    Filter = 3,
    Security = 4,
}

/// <summary>What finally became of a packet on the simulated host.</summary>
public enum NfFate : byte
{
    /// <summary>Dropped; <see cref="NfHookResult.DropCause"/> says by what.</summary>
    Dropped,

    /// <summary>ip_local_deliver_finish: handed to the host's own stack (after INPUT).</summary>
    DeliveredLocally,

    /// <summary>ip_forward_finish → ip_output: left by <see cref="NfHookResult.OutDev"/> towards <see cref="NfHookResult.NextHop"/>.</summary>
    Forwarded,

    /// <summary>A locally generated packet left by <see cref="NfHookResult.OutDev"/> (ip_finish_output).</summary>
    Sent,

    /// <summary>NF_QUEUE to a user-space listener (QUEUE, NFQUEUE without --queue-bypass).</summary>
    Queued,

    /// <summary>NF_STOLEN by defragmentation: a fragment held until its datagram is complete.</summary>
    Held,

    /// <summary>A target the simulator cannot carry out decided the packet: its fate is unknown.</summary>
    Unknown,

    /// <summary>Not an IPv4/IPv6 packet (ARP, …): the L3 hooks never see it.</summary>
    NotIp,

    /// <summary>br_forward / br_flood: a bridge sent the frame out of <see cref="NfHookResult.BridgeOutPorts"/> port(s), the first being <see cref="NfHookResult.PhysOutDev"/>.</summary>
    Bridged,
}

/// <summary>Who dropped a packet.</summary>
public enum NfDropCause : byte
{
    None,

    /// <summary>A rule's DROP/REJECT or a chain policy (<see cref="NfHookResult.DropTable"/>, <see cref="NfHookResult.DropEntry"/>).</summary>
    Table,

    /// <summary>A match set hotdrop (a header it needs is malformed); the entry is the rule being checked.</summary>
    HotDrop,

    /// <summary>The routing decision (<see cref="NfHookResult.RouteDrop"/>).</summary>
    Routing,

    /// <summary>nf_conntrack_in returned NF_DROP (<see cref="NfHookResult.CtReason"/>: table full, TCP reopen …).</summary>
    Conntrack,

    /// <summary>nf_nat_inet_fn dropped it (<see cref="NfHookResult.NatVerdict"/>: no free tuple, no address …).</summary>
    Nat,

    /// <summary>__nf_conntrack_confirm found the tuple inserted meanwhile (an insert clash).</summary>
    Confirm,

    /// <summary>nf_defrag: a fragment that cannot be part of a datagram (overlap, too long) or timed out.</summary>
    Defrag,

    /// <summary>ip_rcv_core / ip6_rcv_core refused the IP header before any hook (<see cref="NfHookResult.IpDrop"/>).</summary>
    IpHeader,

    /// <summary>The bridge path without iptables: an ebtables rule or policy, an invalid source MAC, hairpin off (<see cref="NfHookResult.BridgeDrop"/>).</summary>
    Bridge,
}

/// <summary>Why ip_rcv_core / ip6_rcv_core dropped a packet: the kernel's enum skb_drop_reason values (include/net/dropreason-core.h).</summary>
public enum NfIpDropReason : byte
{
    None,

    /// <summary>SKB_DROP_REASON_IP_INHDR: version, ihl &lt; 5, a header longer than the packet, tot_len &lt; ihl (IPSTATS_MIB_INHDRERRORS).</summary>
    IpInhdr,

    /// <summary>SKB_DROP_REASON_IP_CSUM: ip_fast_csum over the header is not zero (IPSTATS_MIB_CSUMERRORS).</summary>
    IpCsum,

    /// <summary>SKB_DROP_REASON_PKT_TOO_SMALL: the frame holds fewer bytes than tot_len / 40 + payload length said (IPSTATS_MIB_INTRUNCATEDPKTS).</summary>
    PktTooSmall,
}

/// <summary>
/// The hooks, tables and decisions a packet went through, one bit each (the order is fixed by the
/// graph, so a set says the path). Bit = hook * 8 + step for the per-hook steps.
/// </summary>
[Flags]
public enum NfPath : ulong
{
    None = 0,
    Defrag = 1UL << 48,
    RouteInput = 1UL << 49,
    RouteOutput = 1UL << 50,

    /// <summary>ip_route_me_harder after mangle/nat OUTPUT changed the mark or an address.</summary>
    Reroute = 1UL << 51,

    /// <summary>The packet looped through lo to this host (a local destination of a locally generated packet).</summary>
    Loopback = 1UL << 52,

    /// <summary>Received on a bridge port: br_handle_frame, ebtables, the FDB (iptables hooks run inside it by br_netfilter).</summary>
    Bridge = 1UL << 53,
}

/// <summary>
/// The outcome of one packet through <see cref="NfHost"/>: its path, its fate (and, for a drop, who
/// and where), the routing decision, the conntrack entry and ctinfo, the tuple before and after NAT,
/// and what the verdict depends on. A value: nothing is allocated to report it.
/// </summary>
public struct NfHookResult
{
    /// <summary>Per-hook step numbers in <see cref="NfPath"/> (hook * 8 + step): tables 0–4, then these.</summary>
    public const int StepConntrack = 5, StepConfirm = 6;

    public NfFate Fate;
    public NfPath Path;

    public NfDropCause DropCause;
    public NfInetHook DropHook;

    /// <summary>The table whose rule or policy dropped (or queued) the packet; <see cref="DropEntry"/> is the entry in it.</summary>
    public XtTableInfo? DropTable;
    public int DropEntry;

    public RouteDropReason RouteDrop;
    public CtReason CtReason;
    public NatVerdict NatVerdict;

    /// <summary>The input route or the output route (the last one taken, after a re-route).</summary>
    public RouteResult Route;

    public string? InDev;
    public string? OutDev;

    /// <summary>The neighbour the packet is sent to: the route's gateway, else the destination (rt_nexthop).</summary>
    public IpAddr NextHop;

    /// <summary>The packet as it arrived and as it left (after DNAT and SNAT), as conntrack tuples.</summary>
    public NfConntrackTuple TupleBefore;
    public NfConntrackTuple TupleAfter;

    public int CtEntry;
    public CtState CtState;
    public CtDirection CtDirection;

    public bool DependsOnUnknown;
    public bool DependsOnClockOrRandom;

    /// <summary>REJECT's record: the host sends a TCP RST or ICMP error back (Entry -1: no reject).</summary>
    public XtRejectRecord Reject;

    /// <summary>
    /// The generated reply goes through OUTPUT (nf_send_reset's ip_local_out, icmp_send's
    /// ip_push_pending_frames) — except a RST to a bridged packet, which nf_send_reset sends straight
    /// out of the bridge port it came in by (nf_bridge_get_physindev → dev_queue_xmit), past every hook.
    /// </summary>
    public bool RejectViaOutput;

    public ushort QueueNum;

    /// <summary>What became of REJECT's reply: sent (see <see cref="Generated"/>), or why the kernel would not send one.</summary>
    public NfRejectOutcome RejectOutcome;

    /// <summary>
    /// The packet the host made in answer (REJECT's RST or ICMP error), with its own hook result; null
    /// when none was sent. Owned and reused by the host: valid until the next packet is handed to it.
    /// </summary>
    public NfGeneratedPacket? Generated;

    /// <summary>ip_rcv_core / ip6_rcv_core's reason when <see cref="DropCause"/> is <see cref="NfDropCause.IpHeader"/>.</summary>
    public NfIpDropReason IpDrop;

    /// <summary>
    /// The capture's snap length cut the frame: the packet on the wire was whole (not a drop), and the
    /// verdict was computed from the captured part (matches needing missing bytes are unknown).
    /// </summary>
    public bool FromTruncatedFrame;

    /// <summary>The bridge ports a bridged frame came in by and (the first) went out of (nf_bridge_info's physindev/physoutdev).</summary>
    public string? PhysInDev;
    public string? PhysOutDev;

    /// <summary>How many ports the bridge sent the frame out of (1 for a known destination, more when flooded).</summary>
    public int BridgeOutPorts;

    /// <summary>The bridge's decision (FDB) and, when the bridge path without iptables stopped the frame, where (ebtables table and entry).</summary>
    public Bridge.BrDecision BridgeDecision;
    public Bridge.BrOutcome BridgeDrop;

    public readonly bool HasReject => Reject.Entry >= 0;

    public readonly bool Visited(NfInetHook hook, int step) => (Path & Bit(hook, step)) != 0;

    public readonly bool Visited(NfInetHook hook, NfTableId table) => Visited(hook, (int)table);

    internal static NfPath Bit(NfInetHook hook, int step) => (NfPath)(1UL << ((int)hook * 8 + step));

    /// <summary>
    /// Everything <see cref="DropDescription"/> reads: results with equal keys are described alike, so
    /// a caller that shows the text per packet (the summary, packets.drop_reason) formats it once per key.
    /// </summary>
    public readonly NfDropKey DropKey => new(DropTable, DropEntry, DropCause, BridgeDrop.Table, BridgeDrop.Entry, BridgeDrop.Stage, RouteDrop, CtReason, NatVerdict, IpDrop);

    /// <summary>Who decided: "filter:INPUT:policy", "filter:DOCKER-USER:rule:1" (also for a queue), "routing:NoRoute", "nat:DropNoAddress", … (allocates: for reports).</summary>
    public readonly string DropDescription()
    {
        // A rule or policy decided it (DROP, REJECT, hotdrop, NF_QUEUE, an unknown target).
        if (DropTable is not null && DropEntry >= 0)
        {
            var (chain, num, isPolicy) = DropTable.Describe(DropEntry);
            return isPolicy ? $"{DropTable.Name}:{chain}:policy" : $"{DropTable.Name}:{chain}:rule:{num}" + (DropCause == NfDropCause.HotDrop ? " (hotdrop)" : string.Empty);
        }
        return DropCause switch
        {
            NfDropCause.Bridge when BridgeDrop.Table is { } eb => $"ebtables:{eb.Where(BridgeDrop.Entry)}",
            NfDropCause.Bridge => $"bridge:{BridgeDrop.Stage}",
            NfDropCause.Routing => $"routing:{RouteDrop}",
            NfDropCause.Conntrack or NfDropCause.Confirm => $"conntrack:{CtReason}",
            NfDropCause.Nat => $"nat:{NatVerdict}",
            NfDropCause.IpHeader => $"ip:{IpDrop}",
            _ => DropCause.ToString(),
        };
    }

    /// <summary>The path as the kernel's hook names: "PREROUTING:raw conntrack mangle nat | route-in | INPUT:filter …" (allocates: for traces).</summary>
    public readonly string PathDescription()
    {
        var sb = new StringBuilder();
        if ((Path & NfPath.Bridge) != 0)
            sb.Append("bridge ").Append(PhysInDev).Append(" > ").Append(BridgeOutPorts > 1 ? "flood" : PhysOutDev ?? InDev).Append(" | ");
        if ((Path & NfPath.Defrag) != 0)
            sb.Append("defrag | ");
        ReadOnlySpan<NfInetHook> order = (Path & NfPath.RouteOutput) != 0
            ? [NfInetHook.LocalOut, NfInetHook.PostRouting, NfInetHook.PreRouting, NfInetHook.LocalIn]
            : [NfInetHook.PreRouting, NfInetHook.LocalIn, NfInetHook.Forward, NfInetHook.PostRouting];
        string[] steps = ["raw", "mangle", "nat", "filter", "security", "conntrack", "confirm"];
        foreach (var hook in order)
        {
            if (hook == NfInetHook.LocalOut && (Path & NfPath.RouteOutput) != 0)
                sb.Append("route-out | ");
            bool any = false;
            // Priority order: nat is DNAT (−100) before filter at PREROUTING/OUTPUT, SNAT (100) after security at INPUT/POSTROUTING.
            ReadOnlySpan<int> stepOrder = hook is NfInetHook.LocalIn or NfInetHook.PostRouting ? [0, 5, 1, 3, 4, 2, 6] : [0, 5, 1, 2, 3, 4, 6];
            foreach (int step in stepOrder)
            {
                if (!Visited(hook, step))
                    continue;
                if (!any)
                    sb.Append(HookName(hook)).Append(':');
                any = true;
                sb.Append(' ').Append(steps[step]);
            }
            if (any)
                sb.Append(" | ");
            if (hook == NfInetHook.PreRouting && (Path & NfPath.RouteInput) != 0)
                sb.Append("route-in | ");
            if (hook == NfInetHook.LocalOut && (Path & NfPath.Reroute) != 0)
                sb.Append("reroute | ");
        }
        return sb.ToString().TrimEnd(' ', '|');
    }

    public static string HookName(NfInetHook hook) => hook switch
    {
        NfInetHook.PreRouting => "PREROUTING",
        NfInetHook.LocalIn => "INPUT",
        NfInetHook.Forward => "FORWARD",
        NfInetHook.LocalOut => "OUTPUT",
        _ => "POSTROUTING",
    };
}

/// <summary>
/// Where and how a received packet enters the host's IP layer: the device (for a bridged frame, the
/// bridge device; <see cref="PhysInDev"/> is then the port, as br_netfilter's nf_bridge_info), the
/// capture time, the link-layer packet type and the mark it arrives with.
/// </summary>
public readonly record struct NfIngress(string Dev, long TimeNs, PacketType PacketType = PacketType.Host, string? PhysInDev = null, uint Mark = 0);

/// <summary>A locally generated packet: its time, mark, and the device its socket is bound to (SO_BINDTODEVICE / IP_MULTICAST_IF), if any.</summary>
public readonly record struct NfEgress(long TimeNs, uint Mark = 0, string? BoundDev = null);

/// <summary>The inputs of <see cref="NfHookResult.DropDescription"/> (<see cref="NfHookResult.DropKey"/>).</summary>
public readonly record struct NfDropKey(XtTableInfo? Table, int Entry, NfDropCause Cause, Bridge.EbtTableInfo? EbTable, int EbEntry, Bridge.BrStage Stage,
    RouteDropReason Route, CtReason Ct, NatVerdict Nat, NfIpDropReason Ip);
