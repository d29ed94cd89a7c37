using System.Runtime.InteropServices;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Ebtables;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Bridge;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Routing;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Hooks;

/// <summary>
/// The bridged path joined to the hook graph (net/bridge/br_input.c, br_forward.c and
/// br_netfilter_hooks.c): a frame received on a bridge port goes through br_handle_frame (ebtables
/// broute and nat PREROUTING, <see cref="BridgeDecision"/>), br_netfilter's br_nf_pre_routing (iptables
/// raw, conntrack, mangle, nat PREROUTING with -i = the bridge and --physdev-in = the port when
/// net.bridge.bridge-nf-call-ip(6)tables is set), the FDB decision, then per egress port ebtables filter
/// FORWARD, br_nf_forward_ip (iptables mangle, filter, security FORWARD with --physdev-out and
/// --physdev-is-bridged), ebtables nat POSTROUTING and br_nf_post_routing (iptables mangle, nat
/// POSTROUTING, confirm); a frame for the host goes up through ebtables filter INPUT to IP on the bridge
/// device, where ip_sabotage_in keeps it from meeting PREROUTING a second time.
/// </summary>
public sealed partial class NfHost : IBrNetfilterHooks
{
    // The frame being bridged (one at a time, like the rest of the host's state): the result the
    // br_netfilter plug points fill, whether br_nf_pre_routing attached its nf_bridge_info (only then do
    // FORWARD and POSTROUTING meet iptables), and whether br_nf_forward_ip set physoutdev for this clone.
    private NfHookResult _br;
    private IIptTraceSink? _brTrace;
    private bool _brNfInfo;
    private bool _brPhysOut;
    // Per bridge: the same address may be a station on two bridges' links only as two different hosts
    // (Docker's networks), and a station of one bridge is reached from another only through the host.
    private readonly Dictionary<(BrBridge Bridge, IpAddr Ip), MacAddr> _brStations = [];

    /// <summary>The host's bridges, their ports, FDBs and ebtables (empty when the snapshot has no bridge).</summary>
    public BridgeDecision Bridges { get; private set; } = null!;

    private BridgeDecision CreateBridges(NetworkConfig network, EbtablesRuleset? ebtables) =>
        new(network, ebtables, Net) { BrNetfilter = this };

    /// <summary>
    /// The destination MAC of a bridged frame whose capture kept none (SLL2 of `tcpdump -i any` carries
    /// only the source address). PACKET_HOST on the port means the port's own address, which the FDB
    /// holds as local like the bridge's; broadcast and multicast give their group addresses.
    /// PACKET_OTHERHOST is either the bridge's own address (a bridge with an address of its own, as
    /// Docker's docker0) or another station: the station that last sent from the destination IP on this
    /// bridge (learned from the frames seen, as the sender's neighbour table was), else the bridge when
    /// the destination is the host's or lies beyond a gateway (the sender's next hop is the host), else
    /// a MAC no FDB holds, so the bridge floods as it would for a station it has not learned. A unicast
    /// ARP frame goes to the MAC its reply names, or to the station of the IP it asks about.
    /// </summary>
    public MacAddr CookedDestination(BrPort inPort, in DecodedPacket packet, PacketType type)
    {
        ArgumentNullException.ThrowIfNull(inPort);
        return type switch
        {
            PacketType.Host => inPort.Bridge.Mac,
            PacketType.Broadcast => new MacAddr(0xFFFF_FFFF_FFFFUL),
            PacketType.Multicast when packet.IsIpv6 => new MacAddr(0x3333_0000_0000UL | (packet.Dst.Lo & 0xFFFF_FFFFUL)),
            PacketType.Multicast => new MacAddr(0x0100_5E00_0000UL | (packet.Dst.V4 & 0x7F_FFFFU)),
            // arp_send_dst: a reply goes to the requester's hardware address, which it also carries as
            // the target MAC; a unicast request (a neighbour's reachability probe) to the station known for the target IP.
            _ when (packet.Layers & Layers.Arp) != 0 && packet.ArpOperation == 2 && packet.ArpTargetMac.Value != 0 => packet.ArpTargetMac,
            _ when (packet.Layers & Layers.Arp) != 0 && _brStations.TryGetValue((inPort.Bridge, packet.ArpTargetIp), out var t) => t,
            _ when !packet.HasIp => default,
            _ when _brStations.TryGetValue((inPort.Bridge, packet.Dst), out var m) => m,
            _ => OnLinkOf(inPort.Bridge, packet) ? default : inPort.Bridge.Mac,
        };
    }

