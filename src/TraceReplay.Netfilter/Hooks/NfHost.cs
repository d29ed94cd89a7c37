using System.Buffers.Binary;
using TraceReplay.Capture.Decode;
using TraceReplay.Host;
using TraceReplay.Host.Ebtables;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Ipset;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Bridge;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Routing;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Hooks;

/// <summary>Receives the conntrack events of each packet (NEW/UPDATE/DESTROY, as ctnetlink would send them) before the host clears them.</summary>
public interface INfConntrackEventSink
{
    void OnEvents(ReadOnlySpan<NfConntrackEvent> events);
}

/// <summary>How an <see cref="NfHost"/> is built.</summary>
public sealed class NfHostOptions
{
    /// <summary>Seed of every random choice (statistic, NAT port search offsets): same inputs, same outputs.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Start from the snapshot's conntrack.txt when there is one (the table when capture started).</summary>
    public bool LoadConntrack { get; init; } = true;

    public UnknownMatchPolicy UnknownPolicy { get; init; } = UnknownMatchPolicy.NoMatch;

    /// <summary>CONFIG_HZ of the simulated kernel.</summary>
    public int Hz { get; init; } = 250;

    /// <summary>Gets the conntrack events after every packet; without one they are consumed by NAT bookkeeping and dropped.</summary>
    public INfConntrackEventSink? Events { get; init; }
}

/// <summary>
/// The simulated host's IP layer: the IPv4/IPv6 receive, forward and output paths (ip_rcv →
/// ip_rcv_finish → ip_local_deliver | ip_forward → ip_output → ip_finish_output, and
/// __ip_local_out for locally generated packets; ipv6's ip6_rcv … alike) with the netfilter hooks
/// registered at their priorities (include/uapi/linux/netfilter_ipv4.h): defrag −400, raw −300,
/// conntrack −200, mangle −150, nat DNAT −100, filter 0, security 50, nat SNAT 100, confirm INT_MAX.
/// Built once from a host snapshot: one compiled table per (family, table), one conntrack table and
/// NAT core for the namespace, the router, and a seeded <see cref="XtNet"/>.
/// <para>
/// One packet at a time, in capture order (the tables' counters and jump stacks, the conntrack table
/// and the defragmenter are the host's state). Steady state allocates nothing per packet.
/// </para>
/// </summary>
public sealed partial class NfHost
{
    private readonly XtTableInfo?[] _v4 = new XtTableInfo?[5];
    private readonly XtTableInfo?[] _v6 = new XtTableInfo?[5];
    private readonly INfConntrackEventSink? _events;

    // The current packet's ctinfo (skb->_nfct); a field so the hook steps share it without passing it around.
    private CtInfo _ctinfo;

    public NfHost(NetworkConfig network, IptRuleset? iptables, IptRuleset? ip6tables, IpsetRegistry? ipsets = null, NfHostOptions? options = null, EbtablesRuleset? ebtables = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        options ??= new NfHostOptions();
        Network = network;
        Net = new XtNet
        {
            Hz = options.Hz,
            UnknownPolicy = options.UnknownPolicy,
            Random = new XtRandom(options.Seed),
            Ipsets = ipsets,
            AddrTypes = new NfHostAddrTypes(network),
        };
        Fill(_v4, iptables);
        Fill(_v6, ip6tables);
        Conntrack = new NfConntrackTable(NfConntrackSettings.FromSysctls(network.Sysctls));
        NatCore = new NfNatCore(options.Seed ^ 0x6e66_6e61_745f_7631);
        Nat = new NfNatHook(Conntrack, NatCore);
        Router = new IpRouter(network);
        Defrag = new NfDefrag();
        _events = options.Events;
        InitReject(options.Seed);
        Bridges = CreateBridges(network, ebtables);
    }

    /// <summary>The host of a snapshot directory: its rules, ipsets, network and (when asked and present) conntrack.txt.</summary>
    public static NfHost Create(HostSnapshot snapshot, NfHostOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        options ??= new NfHostOptions();
        var host = new NfHost(snapshot.Network, snapshot.Iptables, snapshot.Ip6tables, snapshot.Ipsets, options, snapshot.Ebtables);
        string ct = Path.Combine(snapshot.Directory, "conntrack.txt");
        if (options.LoadConntrack && File.Exists(ct))
            host.Conntrack.LoadInitial(ConntrackList.Parse(File.ReadAllText(ct), ct).Select(e => WithNatStatus(host, e)).ToList());
        host.Sockets = NfLocalSockets.Load(snapshot.Directory);
        return host;
    }

