using PacketDotNet;
using TraceReplay.Host.Ebtables;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Tests.Support;
using static TraceReplay.Tests.Netfilter.Bridge.BridgeHarness;

namespace TraceReplay.Tests.Netfilter.Bridge;

/// <summary>
/// The bridge path joined to the hook graph (NfHost.Bridge), on the docker-host network: docker0
/// (02:42:ac:11:00:01, 172.17.0.1/16) with ports veth1 and veth2, ctr1 (A, 172.17.0.2) behind veth1 and
/// ctr2 (B, 172.17.0.3) behind veth2. Expected values follow br_netfilter_hooks.c: br_nf_pre_routing runs
/// iptables PREROUTING with in = the bridge and physindev = the port; br_nf_forward_ip runs FORWARD with
/// in = out = the bridge and both ports (--physdev-is-bridged); br_nf_post_routing runs POSTROUTING only
/// for frames br_nf_forward_ip saw; a frame going up meets no second PREROUTING (ip_sabotage_in); without
/// bridge-nf-call-iptables the bridge meets no iptables and L3 sees no physdev information.
/// </summary>
public sealed class NfHostBridgeTests
{
    private const string CtrA = "02:42:ac:11:00:02";
    private const string CtrB = "02:42:ac:11:00:03";
    private const string Docker0 = "02:42:ac:11:00:01";

    private const string Rules = """
        *raw
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A PREROUTING -i docker0 -m physdev --physdev-in veth2 -j ACCEPT
        COMMIT
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A PREROUTING -i docker0 -m physdev --physdev-in veth2 -j ACCEPT
        -A POSTROUTING -o docker0 -m physdev --physdev-is-bridged -j ACCEPT
        COMMIT
        *filter
        :INPUT DROP [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -i docker0 -m physdev --physdev-in veth2 ! --physdev-is-bridged -j ACCEPT
        -A FORWARD -i docker0 -o docker0 -m physdev --physdev-in veth2 --physdev-out veth1 --physdev-is-bridged -j ACCEPT
        COMMIT
        """;

