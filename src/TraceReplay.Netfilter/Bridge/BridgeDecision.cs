using TraceReplay.Capture.Decode;
using TraceReplay.Host.Ebtables;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Bridge;

/// <summary>A bridge port (struct net_bridge_port): its device, its address, its bridge, and the flags the decision reads.</summary>
public sealed class BrPort
{
    internal BrPort(BrBridge bridge, int index, NetDevice dev)
    {
        Bridge = bridge;
        Index = index;
        Name = dev.Name;
        IfIndex = dev.IfIndex;
        Mac = dev.Mac ?? default;
        Hairpin = dev.BridgeHairpin;
    }

    public BrBridge Bridge { get; }

    /// <summary>The port's position in <see cref="BrBridge.Ports"/> (what FDB entries and egress records name).</summary>
    public int Index { get; }

    public string Name { get; }
    public int IfIndex { get; }
    public MacAddr Mac { get; }

    /// <summary>BR_HAIRPIN_MODE: off by default, so a frame never leaves by the port it came in on.</summary>
    public bool Hairpin { get; set; }

    /// <summary>BR_LEARNING, BR_FLOOD, BR_MCAST_FLOOD, BR_BCAST_FLOOD: on by default.</summary>
    public bool Learning { get; set; } = true;
    public bool Flood { get; set; } = true;
    public bool MulticastFlood { get; set; } = true;
    public bool BroadcastFlood { get; set; } = true;
}

/// <summary>A bridge (struct net_bridge): its device, its ports and its forwarding database.</summary>
public sealed class BrBridge
{
    internal BrBridge(NetDevice dev, double ageingTimeSeconds, int hz)
    {
        Name = dev.Name;
        IfIndex = dev.IfIndex;
        Mac = dev.Mac ?? default;
        Fdb = new BrFdb(ageingTimeSeconds, hz);
        if (dev.Mac is { } m)
            Fdb.AddLocal(m, -1);
    }

    public string Name { get; }
    public int IfIndex { get; }
    public MacAddr Mac { get; }
    public BrFdb Fdb { get; }
    internal List<BrPort> PortList { get; } = [];
    public IReadOnlyList<BrPort> Ports => PortList;
}

/// <summary>Where a frame's journey through the bridge was decided.</summary>
public enum BrStage : byte
{
    None,

    /// <summary>br_handle_frame: a multicast or zero source address (!is_valid_ether_addr) is dropped before any hook.</summary>
    InvalidSource,

    /// <summary>ebtables broute BROUTING.</summary>
    Broute,

    /// <summary>ebtables nat PREROUTING (NF_BR_PRE_ROUTING, priority -300).</summary>
    NatPreRouting,

    /// <summary>br_netfilter on NF_BR_PRE_ROUTING (priority 0): iptables PREROUTING.</summary>
    BrNfPreRouting,

    /// <summary>ebtables filter INPUT (NF_BR_LOCAL_IN, -200) in br_pass_frame_up.</summary>
    FilterInput,

    /// <summary>ebtables nat OUTPUT (NF_BR_LOCAL_OUT, 100) for a frame the bridge device sends.</summary>
    NatOutput,

    /// <summary>ebtables filter OUTPUT (NF_BR_LOCAL_OUT, 200).</summary>
    FilterOutput,

    /// <summary>ebtables filter FORWARD (NF_BR_FORWARD, -200).</summary>
    FilterForward,

    /// <summary>br_netfilter on NF_BR_FORWARD (after ebtables FORWARD): iptables FORWARD.</summary>
    BrNfForward,

    /// <summary>ebtables nat POSTROUTING (NF_BR_POST_ROUTING, 300).</summary>
    NatPostRouting,

    /// <summary>br_netfilter on NF_BR_POST_ROUTING (NF_BR_PRI_LAST): iptables POSTROUTING.</summary>
    BrNfPostRouting,