    /// <summary>
    /// `conntrack -L` prints no status bits for NAT, but the tuples show it: a reply tuple that is not the
    /// inverted original was rewritten (nf_nat_setup_info sets IPS_SRC_NAT / IPS_DST_NAT), and with the nat
    /// table loaded every confirmed entry went through both NAT hooks (IPS_*_NAT_DONE, null bindings
    /// included), so its later packets are translated and never meet the nat chains.
    /// </summary>
    private static ConntrackListEntry WithNatStatus(NfHost host, ConntrackListEntry e)
    {
        if (host.Table(e.Orig.IsV6 ? IptFamily.IPv6 : IptFamily.IPv4, NfTableId.Nat) is null)
            return e;
        var inv = e.Orig.Invert();
        bool icmp = e.Orig.Protocol is 1 or 58;
        var status = e.Status | CtStatus.SrcNatDone | CtStatus.DstNatDone;
        if (e.Reply.Dst != inv.Dst || e.Reply.DstPort != inv.DstPort || (icmp && e.Reply.SrcPort != inv.SrcPort))
            status |= CtStatus.SrcNat;
        if (e.Reply.Src != inv.Src || (!icmp && e.Reply.SrcPort != inv.SrcPort))
            status |= CtStatus.DstNat;
        return e with { Status = status };
    }

    public NetworkConfig Network { get; }
    public XtNet Net { get; }
    public NfConntrackTable Conntrack { get; }
    public NfNatCore NatCore { get; }
    public NfNatHook Nat { get; }

    /// <summary>
    /// The capture saw the first packet of <paramref name="entry"/> leave as <paramref name="seen"/> where
    /// the simulation predicted <paramref name="predicted"/>, the same but for the source port: SNAT's
    /// port, which the kernel picks at random on a clash. Takes the capture's port into the entry
    /// (<see cref="NfNatHook.AdoptSourcePort"/>) when the entry is still the connection that packet made
    /// (<paramref name="original"/>) and the SNAT port is what was predicted; false otherwise.
    /// </summary>
    public bool AdoptNatSourcePort(int entry, in NfConntrackTuple original, in NfConntrackTuple predicted, in NfConntrackTuple seen, long nowNs)
    {
        if (seen.Src != predicted.Src || seen.Dst != predicted.Dst || seen.DstPort != predicted.DstPort || seen.Protocol != predicted.Protocol
            || seen.IsV6 != predicted.IsV6 || seen.SrcPort == predicted.SrcPort)
        {
            return false;
        }
        // Other packets ran between this one's ingress and its egress sighting: its entry may be gone
        // (early_drop of a new, unreplied entry at nf_conntrack_max), or its slot another connection's.
        if (!Conntrack.IsLive(entry))
            return Nat.RefuseAdoption();
        ref readonly NfConn ct = ref Conntrack[entry];
        if (ct.Orig != original || ct.Reply.DstPort != predicted.SrcPort || ct.Reply.Dst != predicted.Src)
            return Nat.RefuseAdoption();
        return Nat.AdoptSourcePort(entry, seen.SrcPort, nowNs);
    }
    public IpRouter Router { get; }
    public NfDefrag Defrag { get; }

    /// <summary>A compiled table, or null when the host has none (its module is not loaded: no hooks registered).</summary>
    public XtTableInfo? Table(IptFamily family, NfTableId id) => (family == IptFamily.IPv6 ? _v6 : _v4)[(int)id];

    /// <summary>
    /// The simulated counters of a rule of the snapshot's rule set, as iptables-save -c would print
    /// them: <paramref name="rule"/> is the 0-based index in <paramref name="chain"/>, -1 for its policy.
    /// </summary>
    public XtCounters Counters(IptFamily family, string table, string chain, int rule)
    {
        var sim = Table(family, Enum.Parse<NfTableId>(table, ignoreCase: true));
        if (sim is null)
            return default;
        return sim.Counters(rule < 0 ? sim.PolicyEntry(chain) : sim.EntryOf(chain, rule + 1));
    }