    private static NfHost Host(bool callIptables = true, string? ebtables = null, bool thirdPort = false, string rulesText = Rules, bool ipForward = true)
    {
        var net = NetworkConfig.Load(Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot"));
        if (thirdPort)
        {
            var veth3 = new NetDevice { IfIndex = 9, Name = "veth3", Kind = "veth", SlaveKind = "bridge", Master = "docker0", Mac = Mac("02:00:00:00:00:33"), Flags = ["UP"] };
            net = new NetworkConfig(net.Devices.Append(veth3), net.Routes, net.Rules, net.Sysctls);
        }
        net.Sysctls.Set("net.bridge.bridge-nf-call-iptables", callIptables ? "1" : "0");
        net.Sysctls.Set("net.ipv4.ip_forward", ipForward ? "1" : "0");
        net.Sysctls.Set("net.ipv4.conf.all.forwarding", ipForward ? "1" : "0");
        net.Sysctls.Set("net.ipv4.conf.docker0.forwarding", ipForward ? "1" : "0");
        var rules = IptablesParser.Parse(rulesText, "bridge.rules", IptFamily.IPv4);
        Assert.Empty(rules.Warnings);
        return new NfHost(net, rules, null, null, new NfHostOptions { LoadConntrack = false },
            ebtables is null ? null : EbtablesParser.Parse(Table("filter", ebtables), "eb.rules"));
    }

    private static NfHookResult Rx(NfHost host, BrFrame f, string port, long timeNs = Sec) =>
        host.Receive(f.Frame, ref f.Decoded, new NfIngress(port, timeNs));

    private static ulong Packets(NfHost host, string table, string chain, int rule) => host.Counters(IptFamily.IPv4, table, chain, rule).Packets;

    /// <summary>ctr1's gratuitous ARP from veth1: the FDB learns A on veth1 (ARP meets no iptables).</summary>
    private static void LearnA(NfHost host) =>
        Assert.Equal(NfFate.NotIp, Rx(host, Arp(CtrA, Bcast, ArpOperation.Request, "172.17.0.2", "172.17.0.2"), "veth1").Fate);

    [Fact]
    public void A_frame_between_ports_meets_prerouting_forward_and_postrouting_once_each_with_its_ports()
    {
        var host = Host();
        LearnA(host);
        var f = Udp(CtrB, CtrA, "172.17.0.3", "172.17.0.2", dport: 9999);
        byte ttl = f.Frame[14 + 8];
        var r = Rx(host, f, "veth2");

        Assert.Equal((NfFate.Bridged, "docker0", "veth2", "veth1", 1), (r.Fate, r.InDev, r.PhysInDev, r.PhysOutDev, r.BridgeOutPorts));
        Assert.Equal(ttl, f.Frame[14 + 8]); // bridged: no ip_forward, no TTL decrement
        Assert.Equal(r.TupleBefore, r.TupleAfter);
        Assert.True(r.CtEntry >= 0); // confirmed in br_nf_post_routing's POSTROUTING
        Assert.Equal(CtState.New, r.CtState);
        Assert.Equal(1UL, Packets(host, "raw", "PREROUTING", 0));
        Assert.Equal(1UL, Packets(host, "nat", "PREROUTING", 0));
        Assert.Equal(1UL, Packets(host, "filter", "FORWARD", 0));
        Assert.Equal(1UL, Packets(host, "nat", "POSTROUTING", 0));
        Assert.Equal(0UL, Packets(host, "filter", "INPUT", -1));

        // The second datagram of the flow: nat sees only a connection's first packet; raw and filter see each one.
        var again = Udp(CtrB, CtrA, "172.17.0.3", "172.17.0.2", dport: 9999);
        Assert.Equal(NfFate.Bridged, Rx(host, again, "veth2", 2 * Sec).Fate);
        Assert.Equal((2UL, 1UL, 2UL, 1UL), (Packets(host, "raw", "PREROUTING", 0), Packets(host, "nat", "PREROUTING", 0), Packets(host, "filter", "FORWARD", 0), Packets(host, "nat", "POSTROUTING", 0)));
    }

    [Fact]
    public void An_unknown_destination_floods_and_each_copy_meets_forward()
    {
        // br_flood clones to veth1 and veth3 (not back to veth2: hairpin off); br_nf_forward_ip runs per clone:
        // the veth1 copy is accepted by the physdev rule, the veth3 copy falls to FORWARD's policy.
        var host = Host(thirdPort: true);
        var r = Rx(host, Udp(CtrB, "02:42:ac:11:00:09", "172.17.0.3", "172.17.0.9"), "veth2");
        Assert.Equal((NfFate.Bridged, "veth1", 1, BrDecisionName: "Flood"), (r.Fate, r.PhysOutDev, r.BridgeOutPorts, BrDecisionName: r.BridgeDecision.ToString()));
        Assert.Equal(1UL, Packets(host, "filter", "FORWARD", 0));
        Assert.Equal(1UL, Packets(host, "filter", "FORWARD", -1));
        Assert.Equal(1UL, Packets(host, "raw", "PREROUTING", 0)); // PREROUTING runs once, before the FDB decision
    }

    [Fact]
    public void A_destination_learned_on_the_input_port_is_not_sent_back_hairpin_off()
    {
        var host = Host();
        Rx(host, Arp(CtrB, Bcast, ArpOperation.Request, "172.17.0.3", "172.17.0.3"), "veth2");
        var r = Rx(host, Udp("02:42:ac:11:00:04", CtrB, "172.17.0.4", "172.17.0.3"), "veth2");
        Assert.Equal((NfFate.Dropped, NfDropCause.Bridge, "bridge:Hairpin"), (r.Fate, r.DropCause, r.DropDescription()));
        Assert.Equal(0UL, Packets(host, "filter", "FORWARD", 0));
        Assert.Equal(-1, r.CtEntry); // the entry br_nf_pre_routing made was never confirmed: it goes with the frame
    }

    [Fact]
    public void A_frame_for_the_bridge_goes_up_to_input_without_a_second_prerouting()
    {
        var host = Host();
        var r = Rx(host, Icmp(CtrB, Docker0, "172.17.0.3", "172.17.0.1"), "veth2");
        Assert.Equal((NfFate.DeliveredLocally, "docker0", "veth2", 0), (r.Fate, r.InDev, r.PhysInDev, r.BridgeOutPorts));
        Assert.True((r.Path & NfPath.Bridge) != 0 && (r.Path & NfPath.RouteInput) != 0);
        // raw and nat PREROUTING counted once (inside the bridge); INPUT's physdev rule saw physdev-in veth2, not bridged.
        Assert.Equal((1UL, 1UL, 1UL), (Packets(host, "raw", "PREROUTING", 0), Packets(host, "nat", "PREROUTING", 0), Packets(host, "filter", "INPUT", 0)));
        Assert.Equal(0UL, Packets(host, "filter", "FORWARD", 0));
    }

    [Fact]
    public void Without_bridge_nf_call_iptables_the_bridge_meets_no_iptables_and_l3_sees_no_physdev()
    {
        var host = Host(callIptables: false);
        LearnA(host);
        var bridged = Rx(host, Udp(CtrB, CtrA, "172.17.0.3", "172.17.0.2"), "veth2");
        Assert.Equal((NfFate.Bridged, -1), (bridged.Fate, bridged.CtEntry)); // no conntrack either: nothing ran
        Assert.Equal((0UL, 0UL), (Packets(host, "filter", "FORWARD", 0), Packets(host, "filter", "FORWARD", -1)));

        // Up to docker0: an ordinary ip_rcv on the bridge device, where --physdev-in cannot match.
        var up = Rx(host, Icmp(CtrB, Docker0, "172.17.0.3", "172.17.0.1"), "veth2");
        Assert.Equal((NfFate.Dropped, "filter:INPUT:policy"), (up.Fate, up.DropDescription()));
        Assert.Equal(0UL, Packets(host, "raw", "PREROUTING", 0));
    }

    [Fact]
    public void An_ebtables_forward_drop_stops_the_frame_before_iptables_forward()
    {
        // ebtables filter FORWARD (NF_BR_PRI_FILTER_BRIDGED, -200) runs before br_nf_forward_ip (0); PREROUTING
        // (br_nf_pre_routing) already ran, so raw counted it; the unconfirmed entry dies with the frame.
        var host = Host(ebtables: "-A FORWARD -p IPv4 --ip-dst 172.17.0.2 -j DROP");
        LearnA(host);
        var r = Rx(host, Udp(CtrB, CtrA, "172.17.0.3", "172.17.0.2"), "veth2");
        Assert.Equal((NfFate.Dropped, NfDropCause.Bridge, "ebtables:filter:FORWARD:1"), (r.Fate, r.DropCause, r.DropDescription()));
        Assert.Equal((1UL, 0UL, -1), (Packets(host, "raw", "PREROUTING", 0), Packets(host, "filter", "FORWARD", 0), r.CtEntry));
        Assert.Equal(0, host.Conntrack.Count);
    }

    private const string HairpinRules = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A PREROUTING -d 198.51.100.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A FORWARD -i docker0 -o docker0 -m physdev --physdev-in veth2 --physdev-out veth1 --physdev-is-bridged -j ACCEPT
        COMMIT
        """;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_dnat_inside_the_bridge_to_a_station_on_it_is_bridged_to_that_station(bool ipForward)
    {
        // ctr2 connects to the host's published port (198.51.100.1:8080, through its gateway: docker0's MAC);
        // br_nf_pre_routing's DNAT makes it 172.17.0.2:80, whose route leaves by docker0 itself, so
        // br_nf_pre_routing_finish takes the bridged_dnat branch: back into the bridge, out of veth1 to ctr1,
        // through FORWARD with both ports. "Bridged-and-DNAT'ed traffic doesn't require ip_forwarding":
        // with forwarding off ip_route_input fails, and ip_route_output by the bridge is enough.
        var host = Host(rulesText: HairpinRules, ipForward: ipForward);
        Rx(host, Icmp(CtrA, Docker0, "172.17.0.2", "172.17.0.1"), "veth1"); // ctr1 seen: the FDB and the stations learn it
        var syn = Tcp(CtrB, Docker0, "172.17.0.3", "198.51.100.1", 8080);
        var r = Rx(host, syn, "veth2", 2 * Sec);
        Assert.Equal((NfFate.Bridged, "veth2", "veth1"), (r.Fate, r.PhysInDev, r.PhysOutDev));
        Assert.Equal(("172.17.0.2", (ushort)80), (r.TupleAfter.Dst.ToString(), r.TupleAfter.DstPort));
        Assert.Equal(1UL, Packets(host, "filter", "FORWARD", 0));
        Assert.Equal(1UL, Packets(host, "nat", "PREROUTING", 0));
    }

    [Fact]
    public void A_cooked_capture_s_missing_destination_mac_is_inferred_from_packet_type_stations_and_routes()
    {
        // SLL2 keeps only the source MAC. On a port, PACKET_HOST is the port's own address (local in the FDB like
        // the bridge's); PACKET_OTHERHOST is a learned station, or the bridge when the destination is the host's
        // or beyond a gateway (the sender's next hop), or unknown on the link (a MAC no FDB has: flood).
        var host = Host();
        var port = host.Bridges.Port("veth2")!;
        Rx(host, Icmp(CtrA, Docker0, "172.17.0.2", "172.17.0.1"), "veth1"); // ctr1 sends: 172.17.0.2 is at CtrA
        TraceReplay.Capture.Decode.MacAddr Dst(string ip, TraceReplay.Netfilter.Routing.PacketType type)
        {
            var f = Udp(CtrB, CtrA, "172.17.0.3", ip);
            return host.CookedDestination(port, f.Decoded, type);
        }
        Assert.Equal(Mac(Docker0), Dst("172.17.0.1", TraceReplay.Netfilter.Routing.PacketType.Host));
        Assert.Equal(Mac(CtrA), Dst("172.17.0.2", TraceReplay.Netfilter.Routing.PacketType.OtherHost));
        Assert.Equal(Mac(Docker0), Dst("203.0.113.9", TraceReplay.Netfilter.Routing.PacketType.OtherHost));
        Assert.Equal(Mac(Docker0), Dst("198.51.100.1", TraceReplay.Netfilter.Routing.PacketType.OtherHost));
        Assert.Equal(default, Dst("172.17.0.77", TraceReplay.Netfilter.Routing.PacketType.OtherHost));
        Assert.Equal(Mac(Bcast), Dst("172.17.255.255", TraceReplay.Netfilter.Routing.PacketType.Broadcast));
    }

    [Fact]
    public void The_bridged_path_allocates_nothing_per_frame_in_steady_state()
    {
        // A flow both ways between the containers (FDB, stations and the conntrack entry known after the first
        // round) and pings to docker0's address: each frame through br_handle_frame, br_netfilter's three hooks
        // or the way up to INPUT. The frames are re-copied each time, since the hooks may rewrite them.
        var host = Host();
        LearnA(host);
        var frames = new[]
        {
            (Udp(CtrB, CtrA, "172.17.0.3", "172.17.0.2", dport: 9999).Frame, "veth2"),
            (Udp(CtrA, CtrB, "172.17.0.2", "172.17.0.3", sport: 9999, dport: 40000).Frame, "veth1"),
            (Icmp(CtrB, Docker0, "172.17.0.3", "172.17.0.1").Frame, "veth2"),
        };
        var buffer = new byte[256];
        long t = Sec;
        void Round()
        {
            for (int i = 0; i < 1000; i++)
            {
                foreach (var (bytes, port) in frames)
                {
                    bytes.CopyTo(buffer, 0);
                    var span = buffer.AsSpan(0, bytes.Length);
                    TraceReplay.Capture.Decode.PacketDecoder.Decode(span, TraceReplay.Capture.LinkType.Ethernet, bytes.Length, out var d);
                    host.Receive(span, ref d, new NfIngress(port, t += 1000));
                }
            }
        }
        // Bridged by the physdev rule; the other way FORWARD's policy drops (Rules accepts veth2 → veth1 only); up to INPUT.
        var fates = frames.Select(f => Rx(host, new BrFrame((byte[])f.Frame.Clone()), f.Item2, t += 1000).Fate).ToArray();
        Assert.Equal([NfFate.Bridged, NfFate.Dropped, NfFate.DeliveredLocally], fates);
        Round();
        Assert.Equal(0, Allocations.Quietest(Round));
    }

    private static BrFrame Tcp(string src, string dst, string ipSrc, string ipDst, ushort dport)
    {
        var tcp = new TcpPacket(40000, dport) { Synchronize = true, WindowSize = 1000, SequenceNumber = 1 };
        var ip = new IPv4Packet(System.Net.IPAddress.Parse(ipSrc), System.Net.IPAddress.Parse(ipDst)) { TimeToLive = 64, PayloadPacket = tcp };
        ip.UpdateCalculatedValues();
        tcp.UpdateTcpChecksum();
        ip.UpdateIPChecksum();
        return new BrFrame(new EthernetPacket(System.Net.NetworkInformation.PhysicalAddress.Parse(src.Replace(':', '-').ToUpperInvariant()),
            System.Net.NetworkInformation.PhysicalAddress.Parse(dst.Replace(':', '-').ToUpperInvariant()), EthernetType.IPv4) { PayloadPacket = ip }.Bytes);
    }
}