    /// <summary>Whether the destination is a neighbour on the bridge's link (not the host's own, not behind a gateway).</summary>
    private bool OnLinkOf(BrBridge bridge, in DecodedPacket packet)
    {
        var route = Router.RouteOutput(new RouteKey { Dst = packet.Dst, IsV6 = packet.IsIpv6, Protocol = packet.Protocol });
        return route.Verdict is (RouteVerdict.Output or RouteVerdict.Forward) && route.OutDev == bridge.Name && route.Gateway is null;
    }

    /// <summary>br_handle_frame for a frame received on <paramref name="port"/>, and everything it leads to.</summary>
    private NfHookResult BridgeReceive(Span<byte> frame, ref DecodedPacket packet, in NfIngress ingress, BrPort port, IIptTraceSink? trace)
    {
        var bridge = port.Bridge;
        Begin(ref _br, ref packet);
        _br.Path |= NfPath.Bridge;
        _br.InDev = bridge.Name;
        _br.PhysInDev = port.Name;
        _brTrace = trace;
        _brNfInfo = false;
        _brPhysOut = false;
        _ctinfo = CtInfo.Untracked;
        if (packet.HasIp && packet.SrcMac.Value != 0)
            _brStations[(bridge, packet.Src)] = packet.SrcMac;
        else if ((packet.Layers & Layers.Arp) != 0 && packet.ArpSenderMac.Value != 0 && packet.ArpSenderIp.V4 != 0)
        {
            // arp_process: the sender's address pair is what every station that hears it puts in its
            // neighbour table, so the next unicast frame to that IP goes to this MAC.
            _brStations[(bridge, packet.ArpSenderIp)] = packet.ArpSenderMac;
        }

        var res = Bridges.Receive(port, ref packet, frame, ingress.TimeNs, ingress.Mark);
        _br.BridgeDecision = res.Decision;
        if (res.DependsOnUnknown)
            _br.DependsOnUnknown = true;

        int sent = 0;
        foreach (ref readonly var e in Bridges.Egress)
        {
            if (!e.Sent)
                continue;
            if (sent++ == 0)
                _br.PhysOutDev = e.Port.Name;
        }
        _br.BridgeOutPorts = sent;

        var p = new XtActionParam(ref packet, frame, NfInetHook.PreRouting)
        {
            InDev = bridge.Name,
            InIfIndex = bridge.IfIndex,
            Bridged = _brNfInfo,
            PhysInDev = _brNfInfo ? port.Name : null,
            PktType = res.PktType == 3 ? (byte)0 : res.PktType,
            HasMacHeader = true,
            TimeNs = ingress.TimeNs,
            Mark = res.Mark,
        };
        switch (res.Decision)
        {
            case BrDecision.Dropped or BrDecision.Unknown when res.Drop.Stage != BrStage.BrNfPreRouting:
                BridgeStopped(res.Drop, res.Decision == BrDecision.Unknown);
                break;
            case BrDecision.Routed:
                // broute DROP: "route it instead", up the port's own stack as if it were no bridge port.
                p.InDev = port.Name;
                p.InIfIndex = port.IfIndex;
                p.PktType = res.PktType;
                if (packet.HasIp)
                    PreRoutingAndOn(frame, ref p, ref _br, trace, runConntrack: true, (PacketType)Math.Min(res.PktType, (byte)3));
                else
                    _br.Fate = NfFate.NotIp;
                break;
            case BrDecision.LinkLocal:
                if (res.UpToBridge)
                    _br.Fate = NfFate.NotIp;
                else
                    BridgeStopped(res.Drop, false);
                break;
            case BrDecision.Forward or BrDecision.Flood or BrDecision.Local:
                if (res.UpToBridge)
                {
                    UpToBridge(frame, ref p, bridge);
                }
                else if (sent > 0)
                {
                    _br.Fate = NfFate.Bridged;
                }
                else if (res.Decision != BrDecision.Local && Bridges.Egress.Length > 0)
                {
                    // Every copy was stopped: by iptables FORWARD/POSTROUTING (the result says where already), or by ebtables / hairpin.
                    var last = Bridges.Egress[^1].Outcome;
                    if (last.Stage is not (BrStage.BrNfForward or BrStage.BrNfPostRouting))
                        BridgeStopped(last, last.Verdict == XtVerdict.Unknown);
                }
                else if (res.Decision == BrDecision.Local)
                {
                    BridgeStopped(res.Drop, res.Drop.Verdict == XtVerdict.Unknown);
                }
                else
                {
                    // Flooded to no port (the only port is the input one, hairpin off): nothing left to send.
                    BridgeStopped(new BrOutcome(BrStage.Hairpin, null, -1, res.Flags), false);
                }
                break;
        }
        // nf_send_reset / nf_send_unreach while the rejected packet still exists (a bridged one's RST leaves by its physindev).
        if (_br.HasReject)
            SendReject(frame, ref p, ref _br);
        End(ref p, ref _br);
        _brTrace = null;
        return _br;
    }