    private void Fill(XtTableInfo?[] slots, IptRuleset? ruleset)
    {
        if (ruleset is null)
            return;
        foreach (var t in ruleset.Tables)
        {
            NfTableId? id = t.Name switch
            {
                "raw" => NfTableId.Raw,
                "mangle" => NfTableId.Mangle,
                "nat" => NfTableId.Nat,
                "filter" => NfTableId.Filter,
                "security" => NfTableId.Security,
                _ => null,
            };
            if (id is { } i)
                slots[(int)i] = XtTableInfo.Compile(t, ruleset.Family, Net);
        }
    }

    // ================================================================ receive: ip_rcv / ipv6_rcv

    /// <summary>
    /// A packet received on <paramref name="ingress"/>.Dev: PREROUTING, the input route, then INPUT or
    /// FORWARD + POSTROUTING. <paramref name="frame"/> is rewritten in place by NAT and the forward
    /// path's TTL decrement, and <paramref name="packet"/> follows it.
    /// </summary>
    public NfHookResult Receive(Span<byte> frame, ref DecodedPacket packet, in NfIngress ingress, IIptTraceSink? trace = null)
    {
        ArgumentNullException.ThrowIfNull(ingress.Dev);
        Conntrack.Prefetch(in packet);
        if (ingress.PhysInDev is null && PortOf(ingress.Dev) is { } port)
        {
            var bridged = BridgeReceive(frame, ref packet, ingress, port, trace);
            LocalReply(frame, packet, ref bridged, ingress.TimeNs);
            return bridged;
        }
        var r = Begin(ref packet);
        r.InDev = ingress.Dev;
        if (!RcvCore(frame, packet, ref r))
            return r;

        // ipv6_rcv → ip6_rcv_core's address checks come before any hook.
        if (packet.IsIpv6 && Router.Ip6RcvCoreCheck(packet.Src, packet.Dst, ingress.Dev) is var early && early != RouteDropReason.None)
        {
            r.Fate = NfFate.Dropped;
            r.DropCause = NfDropCause.Routing;
            r.RouteDrop = early;
            return r;
        }

        // nf_defrag_ipv4 / nf_defrag_ipv6 (priority −400): fragments are held until the datagram is whole.
        if (Defrag.Pending > 0)
            Defrag.ExpireUntil(ingress.TimeNs);
        if ((packet.Flags & PacketFlags.Fragment) != 0 && (packet.Flags & PacketFlags.AtomicFragment) == 0)
        {
            r.Path |= NfPath.Defrag;
            var d = Defrag.Add(ref packet, frame, ingress.TimeNs, out var whole, out int wholeLength);
            if (d == NfDefragResult.Complete)
                frame = whole.AsSpan(0, wholeLength);
            else
            {
                r.Fate = d == NfDefragResult.Held ? NfFate.Held : NfFate.Dropped;
                r.DropCause = d == NfDefragResult.Held ? NfDropCause.None : NfDropCause.Defrag;
                return r;
            }
        }

        var p = new XtActionParam(ref packet, frame, NfInetHook.PreRouting)
        {
            InDev = ingress.Dev,
            InIfIndex = IfIndexOf(ingress.Dev),
            Bridged = ingress.PhysInDev is not null,
            PhysInDev = ingress.PhysInDev,
            PktType = (byte)ingress.PacketType,
            HasMacHeader = true,
            TimeNs = ingress.TimeNs,
            Mark = ingress.Mark,
        };
        _ctinfo = CtInfo.Untracked;
        PreRoutingAndOn(frame, ref p, ref r, trace, runConntrack: true, ingress.PacketType);
        if (r.HasReject)
            SendReject(frame, ref p, ref r);
        End(ref p, ref r);
        LocalReply(frame, p.Packet, ref r, ingress.TimeNs);
        return r;
    }

    /// <summary>PREROUTING (raw, conntrack, mangle, nat DNAT), the input route, then INPUT or FORWARD → POSTROUTING.</summary>
    private void PreRoutingAndOn(Span<byte> frame, ref XtActionParam p, ref NfHookResult r, IIptTraceSink? trace, bool runConntrack, PacketType pktType)
    {
        var tables = p.IsV6 ? _v6 : _v4;
        p.Hook = NfInetHook.PreRouting;
        p.OutDev = null;
        p.OutIfIndex = 0;
        if (!RunTable(tables, NfTableId.Raw, ref p, ref r, trace))
            return;
        if (runConntrack && !ConntrackIn(frame, ref p, ref r))
            return;
        if (!RunTable(tables, NfTableId.Mangle, ref p, ref r, trace))
            return;
        var dst = p.Packet.Dst;
        if (!NatStep(frame, ref p, tables, ref r, trace))
            return;

        // ip_rcv_finish → ip_route_input_noref (ip6_route_input), with the mark mangle left. A looped
        // packet keeps the dst of its output route (skb_valid_dst) unless nf_nat_ipv4_in changed its
        // destination and dropped the dst.
        if (!runConntrack && dst == p.Packet.Dst)
        {
            LocalIn(frame, ref p, tables, ref r, trace);
            return;
        }
        RouteInputAndOn(frame, ref p, tables, ref r, trace, pktType);
    }

