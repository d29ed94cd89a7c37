using TraceReplay.Netfilter.Bridge;
using TraceReplay.Tests.Support;
using static TraceReplay.Tests.Netfilter.Bridge.BridgeHarness;

namespace TraceReplay.Tests.Netfilter.Bridge;

/// <summary>
/// The bridge decision without rules (br_input.c br_handle_frame_finish, br_forward.c, br_fdb.c):
/// what a switch does — learn source MACs per port, forward known unicast to its port, flood unknown
/// unicast/broadcast/multicast to every port but the input, hand frames for the bridge's or a port's
/// own MAC up, never send back out of the input port (hairpin off), forget stations after ageing_time.
/// </summary>
public sealed class BridgeDecisionTests
{
    private static string[] Sent(BridgeDecision d) => d.Egress.ToArray().Where(e => e.Sent).Select(e => e.Port.Name).Order().ToArray();

    [Fact]
    public void Ports_come_from_the_network_model()
    {
        var d = Decision();
        var br = Assert.Single(d.Bridges);
        Assert.Equal("br0", br.Name);
        Assert.Equal(["veth0", "veth1", "veth2"], br.Ports.Select(p => p.Name));
        Assert.Null(d.Port("eth0"));
        Assert.Equal("veth1", d.Port(5)!.Name);

        // The bridge's and the ports' own addresses are local FDB entries from the start (br_fdb_add_local).
        Assert.Equal(4, br.Fdb.Count);
        Assert.All(br.Fdb.Entries(), e => Assert.True(e.Entry.IsLocal));
    }

    [Fact]
    public void Unknown_unicast_floods_then_learned_stations_are_forwarded_to_their_port()
    {
        var d = Decision();
        var ab = Udp(A, B);
        var r = d.Receive("veth0", ref ab.Decoded, ab.Frame, 1 * Sec);
        Assert.Equal(BrDecision.Flood, r.Decision);
        Assert.False(r.UpToBridge); // unknown unicast is not for us (local_rcv stays false)
        Assert.Equal(["veth1", "veth2"], Sent(d));
        Assert.Equal(3, r.PktType); // PACKET_OTHERHOST: not the port's nor the bridge's address

        var ba = Udp(B, A);
        r = d.Receive("veth1", ref ba.Decoded, ba.Frame, 2 * Sec);
        Assert.Equal(BrDecision.Forward, r.Decision);
        Assert.Equal(["veth0"], Sent(d));

        r = d.Receive("veth0", ref ab.Decoded, ab.Frame, 3 * Sec);
        Assert.Equal(BrDecision.Forward, r.Decision);
        Assert.Equal(["veth1"], Sent(d));
    }

    [Fact]
    public void Broadcast_and_multicast_flood_and_go_up()
    {
        var d = Decision();
        var bc = Arp(A, Bcast, PacketDotNet.ArpOperation.Request, "10.0.0.1", "10.0.0.2");
        var r = d.Receive("veth2", ref bc.Decoded, bc.Frame, Sec);
        Assert.Equal((BrDecision.Flood, true, (byte)1), (r.Decision, r.UpToBridge, r.PktType));
        Assert.Equal(["veth0", "veth1"], Sent(d));

        var mc = Udp(A, "01:00:5e:00:00:fb", ipDst: "224.0.0.251");
        r = d.Receive("veth0", ref mc.Decoded, mc.Frame, Sec);
        Assert.Equal((BrDecision.Flood, true, (byte)2), (r.Decision, r.UpToBridge, r.PktType));
        Assert.Equal(["veth1", "veth2"], Sent(d));
    }

    [Theory]
    [InlineData(BrMac, 0)]
    [InlineData("02:00:00:00:00:11", 3)]
    public void Frames_for_the_bridge_or_a_port_go_up_via_the_bridge(string dst, byte pktType)
    {
        var d = Decision();
        var f = Udp(A, dst);
        var r = d.Receive("veth0", ref f.Decoded, f.Frame, Sec);
        Assert.Equal((BrDecision.Local, true, 0), (r.Decision, r.UpToBridge, r.EgressCount));
        // br_handle_frame sets PACKET_HOST for the bridge's address; another port's address is
        // PACKET_OTHERHOST to eth_type_trans on the input port, yet its local FDB entry sends it up.
        Assert.Equal(pktType, r.PktType);
    }

    [Fact]
    public void Hairpin_off_never_sends_back_out_of_the_input_port()
    {
        var d = Decision();
        var fromB = Udp(B, C);
        d.Receive("veth0", ref fromB.Decoded, fromB.Frame, Sec); // B learned on veth0
        var ab = Udp(A, B);
        var r = d.Receive("veth0", ref ab.Decoded, ab.Frame, 2 * Sec);
        Assert.Equal(BrDecision.Forward, r.Decision);
        var e = Assert.Single(d.Egress.ToArray());
        Assert.Equal(("veth0", false, BrStage.Hairpin), (e.Port.Name, e.Sent, e.Outcome.Stage));

        // Unknown unicast floods everywhere but the input port.
        var ac = Udp(A, "02:aa:00:00:00:99");
        d.Receive("veth0", ref ac.Decoded, ac.Frame, 2 * Sec);
        Assert.DoesNotContain("veth0", Sent(d));

        // With hairpin mode on (BR_HAIRPIN_MODE) the port gets it back.
        d.Port("veth0")!.Hairpin = true;
        d.Receive("veth0", ref ab.Decoded, ab.Frame, 3 * Sec);
        Assert.Equal(["veth0"], Sent(d));
    }