    /// <summary>br_pass_frame_up → netif_receive_skb on the bridge device → ip_rcv.</summary>
    private void UpToBridge(Span<byte> frame, ref XtActionParam p, BrBridge bridge)
    {
        if (!p.Packet.HasIp)
        {
            _br.Fate = NfFate.NotIp;
            return;
        }
        var type = (PacketType)Math.Min(p.PktType, (byte)3);
        p.Hook = NfInetHook.PreRouting;
        p.InDev = bridge.Name;
        p.InIfIndex = bridge.IfIndex;
        var tables = p.IsV6 ? _v6 : _v4;
        if (!_brNfInfo)
        {
            // No br_netfilter on the way in (bridge-nf-call-iptables=0): an ordinary ip_rcv on the bridge device.
            PreRoutingAndOn(frame, ref p, ref _br, _brTrace, runConntrack: true, type);
            return;
        }

        // ip_sabotage_in (NF_IP_PRI_FIRST): PREROUTING ran inside the bridge, so the hooks are skipped
        // and ip_rcv_finish goes on with the entry br_nf_pre_routing attached. br_pass_frame_up dropped
        // the fake rtable, so the input route is looked up as for any received packet.
        NfCtInfo.Fill(ref p.Ct, Conntrack, _ctinfo, p.TimeNs);
        RouteInputAndOn(frame, ref p, tables, ref _br, _brTrace, type);
    }

    private void BridgeStopped(in BrOutcome where, bool unknown)
    {
        _br.Fate = unknown ? NfFate.Unknown : NfFate.Dropped;
        _br.DropCause = NfDropCause.Bridge;
        _br.BridgeDrop = where;
        if (unknown)
            _br.DependsOnUnknown = true;
    }

    // bridge-nf-call-iptables / -ip6tables, read at the first bridged packet as the router reads its
    // sysctls when it is built: a sysctl is a string-keyed lookup and a parse, once per bridged packet before.
    private byte _callIptables; // bit 0: read; bit 1: iptables; bit 2: ip6tables

    private bool CallsIptables(in DecodedPacket packet)
    {
        int c = _callIptables;
        if (c == 0)
        {
            c = 1 | (Network.Sysctls.BridgeNfCallIptables ? 2 : 0) | (Network.Sysctls.BridgeNfCallIp6tables ? 4 : 0);
            _callIptables = (byte)c;
        }
        return packet.IsIpv4 ? (c & 2) != 0 : packet.IsIpv6 && (c & 4) != 0;
    }