    /// <summary>ip_rcv_finish's input route, then ip_local_deliver (INPUT) or ip_forward (FORWARD → POSTROUTING).</summary>
    private void RouteInputAndOn(Span<byte> frame, ref XtActionParam p, XtTableInfo?[] tables, ref NfHookResult r, IIptTraceSink? trace, PacketType pktType)
    {
        r.Path |= NfPath.RouteInput;
        var route = Router.RouteInput(new RouteKey
        {
            Src = p.Packet.Src,
            Dst = p.Packet.Dst,
            IsV6 = p.IsV6,
            Tos = p.Packet.Tos,
            Protocol = p.Packet.Protocol,
            Ttl = p.Packet.Ttl,
            Mark = p.Mark,
            Dev = p.InDev,
            PacketType = pktType,
        });
        r.Route = route;
        if (route.IsDrop)
        {
            r.Fate = NfFate.Dropped;
            r.DropCause = NfDropCause.Routing;
            r.RouteDrop = route.DropReason;
            return;
        }

        if (route.Verdict == RouteVerdict.Forward)
        {
            SetOut(ref p, ref r, route);

            // ip_forward: ip_decrease_ttl before NF_INET_FORWARD (the router already refused TTL ≤ 1).
            DecreaseTtl(frame, ref p.Packet);
            p.Hook = NfInetHook.Forward;
            if (!RunTable(tables, NfTableId.Mangle, ref p, ref r, trace)
                || !RunTable(tables, NfTableId.Filter, ref p, ref r, trace)
                || !RunTable(tables, NfTableId.Security, ref p, ref r, trace))
                return;
            if (PostRouting(frame, ref p, tables, ref r, trace))
                r.Fate = NfFate.Forwarded;
            return;
        }

        LocalIn(frame, ref p, tables, ref r, trace);
    }

    /// <summary>ip_local_deliver: NF_INET_LOCAL_IN (mangle, filter, security, nat SNAT, confirm), then the host's own stack.</summary>
    private void LocalIn(Span<byte> frame, ref XtActionParam p, XtTableInfo?[] tables, ref NfHookResult r, IIptTraceSink? trace)
    {
        p.Hook = NfInetHook.LocalIn;
        p.OutDev = null;
        p.OutIfIndex = 0;
        if (!RunTable(tables, NfTableId.Mangle, ref p, ref r, trace)
            || !RunTable(tables, NfTableId.Filter, ref p, ref r, trace)
            || !RunTable(tables, NfTableId.Security, ref p, ref r, trace)
            || !NatStep(frame, ref p, tables, ref r, trace)
            || !Confirm(ref p, ref r))
            return;
        r.Fate = NfFate.DeliveredLocally;
    }

    // ================================================================ output: __ip_local_out / ip6_local_out

    /// <summary>
    /// A packet the host made: the output route, OUTPUT (raw, conntrack, mangle, nat DNAT, filter,
    /// security; ip_route_me_harder after a mark, TOS or address change), then POSTROUTING; to a local
    /// destination it loops through lo into PREROUTING and INPUT with its conntrack entry attached.
    /// </summary>
    public NfHookResult Output(Span<byte> frame, ref DecodedPacket packet, in NfEgress egress, IIptTraceSink? trace = null)
    {
        var r = Begin(ref packet);
        if (!packet.HasIp)
        {
            r.Fate = NfFate.NotIp;
            return r;
        }
        var p = new XtActionParam(ref packet, frame, NfInetHook.LocalOut)
        {
            HasSocket = true,
            TimeNs = egress.TimeNs,
            Mark = egress.Mark,
        };
        _ctinfo = CtInfo.Untracked;
        OutputPath(frame, ref p, ref r, egress.BoundDev, trace);
        if (r.HasReject)
            SendReject(frame, ref p, ref r);
        End(ref p, ref r);
        return r;
    }