    [Fact]
    public void Entries_age_out_after_the_ageing_time_on_the_capture_clock()
    {
        var d = Decision();
        var ba = Udp(B, A);
        long t0 = 1_700_000_000 * Sec;
        d.Receive("veth1", ref ba.Decoded, ba.Frame, t0);
        var ab = Udp(A, B);

        // has_expired: updated + hold_time <= jiffies; 300 s is 75000 jiffies at HZ 250, so the last
        // jiffy before 300 s still finds B and 300 s exactly does not.
        Assert.Equal(BrDecision.Forward, d.Receive("veth0", ref ab.Decoded, ab.Frame, t0 + (300 * Sec) - (4 * 1_000_000)).Decision);
        Assert.Equal(BrDecision.Flood, d.Receive("veth2", ref ab.Decoded, ab.Frame, t0 + (300 * Sec)).Decision);
        Assert.Equal(["veth0", "veth1"], Sent(d));

        // A frame from B refreshes the entry (br_fdb_update sets updated = now).
        d.Receive("veth1", ref ba.Decoded, ba.Frame, t0 + (400 * Sec));
        Assert.Equal(BrDecision.Forward, d.Receive("veth0", ref ab.Decoded, ab.Frame, t0 + (699 * Sec)).Decision);

        var br = d.Bridge("br0")!;
        int before = br.Fdb.Count;
        Assert.Equal(2, br.Fdb.Cleanup(t0 + (1000 * Sec))); // A and B; local entries never age
        Assert.Equal(before - 2, br.Fdb.Count);
    }

    [Fact]
    public void A_station_that_moves_is_learned_on_its_new_port()
    {
        var d = Decision();
        var ba = Udp(B, A);
        d.Receive("veth1", ref ba.Decoded, ba.Frame, Sec);
        d.Receive("veth2", ref ba.Decoded, ba.Frame, 2 * Sec);
        var ab = Udp(A, B);
        d.Receive("veth0", ref ab.Decoded, ab.Frame, 3 * Sec);
        Assert.Equal(["veth2"], Sent(d));
    }

    [Fact]
    public void Own_address_as_source_does_not_move_the_local_entry()
    {
        var d = Decision();
        var spoof = Udp(BrMac, A);
        d.Receive("veth1", ref spoof.Decoded, spoof.Frame, Sec);
        Assert.True(d.Bridge("br0")!.Fdb.Find(Mac(BrMac), Sec, out var e));
        Assert.Equal((-1, true), (e.Port, e.IsLocal));
    }

    [Fact]
    public void Invalid_source_is_dropped_before_any_hook_and_non_ports_are_not_bridged()
    {
        var d = Decision();
        var bad = Udp("01:00:5e:00:00:01", B);
        var r = d.Receive("veth0", ref bad.Decoded, bad.Frame, Sec);
        Assert.Equal((BrDecision.Dropped, BrStage.InvalidSource), (r.Decision, r.Drop.Stage));

        var f = Udp(A, B);
        Assert.Equal(BrDecision.NotBridged, d.Receive("eth0", ref f.Decoded, f.Frame, Sec).Decision);
    }

    [Fact]
    public void Transmit_from_the_bridge_device_uses_the_fdb_without_learning()
    {
        var d = Decision();
        var ba = Udp(B, A);
        d.Receive("veth1", ref ba.Decoded, ba.Frame, Sec);
        var fromHost = Udp(BrMac, B);
        var r = d.Transmit(d.Bridge("br0")!, ref fromHost.Decoded, fromHost.Frame, 2 * Sec);
        Assert.Equal(BrDecision.Forward, r.Decision);
        Assert.Equal(["veth1"], Sent(d));
        var unknown = Udp(BrMac, C);
        d.Transmit(d.Bridge("br0")!, ref unknown.Decoded, unknown.Frame, 2 * Sec);
        Assert.Equal(["veth0", "veth1", "veth2"], Sent(d));
    }

    [Fact]
    public void The_decision_allocates_nothing_per_frame()
    {
        var d = Decision(Table("filter", "-A FORWARD -p IPv4 --ip-proto udp --ip-dport 53 -j mark --mark-set 0x1 --mark-target CONTINUE\n-A FORWARD --mark 0x2 -j DROP")
            + Table("nat", "-A POSTROUTING -o veth2 -j snat --to-src 02:00:00:00:00:99"));
        var ab = Udp(A, B);
        var ba = Udp(B, A);
        var bc = Udp(A, Bcast);
        int sent = 0, rounds = 0;
        void Round()
        {
            rounds++;
            for (int i = 0; i < 2_000; i++)
            {
                long t = i * 1_000_000L;
                d.Receive("veth0", ref ab.Decoded, ab.Frame, t);
                d.Receive("veth1", ref ba.Decoded, ba.Frame, t);
                sent += d.Receive("veth0", ref bc.Decoded, bc.Frame, t).EgressCount;
            }
        }
        Round();
        Assert.Equal(0, Allocations.Quietest(Round));
        Assert.Equal(2 * 2_000 * rounds, sent);
    }
}