    /// <summary>br_forward: the destination was learned on the input port and hairpin mode is off (should_deliver says no).</summary>
    Hairpin,

    /// <summary>br_forward from the bridge device to an address that is the bridge's own (no port to send to).</summary>
    NoPort,
}

/// <summary>
/// Which stage decided, by which table entry (-1: a stage without rules such as hairpin or br_netfilter),
/// with which verdict (DROP, or Unknown for an ebtables target the simulator cannot carry out), how certain.
/// </summary>
public readonly record struct BrOutcome(BrStage Stage, EbtTableInfo? Table, int Entry, IptVerdictFlags Flags, XtVerdict Verdict = XtVerdict.Drop)
{
    public static BrOutcome None => new(BrStage.None, null, -1, IptVerdictFlags.None, XtVerdict.Accept);

    public override string ToString() => Table is null ? Stage.ToString() : $"{Stage} {Table.Where(Entry)}";
}

/// <summary>What the bridge decided for a frame.</summary>
public enum BrDecision : byte
{
    /// <summary>The input device is not a port of a bridge of the model: not bridged.</summary>
    NotBridged,

    /// <summary>Dropped before the FDB decision (invalid source, nat PREROUTING, br_netfilter); see <see cref="BrResult.Drop"/>.</summary>
    Dropped,

    /// <summary>broute DROP: "route it instead" — the frame goes up the port device's own stack (not the bridge's).</summary>
    Routed,

    /// <summary>A link-local group address (01:80:c2:00:00:0x, not STP with STP off): up to the port's stack through NF_BR_LOCAL_IN, not bridged.</summary>
    LinkLocal,

    /// <summary>Known unicast destination: one egress port (possibly refused by hairpin).</summary>
    Forward,

    /// <summary>Unknown unicast, broadcast or multicast: every other port (broadcast and multicast also go up).</summary>
    Flood,

    /// <summary>Destination is a local FDB entry (the bridge's or a port's own MAC): up to L3 via the bridge device.</summary>
    Local,

    /// <summary>br_netfilter took the frame (e.g. iptables DNAT made it local; br_nf_pre_routing_finish re-routes): the hook graph goes on at L3.</summary>
    Stolen,

    /// <summary>An ebtables target the simulator cannot carry out decided: the fate is unknown (see <see cref="BrResult.Drop"/> for where).</summary>
    Unknown,
}

/// <summary>One output port's outcome: sent (after POSTROUTING, with the MACs it left with) or dropped at <see cref="Outcome"/>.</summary>
public readonly record struct BrEgress(BrPort Port, bool Sent, BrOutcome Outcome, MacAddr SrcMac, MacAddr DstMac, uint Mark);

/// <summary>
/// The fate of one frame at a bridge: the decision, whether it went up to L3 through the bridge
/// device (after ebtables filter INPUT), where it was dropped, and how many egress records
/// <see cref="BridgeDecision.Egress"/> holds. The MACs, pkt_type and mark are as PREROUTING left them.
/// </summary>
public readonly record struct BrResult(
    BrDecision Decision,
    BrPort? InPort,
    bool UpToBridge,
    BrOutcome Drop,
    int EgressCount,
    MacAddr SrcMac,
    MacAddr DstMac,
    byte PktType,
    uint Mark,
    IptVerdictFlags Flags)
{
    public bool DependsOnUnknown => (Flags & IptVerdictFlags.DependsOnUnknown) != 0;
}

/// <summary>br_netfilter's verdict at one of its plug-in points.</summary>
public enum BrNfVerdict : byte
{
    Accept,
    Drop,

    /// <summary>The hook graph took the frame over (NF_STOLEN): the bridge does not go on with it.</summary>
    Stolen,
}