    private void OutputPath(Span<byte> frame, ref XtActionParam p, ref NfHookResult r, string? boundDev, IIptTraceSink? trace)
    {
        var tables = p.IsV6 ? _v6 : _v4;
        r.Path |= NfPath.RouteOutput;
        var route = _replyAnySrc ? Router.RouteMeHarder(OutputKey(ref p, boundDev)) : Router.RouteOutput(OutputKey(ref p, boundDev));
        r.Route = route;
        if (route.IsDrop)
        {
            r.Fate = NfFate.Dropped;
            r.DropCause = NfDropCause.Routing;
            r.RouteDrop = route.DropReason;
            return;
        }
        SetOut(ref p, ref r, route);

        if (!RunTable(tables, NfTableId.Raw, ref p, ref r, trace) || !ConntrackIn(frame, ref p, ref r))
            return;

        // ipt_mangle_out: a changed mark, TOS or address re-routes (ip_route_me_harder).
        var (src, dst, mark, tos) = (p.Packet.Src, p.Packet.Dst, p.Mark, p.Packet.Tos);
        if (!RunTable(tables, NfTableId.Mangle, ref p, ref r, trace))
            return;
        if ((src, dst, mark, tos) != (p.Packet.Src, p.Packet.Dst, p.Mark, p.Packet.Tos) && !Reroute(ref p, ref r, boundDev))
            return;

        // nf_nat_ipv4_local_fn: a DNATed destination re-routes.
        dst = p.Packet.Dst;
        if (!NatStep(frame, ref p, tables, ref r, trace))
            return;
        if (dst != p.Packet.Dst && !Reroute(ref p, ref r, boundDev))
            return;
        if (!RunTable(tables, NfTableId.Filter, ref p, ref r, trace) || !RunTable(tables, NfTableId.Security, ref p, ref r, trace))
            return;
        if (!PostRouting(frame, ref p, tables, ref r, trace))
            return;

        if (r.Route.Verdict != RouteVerdict.Local)
        {
            r.Fate = NfFate.Sent;
            return;
        }

        // To this host: out through lo and back in (loopback_xmit → netif_rx); the skb keeps its
        // conntrack entry, so nf_conntrack_in skips it at PREROUTING.
        r.Path |= NfPath.Loopback;
        p.InDev = "lo";
        p.InIfIndex = Network.Device("lo")?.IfIndex ?? 1;
        p.HasSocket = false;
        p.PktType = 5;
        PreRoutingAndOn(frame, ref p, ref r, trace, runConntrack: false, PacketType.Host);
    }

    private static RouteKey OutputKey(ref XtActionParam p, string? boundDev) => new()
    {
        Src = p.Packet.Src,
        Dst = p.Packet.Dst,
        IsV6 = p.IsV6,
        Tos = p.Packet.Tos,
        Protocol = p.Packet.Protocol,
        Mark = p.Mark,
        Dev = boundDev,
    };

    private bool Reroute(ref XtActionParam p, ref NfHookResult r, string? boundDev)
    {
        r.Path |= NfPath.Reroute;
        var route = Router.RouteMeHarder(OutputKey(ref p, boundDev));
        r.Route = route;
        if (route.IsDrop)
        {
            r.Fate = NfFate.Dropped;
            r.DropCause = NfDropCause.Routing;
            r.RouteDrop = route.DropReason;
            return false;
        }
        SetOut(ref p, ref r, route);
        return true;
    }

    // ================================================================ the steps

    /// <summary>NF_INET_POST_ROUTING (mangle, nat SNAT, confirm); state->in is NULL here.</summary>
    private bool PostRouting(Span<byte> frame, ref XtActionParam p, XtTableInfo?[] tables, ref NfHookResult r, IIptTraceSink? trace)
    {
        p.Hook = NfInetHook.PostRouting;
        p.InDev = null;
        p.InIfIndex = 0;
        return RunTable(tables, NfTableId.Mangle, ref p, ref r, trace)
            && NatStep(frame, ref p, tables, ref r, trace)
            && Confirm(ref p, ref r);
    }

    private NfNameMemo<int>? _ifIndexes;
    private NfNameMemo<BrPort?>? _ports;

    /// <summary>dev->ifindex of a device by name (0 when the snapshot has no such device).</summary>
    private int IfIndexOf(string dev) => (_ifIndexes ??= new(name => Network.Device(name)?.IfIndex ?? 0))[dev];

