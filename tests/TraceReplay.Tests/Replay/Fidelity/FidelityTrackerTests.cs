using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Readers;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Replay.Fidelity;

namespace TraceReplay.Tests.Replay.Fidelity;

/// <summary>
/// Each outcome of the observed-versus-predicted check, from a hand-made prediction and sightings. The
/// host: eth0 and wan0 are NICs, br0 a bridge with ports p1 and p2; the capture covers eth0, wan0, p1
/// and p2 unless a test says otherwise. The window is 100 ms: a packet is decided once 100 ms passed
/// after its last sighting.
/// </summary>
public sealed class FidelityTrackerTests
{
    private const long Ms = 1_000_000;
    private static readonly IpAddr A = IpAddr.Parse("192.168.1.10"), B = IpAddr.Parse("198.51.100.7"), Wan = IpAddr.Parse("203.0.113.1");

    private static NfConntrackTuple Tcp(IpAddr src, ushort sport, IpAddr dst, ushort dport) => new(src, dst, sport, dport, L4Protocol.Tcp, false, 0, 0);

    private static FidelityTracker Tracker(bool all = false) =>
        new(new FidelityCoverage(all, ["eth0", "wan0", "p1", "p2"]), dev => dev is "p1" or "p2" ? "br0" : null, 100 * Ms);

    private static NfHookResult Forwarded(string outDev, NfConntrackTuple after) => new() { Fate = NfFate.Forwarded, OutDev = outDev, TupleBefore = after, TupleAfter = after };

    private static List<(long Sighting, FidelityOutcome Outcome)> Finish(FidelityTracker t)
    {
        var list = new List<(long, FidelityOutcome)>();
        t.Finish((s, o) => list.Add((s, o)));
        return list;
    }

    [Fact]
    public void Seen_leaving_by_the_predicted_interface_with_the_predicted_tuple_is_explained()
    {
        // MASQUERADE: 192.168.1.10:40000 > 198.51.100.7:80 leaves wan0 as 203.0.113.1:40000; the capture saw exactly that.
        var t = Tracker();
        var after = Tcp(Wan, 40000, B, 80);
        t.Predict(1, 1, 0, Forwarded("wan0", after));
        Assert.Equal(FidelityOutcome.Explained, t.Observe(1, "wan0", PacketDirection.Outgoing, after, 10_000));
        Assert.Equal([(1L, FidelityOutcome.Explained)], Finish(t));
        var s = t.Summary();
        Assert.Equal(1, s.ObservedEgress);
        Assert.Equal(1, s.Explained);
        Assert.Equal(0, s.Unexplained);
    }

    [Fact]
    public void Incoming_later_sightings_say_nothing()
    {
        // A packet seen again arriving (on a bridge port, then the bridge) is not an egress: NULL for that row.
        var t = Tracker();
        t.Predict(1, 1, 0, Forwarded("wan0", Tcp(Wan, 40000, B, 80)));
        Assert.Equal(FidelityOutcome.None, t.Observe(1, "br0", PacketDirection.Incoming, Tcp(A, 40000, B, 80), 5_000));
    }

    [Fact]
    public void The_same_addresses_with_another_port_is_a_nat_port_difference_counted_apart()
    {
        // The kernel's port search (nf_nat_l4proto_unique_tuple) starts at a random offset when the port clashes:
        // the capture shows 203.0.113.1:51234 where the simulation chose 40000. Not unexplained.
        var t = Tracker();
        t.Predict(1, 1, 0, Forwarded("wan0", Tcp(Wan, 40000, B, 80)));
        Assert.Equal(FidelityOutcome.NatPortDiffers, t.Observe(1, "wan0", PacketDirection.Outgoing, Tcp(Wan, 51234, B, 80), 1000));
        Assert.Equal([(1L, FidelityOutcome.NatPortDiffers)], Finish(t));
        var s = t.Summary();
        Assert.Equal(1, s.NatPortDiffers);
        Assert.Equal(0, s.Unexplained);
        Assert.Equal(0, s.Explained);
    }

    [Fact]
    public void Another_address_is_a_nat_difference()
    {
        // Left unchanged by the kernel (no SNAT) where the simulation masqueraded: an address differs.
        var t = Tracker();
        t.Predict(1, 1, 0, Forwarded("wan0", Tcp(Wan, 40000, B, 80)));
        Assert.Equal(FidelityOutcome.NatOtherDiffers, t.Observe(1, "wan0", PacketDirection.Outgoing, Tcp(A, 40000, B, 80), 1000));
        Finish(t);
        Assert.Equal(1, t.Summary().NatOtherDiffers);
        Assert.Equal(1, t.Summary().Unexplained);
    }

    [Fact]
    public void Seen_leaving_though_predicted_dropped()
    {
        var t = Tracker();
        t.Predict(1, 1, 0, new NfHookResult { Fate = NfFate.Dropped, TupleBefore = Tcp(A, 1, B, 2), TupleAfter = Tcp(A, 1, B, 2) });
        Assert.Equal(FidelityOutcome.SeenThoughDropped, t.Observe(1, "wan0", PacketDirection.Outgoing, Tcp(A, 1, B, 2), 1000));
        Assert.Equal([(1L, FidelityOutcome.SeenThoughDropped)], Finish(t));
        Assert.Single(t.Summary().Examples);
    }

    [Fact]
    public void Seen_leaving_by_another_interface()
    {
        var t = Tracker();
        var after = Tcp(A, 1, B, 2);
        t.Predict(1, 1, 0, Forwarded("wan0", after));
        Assert.Equal(FidelityOutcome.OtherInterface, t.Observe(1, "eth0", PacketDirection.Outgoing, after, 1000));
        Assert.Equal([(1L, FidelityOutcome.OtherInterface)], Finish(t));
    }