/// <summary>
/// Where br_netfilter (net/bridge/br_netfilter_hooks.c) plugs into the bridge path: iptables inside the
/// bridge for IPv4/IPv6 frames when net.bridge.bridge-nf-call-ip(6)tables is 1. The hook graph implements it;
/// <see cref="BridgeDecision"/> calls it at the kernel's priorities:
/// <list type="bullet">
/// <item><see cref="PreRouting"/>: NF_BR_PRE_ROUTING at NF_BR_PRI_BRNF (0), after ebtables nat PREROUTING (-300):
/// br_nf_pre_routing runs iptables PREROUTING (raw, conntrack, mangle, nat) with -i = bridge, --physdev-in = port.</item>
/// <item><see cref="Forward"/>: NF_BR_FORWARD at priority 0, after ebtables filter FORWARD (-200): br_nf_forward_ip runs
/// iptables FORWARD (-i/-o = bridge, --physdev-in/out = ports, --physdev-is-bridged); before ebtables nat POSTROUTING.</item>
/// <item><see cref="PostRouting"/>: NF_BR_POST_ROUTING at NF_BR_PRI_LAST, after ebtables nat POSTROUTING (300): iptables POSTROUTING.</item>
/// </list>
/// Frames that go up (<see cref="BrResult.UpToBridge"/>) meet iptables INPUT at L3 on the bridge device, where the hook
/// graph must not run PREROUTING again (ip_sabotage_in).
/// </summary>
public interface IBrNetfilterHooks
{
    BrNfVerdict PreRouting(ref EbtActionParam p, BrPort inPort);

    BrNfVerdict Forward(ref EbtActionParam p, BrPort inPort, BrPort outPort);

    BrNfVerdict PostRouting(ref EbtActionParam p, BrPort outPort);
}

/// <summary>
/// The bridge path of the simulated kernel (net/bridge/br_input.c br_handle_frame / br_handle_frame_finish,
/// br_forward.c, br_device.c br_dev_xmit) with the ebtables hooks around it:
/// broute BROUTING → nat PREROUTING → [br_netfilter PREROUTING] → FDB learning and decision →
/// per egress port: filter FORWARD → [br_netfilter FORWARD] → nat POSTROUTING → [br_netfilter POSTROUTING];
/// local delivery: filter INPUT, then up to L3 via the bridge device. Bridges and ports come from the
/// network model (devices of kind bridge and their `master` ports). One frame at a time per instance;
/// per frame nothing is allocated (learning a new MAC may grow the FDB).
/// </summary>
public sealed class BridgeDecision
{
    private readonly Dictionary<string, BrPort> _portsByName = new(StringComparer.Ordinal);
    private readonly Dictionary<int, BrPort> _portsByIndex = [];
    private readonly Dictionary<string, BrBridge> _bridges = new(StringComparer.Ordinal);
    private readonly BrEgress[] _egress;
    private int _egressCount;