    /// <summary>br_port_get_rcu(dev): the bridge port named <paramref name="dev"/>, or null.</summary>
    private BrPort? PortOf(string dev) => (_ports ??= new(Bridges.Port))[dev];

    private void SetOut(ref XtActionParam p, ref NfHookResult r, in RouteResult route)
    {
        string? dev = route.Verdict == RouteVerdict.Local ? "lo" : route.OutDev;
        p.OutDev = dev;
        p.OutIfIndex = dev is null ? 0 : IfIndexOf(dev);
        r.OutDev = dev;
        r.NextHop = route.Gateway ?? p.Packet.Dst;
    }

    /// <summary>
    /// ipv4_conntrack_in / ipv4_conntrack_local (nf_conntrack_in), after the raw table's CT/NOTRACK
    /// request: an untracked packet gets no entry; a zone is handed to the lookup.
    /// </summary>
    private bool ConntrackIn(Span<byte> frame, ref XtActionParam p, ref NfHookResult r)
    {
        r.Path |= NfHookResult.Bit(p.Hook, NfHookResult.StepConntrack);
        if (_ctAttached)
        {
            // A generated reply carries its entry (nf_ct_attach): "previously seen", nf_conntrack_in returns NF_ACCEPT.
            NfCtInfo.Fill(ref p.Ct, Conntrack, _ctinfo, p.TimeNs);
            return true;
        }
        var req = p.CtRequest;
        if (req.Entry >= 0 && req.Notrack)
            _ctinfo = CtInfo.Untracked;
        else
            _ctinfo = Conntrack.ConntrackIn(in p.Packet, frame, p.TimeNs, req.Entry >= 0 ? req.Zone : (ushort)0);
        if (_ctinfo.Verdict == CtVerdict.Drop)
        {
            r.Fate = NfFate.Dropped;
            r.DropCause = NfDropCause.Conntrack;
            r.CtReason = _ctinfo.Reason;
            return false;
        }
        r.CtReason = _ctinfo.Reason;
        NfCtInfo.Fill(ref p.Ct, Conntrack, _ctinfo, p.TimeNs);
        return true;
    }

    /// <summary>nf_conntrack_confirm at the end of INPUT and POSTROUTING.</summary>
    private bool Confirm(ref XtActionParam p, ref NfHookResult r)
    {
        r.Path |= NfHookResult.Bit(p.Hook, NfHookResult.StepConfirm);

        // __nf_conntrack_confirm: a reply-direction packet (REJECT's, attached by nf_ct_attach) confirms nothing.
        if (!_ctinfo.HasEntry || (_ctAttached && _ctinfo.Direction == CtDirection.Reply) || Conntrack.Confirm(_ctinfo.Entry, p.TimeNs))
            return true;
        _ctinfo = CtInfo.Invalid(CtReason.InsertClash);
        r.Fate = NfFate.Dropped;
        r.DropCause = NfDropCause.Confirm;
        r.CtReason = CtReason.InsertClash;
        return false;
    }

    /// <summary>
    /// One table at the current hook (ipt_do_table as iptable_*_hook calls it). Returns whether the
    /// packet goes on: ACCEPT (and NF_QUEUE with --queue-bypass, since no listener is modelled) does;
    /// DROP (REJECT included), NF_QUEUE and an unknown target end the path with the result filled in.
    /// </summary>
    private bool RunTable(XtTableInfo?[] tables, NfTableId id, ref XtActionParam p, ref NfHookResult r, IIptTraceSink? trace)
    {
        var t = tables[(int)id];
        if (t is null || !t.HasHook(p.Hook))
            return true;
        r.Path |= NfHookResult.Bit(p.Hook, (int)id);
        p.Nat = new XtNatRequest(XtNatKind.None, default, default, -1);
        p.Reject = new XtRejectRecord(default, -1);
        p.CtRequest = new XtCtRequest(default, 0, string.Empty, string.Empty, -1);
        p.HotDrop = false;
        p.CtMarkChanged = false;
        var v = t.DoTable(ref p, trace);
        if (v.DependsOnUnknown)
            r.DependsOnUnknown = true;
        if ((v.Flags & IptVerdictFlags.DependsOnClockOrRandom) != 0)
            r.DependsOnClockOrRandom = true;
        if (p.CtMarkChanged)
        {
            p.CommitCtMark(Conntrack);
            p.CtMarkChanged = false;
        }
        switch (v.Verdict)
        {
            case XtVerdict.Accept:
                return true;
            case XtVerdict.Queue when v.QueueBypass:
                return true;
            case XtVerdict.Queue:
                r.Fate = NfFate.Queued;
                r.QueueNum = v.QueueNum;
                break;
            case XtVerdict.Drop:
            case XtVerdict.Stolen:
                r.Fate = NfFate.Dropped;
                r.DropCause = (v.Flags & IptVerdictFlags.HotDrop) != 0 ? NfDropCause.HotDrop : NfDropCause.Table;
                if (p.Reject.Entry >= 0)
                {
                    r.Reject = p.Reject;
                    r.RejectViaOutput = !p.Bridged;
                }
                break;
            default:
                r.Fate = NfFate.Unknown;
                r.DependsOnUnknown = true;
                break;
        }
        r.DropHook = p.Hook;
        r.DropTable = t;
        r.DropEntry = v.Entry;
        return false;
    }