    [Fact]
    public void An_explained_sighting_outranks_a_wrong_one_of_the_same_packet()
    {
        // Routed out of br0: the capture sees it on br0 and on the port the FDB chose; a copy elsewhere does not undo that.
        var t = Tracker();
        var after = Tcp(A, 1, B, 2);
        t.Predict(7, 3, 0, Forwarded("br0", after));
        Assert.Equal(FidelityOutcome.OtherInterface, t.Observe(3, "eth0", PacketDirection.Outgoing, after, 1000));
        Assert.Equal(FidelityOutcome.Explained, t.Observe(3, "p2", PacketDirection.Outgoing, after, 2000)); // a port of the predicted bridge
        Assert.Equal([(7L, FidelityOutcome.Explained)], Finish(t));
    }

    [Fact]
    public void Predicted_egress_on_a_captured_interface_never_seen_is_decided_when_the_window_closes()
    {
        var t = Tracker();
        t.Predict(1, 1, 0, Forwarded("wan0", Tcp(Wan, 40000, B, 80)));
        var decided = new List<(long, FidelityOutcome)>();
        t.Advance(100 * Ms, (s, o) => decided.Add((s, o))); // exactly the window: a sighting now would still join
        Assert.Empty(decided);
        t.Advance(100 * Ms + 1, (s, o) => decided.Add((s, o)));
        Assert.Equal([(1L, FidelityOutcome.PredictedUnseen)], decided);
        Assert.Equal(1, t.Summary().PredictedUnseen);
        Assert.Equal(0, t.Summary().ObservedEgress);
    }

    [Fact]
    public void Predicted_egress_on_an_interface_the_capture_does_not_cover_is_not_applicable()
    {
        // Only eth0, wan0, p1, p2 were captured; a packet routed out of tun0 cannot be checked.
        var t = Tracker();
        t.Predict(1, 1, 0, Forwarded("tun0", Tcp(A, 1, B, 2)));
        Assert.Equal([(1L, FidelityOutcome.NotApplicable)], Finish(t));

        // `tcpdump -i any` covers every interface: the same packet is then predicted and unseen.
        var any = Tracker(all: true);
        any.Predict(1, 1, 0, Forwarded("tun0", Tcp(A, 1, B, 2)));
        Assert.Equal([(1L, FidelityOutcome.PredictedUnseen)], Finish(any));
    }

    [Fact]
    public void Delivered_locally_or_dropped_and_not_seen_leaving_is_not_applicable()
    {
        var t = Tracker();
        t.Predict(1, 1, 0, new NfHookResult { Fate = NfFate.DeliveredLocally });
        t.Predict(2, 2, 0, new NfHookResult { Fate = NfFate.Dropped });
        Assert.Equal([(1L, FidelityOutcome.NotApplicable), (2L, FidelityOutcome.NotApplicable)], Finish(t));
        Assert.Equal(0, t.Summary().ObservedEgress);
    }

    [Fact]
    public void A_multicast_frame_passed_up_is_explained_on_the_port_the_bridge_sent_it_out_of()
    {
        // br_handle_frame_finish: a multicast frame is forwarded to the other port and passed up at once;
        // its copy out of p2 is predicted even though IP delivered it locally, one out of p1 (its input port) is not.
        var t = Tracker();
        var tuple = new NfConntrackTuple(A, IpAddr.Parse("ff02::16"), 0, 0, 58, true, 143, 0);
        var r = new NfHookResult { Fate = NfFate.DeliveredLocally, Path = NfPath.Bridge, InDev = "br0", PhysInDev = "p1", PhysOutDev = "p2", BridgeOutPorts = 1, TupleBefore = tuple, TupleAfter = tuple };
        t.Predict(1, 1, 0, r);
        Assert.Equal(FidelityOutcome.Explained, t.Observe(1, "p2", PacketDirection.Outgoing, tuple, 1000));
        t.Predict(2, 2, 0, r with { });
        Assert.Equal(FidelityOutcome.OtherInterface, t.Observe(2, "p1", PacketDirection.Outgoing, tuple, 1000));
    }

    [Fact]
    public void Memory_holds_one_window()
    {
        // 10,000 packets 1 ms apart, each decided 100 ms after it: never more than ~101 pending.
        var t = Tracker();
        int decided = 0;
        for (int i = 0; i < 10_000; i++)
        {
            t.Advance(i * Ms, (_, _) => decided++);
            t.Predict(i + 1, i + 1, i * Ms, new NfHookResult { Fate = NfFate.DeliveredLocally });
            Assert.True(i + 1 - decided <= 101);
        }
    }
    [Fact]
    public void Deciding_explained_packets_allocates_nothing_once_the_window_is_sized()
    {
        // The per-packet path of a replay: predict, observe leaving as predicted, decide when the window closes.
        // Words are made only for the few examples kept; an explained packet costs no allocation (it cost a
        // ~360-byte detail string each before, thrown away).
        var t = Tracker();
        var after = Tcp(Wan, 40000, B, 80);
        var hook = Forwarded("wan0", after);
        long now = 0;
        Action<long, FidelityOutcome> decided = static (_, _) => { };
        void Round()
        {
            for (int i = 0; i < 1000; i++)
            {
                now += 1000;
                t.Predict(i, i, now, hook);
                t.Observe(i, "wan0", PacketDirection.Outgoing, after, now + 10);
            }
            now += 200 * Ms;
            t.Advance(now, decided);
        }
        Round(); // sizes the tables to one window of packets
        Assert.Equal(0, Support.Allocations.Quietest(Round));
        // Every packet of every round was decided and counted explained (the sizing round plus at least one measured).
        long explained = t.Summary().Explained;
        Assert.True(explained >= 2000 && explained % 1000 == 0, $"{explained} explained");
    }
}