    /// <param name="ageingTimeSeconds">Per-bridge ageing_time overrides (the link dump does not carry it); others use 300 s.</param>
    /// <param name="backend">Which kernel code loaded the rules (ebtables-nft unless the host runs legacy ebtables).</param>
    public BridgeDecision(NetworkConfig network, EbtablesRuleset? ebtables, XtNet net, IReadOnlyDictionary<string, double>? ageingTimeSeconds = null,
        EbtBackend backend = EbtBackend.Nft)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(net);
        foreach (var dev in network.Devices.Where(d => d.IsBridge))
            _bridges[dev.Name] = new BrBridge(dev, ageingTimeSeconds?.GetValueOrDefault(dev.Name, 300) ?? 300, net.Hz);
        foreach (var dev in network.Devices)
        {
            if (network.BridgeOf(dev.Name) is not { } b || !_bridges.TryGetValue(b.Name, out var bridge))
                continue;
            var port = new BrPort(bridge, bridge.PortList.Count, dev);
            bridge.PortList.Add(port);
            _portsByName[port.Name] = port;
            if (port.IfIndex > 0)
                _portsByIndex[port.IfIndex] = port;
            if (dev.Mac is { } mac)
                bridge.Fdb.AddLocal(mac, port.Index);
        }
        _egress = new BrEgress[Math.Max(1, _bridges.Values.Select(b => b.PortList.Count).DefaultIfEmpty(0).Max())];
        if (ebtables is not null)
        {
            Filter = Table(ebtables, EbtTableKind.Filter, net, backend);
            Nat = Table(ebtables, EbtTableKind.Nat, net, backend);
            Broute = Table(ebtables, EbtTableKind.Broute, net, backend);
        }
    }

    private static EbtTableInfo? Table(EbtablesRuleset rs, EbtTableKind kind, XtNet net, EbtBackend backend) =>
        rs.Table(kind) is { } t ? EbtTableInfo.Compile(t, net, backend) : null;

    public EbtTableInfo? Filter { get; }
    public EbtTableInfo? Nat { get; }
    public EbtTableInfo? Broute { get; }

    /// <summary>br_netfilter, when the hook graph plugs it in; null: bridged frames meet no iptables.</summary>
    public IBrNetfilterHooks? BrNetfilter { get; set; }

    /// <summary>Receives log/nflog/arpreply records.</summary>
    public IEbtRecordSink? RecordSink { get; set; }

    /// <summary>Whether STP is on (br->stp_enabled); off (the default for `ip link add type bridge`) forwards 01:80:c2:00:00:00 like any group address.</summary>
    public bool StpEnabled { get; set; }

    public IEnumerable<BrBridge> Bridges => _bridges.Values;

    public BrBridge? Bridge(string name) => _bridges.GetValueOrDefault(name);

    public BrPort? Port(string name) => _portsByName.GetValueOrDefault(name);

    public BrPort? Port(int ifIndex) => _portsByIndex.GetValueOrDefault(ifIndex);

    /// <summary>The egress records of the last Receive or <see cref="Transmit"/> (valid until the next call).</summary>
    public ReadOnlySpan<BrEgress> Egress => _egress.AsSpan(0, _egressCount);

    /// <summary>
    /// br_handle_frame for a frame received on <paramref name="inPort"/>: validity of the source,
    /// link-local groups, broute, nat PREROUTING, br_netfilter PREROUTING, learning, the FDB decision,
    /// then every egress port's FORWARD/POSTROUTING and the local delivery's INPUT.
    /// </summary>
    public BrResult Receive(BrPort inPort, ref DecodedPacket packet, ReadOnlySpan<byte> frame, long timeNs, uint mark = 0)
    {
        ArgumentNullException.ThrowIfNull(inPort);
        _egressCount = 0;
        var br = inPort.Bridge;
        var p = new EbtActionParam(ref packet, frame, NfBrHook.Broute)
        {
            InDev = inPort.Name,
            InBridge = br.Name,
            InPortMac = inPort.Mac,
            InBridgeMac = br.Mac,
            TimeNs = timeNs,
            Mark = mark,
            RecordSink = RecordSink,
        };
        var flags = IptVerdictFlags.None;

        // br_handle_frame: "if (!is_valid_ether_addr(eth_hdr(skb)->h_source)) goto drop".
        if ((p.SrcMac.Value & 0x0100_0000_0000UL) != 0 || p.SrcMac.Value == 0)
            return Result(BrDecision.Dropped, inPort, false, new BrOutcome(BrStage.InvalidSource, null, -1, flags), ref p, flags);

        // eth_type_trans on the port, then br_handle_frame's "dest is the bridge's address → PACKET_HOST".
        p.PktType = EbtActionParam.PktTypeOf(p.DstMac, inPort.Mac);
        bool linkLocal = (p.DstMac.Value & ~0xFUL) == 0x0180_C200_0000UL;
        if (linkLocal && !((p.DstMac.Value & 0xF) == 0 && !StpEnabled))
        {
            // NF_HOOK(NFPROTO_BRIDGE, NF_BR_LOCAL_IN, …, br_handle_local_finish): up the port's own stack.
            var lo = RunLocalIn(ref p, inPort, ref flags);
            return Result(BrDecision.LinkLocal, inPort, lo.Stage == BrStage.None, lo, ref p, flags);
        }
        if (p.DstMac == br.Mac)
            p.PktType = 0;

        // NF_BR_PRE_ROUTING, NF_BR_PRI_FIRST: ebt_broute.
        if (Broute is { } broute)
        {
            var v = broute.DoTable(ref p);
            flags |= v.Flags;
            if (v.Verdict == XtVerdict.Unknown)
                return Result(BrDecision.Unknown, inPort, false, new BrOutcome(BrStage.Broute, broute, v.Entry, flags, XtVerdict.Unknown), ref p, flags);
            if (v.Verdict == XtVerdict.Drop)
            {
                // "undo PACKET_HOST mangling done in br_input in case the dst address matches the logical bridge but not the port".
                if (p.PktType == 0 && p.DstMac != inPort.Mac && p.DstMac == br.Mac)
                    p.PktType = 3;
                return Result(BrDecision.Routed, inPort, false, new BrOutcome(BrStage.Broute, broute, v.Entry, flags), ref p, flags);
            }
        }

        // NF_BR_PRE_ROUTING, NF_BR_PRI_NAT_DST_BRIDGED (-300): ebtables nat PREROUTING.
        if (Nat is { } nat)
        {
            p.Hook = NfBrHook.PreRouting;
            var v = nat.DoTable(ref p);
            flags |= v.Flags;
            if (v.Verdict != XtVerdict.Accept)
                return Result(v.Verdict == XtVerdict.Drop ? BrDecision.Dropped : BrDecision.Unknown, inPort, false, new BrOutcome(BrStage.NatPreRouting, nat, v.Entry, flags, v.Verdict), ref p, flags);
        }

        // NF_BR_PRE_ROUTING, NF_BR_PRI_BRNF (0): br_netfilter (iptables PREROUTING).
        if (BrNetfilter is { } brnf)
        {
            p.Hook = NfBrHook.PreRouting;
            var v = brnf.PreRouting(ref p, inPort);
            if (v == BrNfVerdict.Drop)
                return Result(BrDecision.Dropped, inPort, false, new BrOutcome(BrStage.BrNfPreRouting, null, -1, flags), ref p, flags);
            if (v == BrNfVerdict.Stolen)
                return Result(BrDecision.Stolen, inPort, false, BrOutcome.None, ref p, flags);
        }

        // br_handle_frame_finish: learn after the hooks ("to avoid spoofing"), then decide.
        if (inPort.Learning)
            br.Fdb.Update(inPort.Index, p.SrcMac, timeNs);

        bool localRcv = false;
        BrDecision decision;
        bool multicast = (p.DstMac.Value & 0x0100_0000_0000UL) != 0;
        if (multicast)
        {
            // Broadcast always goes up; multicast without an mdb entry and querier also does (no IGMP snooping state is simulated).
            localRcv = true;
            decision = BrDecision.Flood;
            Flood(inPort, ref p, ref flags, p.DstMac.Value == 0xFFFF_FFFF_FFFFUL ? 1 : 2, local: false);
        }
        else if (br.Fdb.Find(p.DstMac, timeNs, out var dst))
        {
            if (dst.IsLocal)
            {
                var up = RunLocalIn(ref p, inPort, ref flags);
                return Result(BrDecision.Local, inPort, up.Stage == BrStage.None, up, ref p, flags);
            }
            decision = BrDecision.Forward;
            var to = br.PortList[dst.Port];
            if (to != inPort || to.Hairpin)
                _egress[_egressCount++] = ForwardTo(inPort, to, ref p, ref flags, local: false);
            else
                _egress[_egressCount++] = new BrEgress(to, false, new BrOutcome(BrStage.Hairpin, null, -1, flags), p.SrcMac, p.DstMac, p.Mark);
        }
        else
        {
            decision = BrDecision.Flood;
            Flood(inPort, ref p, ref flags, 0, local: false);
        }

        var drop = BrOutcome.None;
        bool upToBridge = false;
        if (localRcv)
        {
            p.Hook = NfBrHook.LocalIn;
            p.OutDev = null;
            p.OutBridge = null;
            drop = RunLocalIn(ref p, inPort, ref flags);
            upToBridge = drop.Stage == BrStage.None;
        }
        return Result(decision, inPort, upToBridge, drop, ref p, flags);
    }

    /// <summary>Receive by the input device's name; a device that is not a bridge port gives <see cref="BrDecision.NotBridged"/>.</summary>
    public BrResult Receive(string inDev, ref DecodedPacket packet, ReadOnlySpan<byte> frame, long timeNs, uint mark = 0)
    {
        if (Port(inDev) is { } port)
            return Receive(port, ref packet, frame, timeNs, mark);
        _egressCount = 0;
        return new BrResult(BrDecision.NotBridged, null, false, BrOutcome.None, 0, packet.SrcMac, packet.DstMac, 0, mark, IptVerdictFlags.None);
    }

    /// <summary>
    /// br_dev_xmit for a frame the host sends through the bridge device: the FDB decision (no
    /// learning), then per egress port nat OUTPUT and filter OUTPUT (NF_BR_LOCAL_OUT, 100 and 200)
    /// and nat POSTROUTING.
    /// </summary>
    public BrResult Transmit(BrBridge bridge, ref DecodedPacket packet, ReadOnlySpan<byte> frame, long timeNs, uint mark = 0)
    {
        ArgumentNullException.ThrowIfNull(bridge);
        _egressCount = 0;
        var p = new EbtActionParam(ref packet, frame, NfBrHook.LocalOut) { TimeNs = timeNs, Mark = mark, RecordSink = RecordSink, PktType = 4, InBridgeMac = bridge.Mac };
        var flags = IptVerdictFlags.None;
        BrDecision decision;
        if ((p.DstMac.Value & 0x0100_0000_0000UL) != 0)
        {
            decision = BrDecision.Flood;
            Flood(null, ref p, ref flags, p.DstMac.Value == 0xFFFF_FFFF_FFFFUL ? 1 : 2, local: true, bridge);
        }
        else if (bridge.Fdb.Find(p.DstMac, timeNs, out var dst))
        {
            decision = BrDecision.Forward;
            if (dst.Port < 0)
                return Result(BrDecision.Dropped, null, false, new BrOutcome(BrStage.NoPort, null, -1, flags), ref p, flags);
            _egress[_egressCount++] = ForwardTo(null, bridge.PortList[dst.Port], ref p, ref flags, local: true);
        }
        else
        {
            decision = BrDecision.Flood;
            Flood(null, ref p, ref flags, 0, local: true, bridge);
        }
        return Result(decision, null, false, BrOutcome.None, ref p, flags);
    }

    /// <summary>br_flood: every port that should_deliver allows and whose flood flag for this kind of frame (0 unicast, 1 broadcast, 2 multicast) is on.</summary>
    private void Flood(BrPort? inPort, ref EbtActionParam p, ref IptVerdictFlags flags, int kind, bool local, BrBridge? bridge = null)
    {
        var ports = (bridge ?? inPort!.Bridge).PortList;
        foreach (var port in ports)
        {
            bool flood = kind switch { 0 => port.Flood, 1 => port.BroadcastFlood, _ => port.MulticastFlood };
            if (!flood || (port == inPort && !port.Hairpin))
                continue;
            _egress[_egressCount++] = ForwardTo(inPort, port, ref p, ref flags, local);
        }
    }

    /// <summary>
    /// __br_forward on a copy of the frame's state (br_flood clones; snat/dnat make the data their own
    /// with skb_ensure_writable): FORWARD (or, for the bridge's own frames, LOCAL_OUT), then
    /// br_forward_finish's POSTROUTING, with br_netfilter between them.
    /// </summary>
    private BrEgress ForwardTo(BrPort? inPort, BrPort to, ref EbtActionParam shared, ref IptVerdictFlags flags, bool local)
    {
        var p = shared;
        p.OutDev = to.Name;
        p.OutBridge = to.Bridge.Name;
        if (local)
        {
            p.InDev = null;
            p.InBridge = null;
            p.Hook = NfBrHook.LocalOut;
            if (Nat is { } nat && Run(nat, ref p, ref flags, BrStage.NatOutput, out var o1))
                return new BrEgress(to, false, o1, p.SrcMac, p.DstMac, p.Mark);
            if (Filter is { } filt && Run(filt, ref p, ref flags, BrStage.FilterOutput, out var o2))
                return new BrEgress(to, false, o2, p.SrcMac, p.DstMac, p.Mark);
        }
        else
        {
            p.Hook = NfBrHook.Forward;
            if (Filter is { } filt && Run(filt, ref p, ref flags, BrStage.FilterForward, out var o1))
                return new BrEgress(to, false, o1, p.SrcMac, p.DstMac, p.Mark);
            if (BrNetfilter is { } brnf && brnf.Forward(ref p, inPort!, to) != BrNfVerdict.Accept)
                return new BrEgress(to, false, new BrOutcome(BrStage.BrNfForward, null, -1, flags), p.SrcMac, p.DstMac, p.Mark);
        }

        // br_forward_finish: NF_HOOK(NFPROTO_BRIDGE, NF_BR_POST_ROUTING, …, NULL, skb->dev, …): no input device.
        p.Hook = NfBrHook.PostRouting;
        p.InDev = null;
        p.InBridge = null;
        if (Nat is { } n && Run(n, ref p, ref flags, BrStage.NatPostRouting, out var o3))
            return new BrEgress(to, false, o3, p.SrcMac, p.DstMac, p.Mark);
        if (BrNetfilter is { } nf && nf.PostRouting(ref p, to) != BrNfVerdict.Accept)
            return new BrEgress(to, false, new BrOutcome(BrStage.BrNfPostRouting, null, -1, flags), p.SrcMac, p.DstMac, p.Mark);
        return new BrEgress(to, true, BrOutcome.None, p.SrcMac, p.DstMac, p.Mark);
    }

    /// <summary>One table on the current hook; true when it stopped the frame (DROP, or an unknown target).</summary>
    private static bool Run(EbtTableInfo table, ref EbtActionParam p, ref IptVerdictFlags flags, BrStage stage, out BrOutcome outcome)
    {
        var v = table.DoTable(ref p);
        flags |= v.Flags;
        outcome = new BrOutcome(stage, table, v.Entry, v.Flags, v.Verdict);
        return v.Verdict != XtVerdict.Accept;
    }

    /// <summary>br_pass_frame_up's NF_BR_LOCAL_IN (in = the port): ebtables filter INPUT; None when the frame goes up.</summary>
    private BrOutcome RunLocalIn(ref EbtActionParam p, BrPort inPort, ref IptVerdictFlags flags)
    {
        p.Hook = NfBrHook.LocalIn;
        p.InDev = inPort.Name;
        p.InBridge = inPort.Bridge.Name;
        p.OutDev = null;
        p.OutBridge = null;
        if (Filter is { } filt && Run(filt, ref p, ref flags, BrStage.FilterInput, out var o))
            return o;
        return BrOutcome.None;
    }

    private BrResult Result(BrDecision d, BrPort? inPort, bool up, BrOutcome drop, ref EbtActionParam p, IptVerdictFlags flags) =>
        new(d, inPort, up, drop, _egressCount, p.SrcMac, p.DstMac, p.PktType, p.Mark, flags);
}