    /// <summary>
    /// nf_nat_inet_fn at this hook: on the first packet of a connection for this manip type the nat
    /// table's chain is run (its counters therefore count connections) and its request becomes the
    /// binding — MASQUERADE from the route's output device and next hop, REDIRECT from the input
    /// device, NETMAP from the packet; no request is a null binding. Every packet is then rewritten
    /// from the entry. Without a nat table iptable_nat is not loaded and no NAT hook exists.
    /// </summary>
    private bool NatStep(Span<byte> frame, ref XtActionParam p, XtTableInfo?[] tables, ref NfHookResult r, IIptTraceSink? trace)
    {
        var nat = tables[(int)NfTableId.Nat];
        if (nat is null)
            return true;
        var info = _ctinfo;
        if (!info.HasEntry || info.State is CtState.Untracked or CtState.Invalid)
            return true;
        var manip = NfNatTuple.HookToManip(p.Hook);
        var lookup = new PresetLookup();
        ref NfConn ct = ref Conntrack[info.Entry];
        // nf_nat_ipv4_fn / nf_nat_ipv6_fn: a RELATED ICMP error is only translated (nf_nat_icmp_reply_translation),
        // never looked up in the table — REJECT's error attached to an unconfirmed entry included.
        bool relatedIcmpError = info.State == CtState.Related && (p.Packet.Flags & PacketFlags.IcmpError) != 0;
        if (info.State is CtState.New or CtState.Related && !relatedIcmpError && !NfNatTuple.Initialized(ct.Status, manip) && !ct.IsConfirmed)
        {
            if (!RunTable(tables, NfTableId.Nat, ref p, ref r, trace))
                return false;
            var req = p.Nat;
            if (req.Kind != XtNatKind.None)
            {
                var verdict = RangeOf(req, ref p, ct.Orig, r.NextHop, out var range);
                if (verdict != NatVerdict.Accept)
                {
                    r.Fate = NfFate.Dropped;
                    r.DropCause = NfDropCause.Nat;
                    r.NatVerdict = verdict;
                    r.DropHook = p.Hook;
                    return false;
                }
                if (range.MapsIps || range.ProtoSpecified)
                    lookup = new PresetLookup(true, range, req.Entry);
            }
        }
        var v = Nat.Process(frame, ref p.Packet, info, p.Hook, p.TimeNs, ref lookup);
        if (v != NatVerdict.Accept)
        {
            r.Fate = NfFate.Dropped;
            r.DropCause = NfDropCause.Nat;
            r.NatVerdict = v;
            r.DropHook = p.Hook;
            return false;
        }
        NfCtInfo.Fill(ref p.Ct, Conntrack, info, p.TimeNs);
        return true;
    }

    private NatVerdict RangeOf(in XtNatRequest req, ref XtActionParam p, in NfConntrackTuple orig, IpAddr nextHop, out NfNatRange2 range)
    {
        switch (req.Kind)
        {
            case XtNatKind.Masquerade:
                return p.OutDev is null
                    ? Fail(out range)
                    : NfNatTargets.Masquerade(req.Range, orig, Network, p.OutDev, nextHop, out range);
            case XtNatKind.Redirect:
                return NfNatTargets.Redirect(req.Range, p.IsV6, p.Hook, Network, p.InDev, p.Packet.Dst, out range);
            case XtNatKind.Netmap:
                range = NfNatTargets.Netmap(req.Range, p.Hook, p.Packet.Src, p.Packet.Dst);
                return NatVerdict.Accept;
            default:
                range = req.Range;
                return NatVerdict.Accept;
        }

        static NatVerdict Fail(out NfNatRange2 range)
        {
            range = default;
            return NatVerdict.DropNoAddress;
        }
    }