    /// <summary>
    /// The frame as the hooks may rewrite it: the bridge hands its frame on read-only, but it is the
    /// caller's writable buffer (<see cref="Receive"/> takes a <see cref="Span{T}"/>), as the skb's data is the kernel's.
    /// </summary>
    private static Span<byte> Writable(ReadOnlySpan<byte> frame) => MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(frame), frame.Length);

    /// <summary>
    /// br_nf_pre_routing → NF_INET_PRE_ROUTING (raw, conntrack, mangle, nat DNAT) with in = the bridge
    /// (setup_pre_routing: skb->dev = the bridge, PACKET_OTHERHOST seen as PACKET_HOST) → br_nf_pre_routing_finish:
    /// an unchanged destination bridges on; a DNATed one is routed (ip_route_input on the bridge) —
    /// out of the bridge again it is bridged DNAT to the new station, otherwise the frame is re-addressed
    /// to the bridge (h_dest = the bridge's address, PACKET_HOST) and goes up to be routed.
    /// </summary>
    BrNfVerdict IBrNetfilterHooks.PreRouting(ref EbtActionParam e, BrPort inPort)
    {
        ref var packet = ref e.Packet;
        if (!packet.HasIp || !CallsIptables(packet))
            return BrNfVerdict.Accept;
        var bridge = inPort.Bridge;
        var frame = Writable(e.Frame);
        var tables = packet.IsIpv6 ? _v6 : _v4;
        var p = new XtActionParam(ref packet, frame, NfInetHook.PreRouting)
        {
            InDev = bridge.Name,
            InIfIndex = bridge.IfIndex,
            Bridged = true,
            PhysInDev = inPort.Name,
            PktType = e.PktType == 3 ? (byte)0 : e.PktType,
            HasMacHeader = true,
            TimeNs = e.TimeNs,
            Mark = e.Mark,
        };
        _brNfInfo = true;
        var dst = packet.Dst;
        bool ok = RunTable(tables, NfTableId.Raw, ref p, ref _br, _brTrace)
            && ConntrackIn(frame, ref p, ref _br)
            && RunTable(tables, NfTableId.Mangle, ref p, ref _br, _brTrace)
            && NatStep(frame, ref p, tables, ref _br, _brTrace);
        e.Mark = p.Mark;
        if (!ok)
            return BrNfVerdict.Drop;
        if (dst == packet.Dst)
            return BrNfVerdict.Accept;

        // br_nf_ipv4_daddr_was_changed: ip_route_input(skb, daddr, saddr, tos, bridge).
        _br.Path |= NfPath.RouteInput;
        var route = Router.RouteInput(new RouteKey
        {
            Src = packet.Src,
            Dst = packet.Dst,
            IsV6 = packet.IsIpv6,
            Tos = packet.Tos,
            Protocol = packet.Protocol,
            Ttl = packet.Ttl,
            Mark = e.Mark,
            Dev = bridge.Name,
            PacketType = PacketType.Host,
        });
        _br.Route = route;
        if (route.IsDrop && route.DropReason == RouteDropReason.ForwardingDisabled && OnLinkOf(bridge, packet))
        {
            // -EHOSTUNREACH with forwarding off: ip_route_output, and "Bridged-and-DNAT'ed traffic doesn't
            // require ip_forwarding" when it leaves by the bridge itself.
            e.DstMac = _brStations.TryGetValue((bridge, packet.Dst), out var sm) ? sm : default;
            e.PktType = 3;
            return BrNfVerdict.Accept;
        }
        if (route.IsDrop)
        {
            _br.Fate = NfFate.Dropped;
            _br.DropCause = NfDropCause.Routing;
            _br.RouteDrop = route.DropReason;
            return BrNfVerdict.Drop;
        }
        if (route.Verdict == RouteVerdict.Forward && route.OutDev == bridge.Name)
        {
            // bridged_dnat: back into the bridge (br_nf_pre_routing_finish_bridge), to the new destination's station.
            e.DstMac = _brStations.TryGetValue((bridge, packet.Dst), out var m) ? m : default;
            e.PktType = 3;
            return BrNfVerdict.Accept;
        }
        e.DstMac = bridge.Mac;
        e.PktType = 0;
        return BrNfVerdict.Accept;
    }

    /// <summary>
    /// br_nf_forward_ip → NF_INET_FORWARD (mangle, filter, security) with in = out = the bridge and the
    /// ports in nf_bridge_info (physoutdev = this copy's port): only for frames br_nf_pre_routing saw.
    /// Bridged frames keep their TTL (no ip_forward).
    /// </summary>
    BrNfVerdict IBrNetfilterHooks.Forward(ref EbtActionParam e, BrPort inPort, BrPort outPort)
    {
        _brPhysOut = false;
        ref var packet = ref e.Packet;
        if (!_brNfInfo || !packet.HasIp)
            return BrNfVerdict.Accept;
        var bridge = outPort.Bridge;
        var frame = Writable(e.Frame);
        var tables = packet.IsIpv6 ? _v6 : _v4;
        var p = BridgedParam(ref e, frame, NfInetHook.Forward, bridge, inPort.Name, outPort.Name);
        p.InDev = bridge.Name;
        p.InIfIndex = bridge.IfIndex;
        _brPhysOut = true;
        bool ok = RunTable(tables, NfTableId.Mangle, ref p, ref _br, _brTrace)
            && RunTable(tables, NfTableId.Filter, ref p, ref _br, _brTrace)
            && RunTable(tables, NfTableId.Security, ref p, ref _br, _brTrace);
        e.Mark = p.Mark;
        return ok ? BrNfVerdict.Accept : BrNfVerdict.Drop;
    }

    /// <summary>
    /// br_nf_post_routing → NF_INET_POST_ROUTING (mangle, nat SNAT, confirm) with out = the bridge:
    /// only for a copy br_nf_forward_ip set physoutdev on (frames the bridge device sends met POSTROUTING at L3).
    /// </summary>
    BrNfVerdict IBrNetfilterHooks.PostRouting(ref EbtActionParam e, BrPort outPort)
    {
        ref var packet = ref e.Packet;
        if (!_brPhysOut || !packet.HasIp)
            return BrNfVerdict.Accept;
        _brPhysOut = false;
        var bridge = outPort.Bridge;
        var frame = Writable(e.Frame);
        var tables = packet.IsIpv6 ? _v6 : _v4;
        var p = BridgedParam(ref e, frame, NfInetHook.PostRouting, bridge, _br.PhysInDev, outPort.Name);
        _br.OutDev = bridge.Name;
        _br.NextHop = packet.Dst;
        bool ok = PostRouting(frame, ref p, tables, ref _br, _brTrace);
        e.Mark = p.Mark;
        return ok ? BrNfVerdict.Accept : BrNfVerdict.Drop;
    }

    /// <summary>
    /// The iptables parameters br_netfilter hands a bridged copy at FORWARD and POSTROUTING: out = the
    /// bridge device, the ports in nf_bridge_info (physindev, physoutdev), the frame's packet type
    /// (PACKET_OTHERHOST taken as PACKET_HOST, as br_nf_pre_routing set it), the MAC header present.
    /// </summary>
    private XtActionParam BridgedParam(ref EbtActionParam e, Span<byte> frame, NfInetHook hook, BrBridge bridge, string? physIn, string physOut) =>
        new(ref e.Packet, frame, hook)
        {
            OutDev = bridge.Name,
            OutIfIndex = bridge.IfIndex,
            Bridged = true,
            PhysInDev = physIn,
            PhysOutDev = physOut,
            PktType = e.PktType == 3 ? (byte)0 : e.PktType,
            HasMacHeader = true,
            TimeNs = e.TimeNs,
            Mark = e.Mark,
            Ct = NfCtInfo.From(Conntrack, _ctinfo, e.TimeNs),
        };
}