    /// <summary>ip_decrease_ttl / the IPv6 hop limit: the frame's byte and the IPv4 checksum (RFC 1624 incremental), and the decoded view.</summary>
    private static void DecreaseTtl(Span<byte> frame, ref DecodedPacket packet)
    {
        if (packet.Ttl == 0)
            return;
        packet.Ttl--;
        int l3 = packet.L3Offset;
        if (packet.IsIpv4 && frame.Length >= l3 + 12)
        {
            frame[l3 + 8]--;
            uint sum = BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 10)..]) + 0x0100u;
            BinaryPrimitives.WriteUInt16BigEndian(frame[(l3 + 10)..], (ushort)(sum + (sum >> 16)));
        }
        else if (packet.IsIpv6 && frame.Length >= l3 + 8)
        {
            frame[l3 + 7]--;
        }
    }

    // ================================================================ per packet bookkeeping

    /// <summary>A packet's result before any hook: dropped until a path accepts it, untracked, no rule.</summary>
    private static NfHookResult Begin(ref DecodedPacket packet)
    {
        NfHookResult r = default;
        Begin(ref r, ref packet);
        return r;
    }

    /// <summary>
    /// The same, where the result lives (the bridge's field): cleared and filled in place, where an
    /// assignment built the ~300-byte result in a temporary and copied it into the heap through the
    /// bulk write-barrier helper (its strings) once per bridged frame.
    /// </summary>
    private static void Begin(ref NfHookResult r, ref DecodedPacket packet)
    {
        r = default;
        r.Fate = NfFate.Dropped;
        r.DropEntry = -1;
        r.CtEntry = -1;
        r.CtState = CtState.Untracked;
        r.Reject = new XtRejectRecord(default, -1);
        r.TupleBefore = TupleOf(packet);
    }

    /// <summary>
    /// The end of the packet: an entry it created but never confirmed goes with it (the skb is freed
    /// with its unconfirmed ct), releasing any NAT by-source slot it took; the events go to the sink
    /// and to the NAT bookkeeping.
    /// </summary>
    private void End(ref XtActionParam p, ref NfHookResult r)
    {
        r.TupleAfter = TupleOf(p.Packet);
        var info = _ctinfo;
        r.CtState = info.State;
        r.CtDirection = info.Direction;
        if (info.HasEntry)
        {
            ref NfConn ct = ref Conntrack[info.Entry];
            if (!ct.IsConfirmed)
            {
                if ((ct.Status & (CtStatus.SrcNatDone | CtStatus.DstNatDone)) != 0)
                    NatCore.Destroy(ct.Orig, ct.Reply, ct.Status);
                Nat.Abort(info.Entry, p.TimeNs);
                Conntrack.Abort(info.Entry);
            }
            else
            {
                r.CtEntry = info.Entry;
            }
        }
        var events = Conntrack.Events;
        if (events.Length > 0)
        {
            Nat.OnEvents(events);
            _events?.OnEvents(events);
            Conntrack.ClearEvents();
        }
    }

    /// <summary>The packet as conntrack would see it (ICMP: the id in the source port, as the tuple keeps it).</summary>
    public static NfConntrackTuple TupleOf(in DecodedPacket d)
    {
        bool icmp = d.Protocol is L4Protocol.Icmp or L4Protocol.Icmpv6;
        return new NfConntrackTuple(d.Src, d.Dst, icmp ? d.IcmpId : d.SrcPort, icmp ? (ushort)0 : d.DstPort, d.Protocol, d.IsIpv6,
            icmp ? d.IcmpType : (byte)0, icmp ? d.IcmpCode : (byte)0);
    }

    /// <summary>The nat table's decision, made by the hook before nf_nat_inet_fn asks for it (so the traversal sees the whole frame).</summary>
    private struct PresetLookup(bool has, NfNatRange2 range, int ruleId) : INfNatRuleLookup
    {
        public readonly bool Lookup(NfInetHook hook, in DecodedPacket packet, out NfNatRange2 r, out int id)
        {
            r = range;
            id = ruleId;
            return has;
        }
    }
}
