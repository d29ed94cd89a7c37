using TraceReplay.Tests.Support;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;

namespace TraceReplay.Tests.Netfilter.Nat;

/// <summary>
/// A stand-in conntrack table for the NAT core: the tuples of confirmed connections, both directions,
/// as nf_conntrack_tuple_taken looks them up. <see cref="Confirm"/> adds a set-up connection.
/// </summary>
internal sealed class FakeConntrack
{
    private readonly HashSet<NfConntrackTuple> _tuples = [];

    public int Lookups { get; private set; }

    public void Confirm(in NfConntrackTuple original, in NfConntrackTuple reply)
    {
        _tuples.Add(original);
        _tuples.Add(reply);
    }

    public void Remove(in NfConntrackTuple original, in NfConntrackTuple reply)
    {
        _tuples.Remove(original);
        _tuples.Remove(reply);
    }

    public bool IsTaken(in NfConntrackTuple t)
    {
        Lookups++;
        return _tuples.Contains(t);
    }

    public Taken AsTaken() => new(this);

    public readonly struct Taken(FakeConntrack table) : INfConntrackTupleTaken
    {
        public bool IsTaken(in NfConntrackTuple reply) => table.IsTaken(reply);
    }
}

/// <summary>
/// get_unique_tuple and nf_nat_setup_info (nf_nat_core.c). Where a test says "witnessed", the
/// expectation was read from a Linux 6.18 kernel: three network namespaces (client 10.0.1.2–9 on
/// veth, router with 10.0.1.1 and 192.0.2.1, server 192.0.2.2), the rules loaded with
/// iptables-restore in the router, UDP sent with Python sockets from the client, and the
/// router's `conntrack -L` read back; the namespaces were deleted afterwards.
/// </summary>
public sealed class NatCoreTests
{
    private static IpAddr Ip(string s) => IpAddr.Parse(s);

    private static NfConntrackTuple Udp(string src, ushort sport, string dst, ushort dport) =>
        new(Ip(src), Ip(dst), sport, dport, NfNatTuple.Udp, IsV6: false);

    private static NfNatRange2 SnatTo(string min, string max, NfNatRangeFlags extra = NfNatRangeFlags.None) =>
        new(NfNatRangeFlags.MapIps | extra, Ip(min), Ip(max), 0, 0, 0);

    private static NfNatRange2 ToPorts(string addr, ushort min, ushort max, NfNatRangeFlags extra = NfNatRangeFlags.None) =>
        new(NfNatRangeFlags.MapIps | NfNatRangeFlags.ProtoSpecified | extra, Ip(addr), Ip(addr), min, max, 0);

    /// <summary>A new connection as conntrack would hand it to NAT: reply = inverse of original, no status.</summary>
    private static (NatVerdict Verdict, NfConntrackTuple Reply, CtStatus Status) Setup(NfNatCore core, FakeConntrack ct, NfConntrackTuple original,
        in NfNatRange2 range, NfNatManipType manip, bool confirm = true)
    {
        var reply = NfNatTuple.Invert(original);
        var status = CtStatus.None;
        var taken = ct.AsTaken();
        var verdict = core.SetupInfo(ref taken, original, ref reply, ref status, range, manip);
        if (verdict == NatVerdict.Accept && confirm)
            ct.Confirm(original, reply);
        return (verdict, reply, status);
    }

    [Fact]
    public void Address_range_choice_is_the_kernels_jhash_witnessed()
    {
        // Witnessed: -j SNAT --to-source 192.0.2.10-192.0.2.13, UDP from 10.0.1.N:41N to 192.0.2.2:5001.
        // The choice depends only on the addresses (find_best_ips_proto), so the kernel's answer is ours exactly.
        (string Client, string Chosen)[] seen =
        [
            ("10.0.1.2", "192.0.2.11"), ("10.0.1.3", "192.0.2.12"), ("10.0.1.4", "192.0.2.12"), ("10.0.1.5", "192.0.2.10"),
            ("10.0.1.6", "192.0.2.11"), ("10.0.1.7", "192.0.2.11"), ("10.0.1.8", "192.0.2.10"), ("10.0.1.9", "192.0.2.11"),
        ];
        // Witnessed with --persistent (the destination is left out of the hash).
        (string Client, string Chosen)[] persistent =
        [
            ("10.0.1.2", "192.0.2.13"), ("10.0.1.3", "192.0.2.12"), ("10.0.1.4", "192.0.2.13"), ("10.0.1.5", "192.0.2.12"),
            ("10.0.1.6", "192.0.2.12"), ("10.0.1.7", "192.0.2.11"), ("10.0.1.8", "192.0.2.11"), ("10.0.1.9", "192.0.2.10"),
        ];
        var core = new NfNatCore();
        var ct = new FakeConntrack();
        ushort port = 4100;
        foreach (var (client, chosen) in seen)
        {
            var (verdict, reply, status) = Setup(core, ct, Udp(client, port++, "192.0.2.2", 5001), SnatTo("192.0.2.10", "192.0.2.13"), NfNatManipType.Src);
            Assert.Equal(NatVerdict.Accept, verdict);
            Assert.Equal(Ip(chosen), reply.Dst);
            Assert.Equal(CtStatus.SrcNat | CtStatus.SrcNatDone, status);
        }
        foreach (var (client, chosen) in persistent)
        {
            var (_, reply, _) = Setup(core, ct, Udp(client, port++, "192.0.2.2", 5002), SnatTo("192.0.2.10", "192.0.2.13", NfNatRangeFlags.Persistent), NfNatManipType.Src);
            Assert.Equal(Ip(chosen), reply.Dst);
        }
    }

    [Fact]
    public void Ipv6_address_range_choice_stays_in_range_and_is_stable()
    {
        // find_best_ips_proto over four words: the result is within min..max while the high words agree,
        // and the same client/server pair always gets the same address.
        var range = new NfNatRange2(NfNatRangeFlags.MapIps, Ip("2001:db8::10"), Ip("2001:db8::1f"), 0, 0, 0);
        for (int i = 1; i < 50; i++)
        {
            var t = new NfConntrackTuple(Ip($"fd00::{i:x}"), Ip("2001:db8:1::1"), 1000, 80, NfNatTuple.Tcp, IsV6: true);
            var a = t;
            var b = t;
            NfNatCore.FindBestIpsProto(ref a, range, NfNatManipType.Src);
            NfNatCore.FindBestIpsProto(ref b, range, NfNatManipType.Src);
            Assert.Equal(a, b);
            Assert.True(a.Src.CompareTo(range.MinAddr) >= 0 && a.Src.CompareTo(range.MaxAddr) <= 0, a.Src.ToString());
        }
    }

    [Fact]
    public void Unique_source_is_kept_and_a_clash_searches_the_same_port_class_witnessed()
    {
        // Witnessed: -j SNAT --to-source 192.0.2.20; the first of two clients keeps its port, the
        // second (same port, same server) was moved: 4300 → 2209, 100 → 114, 700 → 707. The kernel
        // keeps the class (nf_nat_l4proto_unique_tuple: 1–511, 600–1023, 1024–65535); the exact
        // port comes from get_random_u16, so only the class is compared.
        foreach (ulong seed in new ulong[] { 1, 2, 3, 42, 1000 })
        {
            var core = new NfNatCore(seed);
            var ct = new FakeConntrack();
            var range = SnatTo("192.0.2.20", "192.0.2.20");
            foreach (var (port, lo, hi) in new (ushort, int, int)[] { (4300, 1024, 65535), (100, 1, 511), (700, 600, 1023) })
            {
                var first = Setup(core, ct, Udp("10.0.1.2", port, "192.0.2.2", 5003), range, NfNatManipType.Src);
                Assert.Equal(port, first.Reply.DstPort);
                var second = Setup(core, ct, Udp("10.0.1.3", port, "192.0.2.2", 5003), range, NfNatManipType.Src);
                Assert.Equal(NatVerdict.Accept, second.Verdict);
                Assert.NotEqual(port, second.Reply.DstPort);
                Assert.InRange(second.Reply.DstPort, lo, hi);
                Assert.Equal(Ip("192.0.2.20"), second.Reply.Dst);
            }
        }
    }

    [Fact]
    public void Dnat_port_range_is_searched_from_its_start_witnessed()
    {
        // Witnessed: -j DNAT --to-destination 192.0.2.2:8000-8010 for 10.0.1.2:5000 → .99:6001, → .99:6002
        // and → .98:6002 gave 8000, 8001, 8002: without --random a DST search starts at offset 0
        // (nf_nat_l4proto_unique_tuple, kernel 6.x), and the same client port makes them clash.
        var core = new NfNatCore();
        var ct = new FakeConntrack();
        var range = ToPorts("192.0.2.2", 8000, 8010);
        ushort[] expected = [8000, 8001, 8002];
        (string Dst, ushort DPort)[] conns = [("192.0.2.99", 6001), ("192.0.2.99", 6002), ("192.0.2.98", 6002)];
        for (int i = 0; i < conns.Length; i++)
        {
            var (verdict, reply, status) = Setup(core, ct, Udp("10.0.1.2", 5000, conns[i].Dst, conns[i].DPort), range, NfNatManipType.Dst);
            Assert.Equal(NatVerdict.Accept, verdict);
            Assert.Equal(Ip("192.0.2.2"), reply.Src);
            Assert.Equal(expected[i], reply.SrcPort);
            Assert.Equal(CtStatus.DstNat | CtStatus.DstNatDone, status);
        }
        // Witnessed: a destination port already in the range is kept (8006 → 8006), else the range start (6003 → 8005).
        Assert.Equal(8006, Setup(core, ct, Udp("10.0.1.2", 5003, "192.0.2.99", 8006), ToPorts("192.0.2.2", 8005, 8010), NfNatManipType.Dst).Reply.SrcPort);
        Assert.Equal(8005, Setup(core, ct, Udp("10.0.1.2", 5002, "192.0.2.99", 6003), ToPorts("192.0.2.2", 8005, 8010), NfNatManipType.Dst).Reply.SrcPort);
    }

    [Fact]
    public void Source_reuses_its_existing_mapping_witnessed()
    {
        // Witnessed: 10.0.1.4:4000 → :5001 was moved to 192.0.2.12:4442 (a clash with 10.0.1.3); its next
        // connection, to :5002, got 192.0.2.12:4442 again (find_appropriate_src), not a fresh choice.
        var core = new NfNatCore();
        var ct = new FakeConntrack();
        var range = SnatTo("192.0.2.10", "192.0.2.13");
        var first = Setup(core, ct, Udp("10.0.1.3", 4000, "192.0.2.2", 5001), range, NfNatManipType.Src);
        Assert.Equal(Ip("192.0.2.12"), first.Reply.Dst);
        var moved = Setup(core, ct, Udp("10.0.1.4", 4000, "192.0.2.2", 5001), range, NfNatManipType.Src);
        Assert.Equal(Ip("192.0.2.12"), moved.Reply.Dst);
        Assert.NotEqual((ushort)4000, moved.Reply.DstPort);
        var again = Setup(core, ct, Udp("10.0.1.4", 4000, "192.0.2.2", 5002), range, NfNatManipType.Src);
        Assert.Equal(moved.Reply.Dst, again.Reply.Dst);
        Assert.Equal(moved.Reply.DstPort, again.Reply.DstPort);
        Assert.Equal(3, core.BySourceCount);

        // Once the moved connection is gone, its mapping is no longer offered.
        core.Destroy(Udp("10.0.1.4", 4000, "192.0.2.2", 5001), moved.Reply, moved.Status);
        core.Destroy(Udp("10.0.1.4", 4000, "192.0.2.2", 5002), again.Reply, again.Status);
        Assert.Equal(1, core.BySourceCount);
    }

    [Fact]
    public void Exhausted_range_drops_no_free_port()
    {
        // Four ports, four connections to one server from one client address: the fifth finds every
        // tuple taken (nf_nat_l4proto_unique_tuple gives up) and the kernel drops it at confirm.
        var core = new NfNatCore();
        var ct = new FakeConntrack();
        var range = ToPorts("198.51.100.1", 1000, 1003);
        for (ushort p = 2000; p < 2004; p++)
            Assert.Equal(NatVerdict.Accept, Setup(core, ct, Udp("10.0.0.2", p, "203.0.113.9", 53), range, NfNatManipType.Src).Verdict);
        int before = ct.Lookups;
        var (verdict, _, status) = Setup(core, ct, Udp("10.0.0.2", 2004, "203.0.113.9", 53), range, NfNatManipType.Src);
        Assert.Equal(NatVerdict.DropNoFreeTuple, verdict);
        Assert.Equal(CtStatus.None, status);
        Assert.Equal(0, core.BySourceCount - 4);
        // Range 4 < 16: one round of at most 4 tries, plus the checks before the search (kept port, best port, final).
        Assert.InRange(ct.Lookups - before, 4, 8);

        // A single-port range is taken as is and its clash too is left to confirm.
        var one = ToPorts("198.51.100.1", 1000, 1000);
        Assert.Equal(NatVerdict.DropNoFreeTuple, Setup(core, ct, Udp("10.0.0.3", 2000, "203.0.113.9", 53), one, NfNatManipType.Src).Verdict);

        // Without a range the class 1–511 is all there is for a low port: fill it, then the next drops.
        var core2 = new NfNatCore();
        var ct2 = new FakeConntrack();
        var addr = SnatTo("198.51.100.1", "198.51.100.1");
        for (ushort p = 1; p <= 511; p++)
            ct2.Confirm(Udp("10.9.9.9", p, "203.0.113.9", 53), Udp("203.0.113.9", 53, "198.51.100.1", p));
        Assert.Equal(NatVerdict.DropNoFreeTuple, Setup(core2, ct2, Udp("10.0.0.2", 100, "203.0.113.9", 53), addr, NfNatManipType.Src).Verdict);
        Assert.Equal(NatVerdict.Accept, Setup(core2, ct2, Udp("10.0.0.2", 600, "203.0.113.9", 53), addr, NfNatManipType.Src).Verdict);
    }

    [Fact]
    public void Random_modes_always_search_and_are_deterministic_per_seed()
    {
        // NF_NAT_RANGE_PROTO_RANDOM_ALL skips "keep the port if unique": the port is drawn even when free.
        static ushort[] Run(ulong seed, NfNatRangeFlags flags)
        {
            var core = new NfNatCore(seed);
            var ct = new FakeConntrack();
            var ports = new ushort[20];
            for (int i = 0; i < ports.Length; i++)
                ports[i] = Setup(core, ct, Udp("10.0.0.2", (ushort)(40000 + i), "203.0.113.9", 443), SnatTo("198.51.100.1", "198.51.100.1", flags), NfNatManipType.Src).Reply.DstPort;
            return ports;
        }
        foreach (var flags in new[] { NfNatRangeFlags.ProtoRandom, NfNatRangeFlags.ProtoRandomFully })
        {
            var a = Run(7, flags);
            Assert.Equal(a, Run(7, flags));
            Assert.NotEqual(a, Run(8, flags));
            Assert.All(a, p => Assert.InRange(p, 1024, 65535));
            Assert.Contains(a, p => p < 40000 || p >= 40020);
        }
        // Without the flag the free source ports are kept.
        Assert.Equal(Enumerable.Range(40000, 20).Select(p => (ushort)p), Run(7, NfNatRangeFlags.None));
    }

    [Fact]
    public void Port_offset_maps_by_distance_from_the_base()
    {
        // NF_NAT_RANGE_PROTO_OFFSET (`--to-destination :2000-2099/1000`): off = port − base, so 1005 → 2005.
        var core = new NfNatCore();
        var ct = new FakeConntrack();
        var range = new NfNatRange2(NfNatRangeFlags.ProtoSpecified | NfNatRangeFlags.ProtoOffset, default, default, 2000, 2099, 1000);
        var (_, reply, _) = Setup(core, ct, Udp("10.0.0.2", 3333, "192.0.2.1", 1005), range, NfNatManipType.Dst);
        Assert.Equal(2005, reply.SrcPort);
        Assert.Equal(Ip("192.0.2.1"), reply.Src);
    }

    [Fact]
    public void Null_binding_keeps_the_tuple_unless_it_clashes()
    {
        var core = new NfNatCore();
        var ct = new FakeConntrack();
        var original = Udp("10.0.0.2", 5353, "203.0.113.9", 53);
        var reply = NfNatTuple.Invert(original);
        var status = CtStatus.None;
        var taken = ct.AsTaken();
        Assert.Equal(NatVerdict.Accept, core.AllocNullBinding(ref taken, original, ref reply, ref status, NfNatManipType.Src));
        Assert.Equal(NfNatTuple.Invert(original), reply);
        Assert.Equal(CtStatus.SrcNatDone, status);
        Assert.Equal(NatVerdict.DropAlreadyInitialized, core.AllocNullBinding(ref taken, original, ref reply, ref status, NfNatManipType.Src));

        // The host's own connection 10.0.0.2:5353 → .9:53 after an SNAT that already took the tuple
        // (nf_nat_used_tuple's own example): the null binding moves the port.
        ct.Confirm(Udp("10.1.1.1", 5353, "203.0.113.9", 53), Udp("203.0.113.9", 53, "10.0.0.2", 5353));
        reply = NfNatTuple.Invert(original);
        status = CtStatus.None;
        Assert.Equal(NatVerdict.Accept, core.AllocNullBinding(ref taken, original, ref reply, ref status, NfNatManipType.Src));
        Assert.NotEqual((ushort)5353, reply.DstPort);
        Assert.Equal(Ip("10.0.0.2"), reply.Dst);
        Assert.Equal(CtStatus.SrcNat | CtStatus.SrcNatDone, status);
    }

    [Fact]
    public void Icmp_id_is_the_manipulated_key_for_both_manips()
    {
        // nf_nat_l4proto_unique_tuple: ICMP's id (the tuple's source "port") is searched over 0–65535.
        var core = new NfNatCore();
        var ct = new FakeConntrack();
        var a = new NfConntrackTuple(Ip("10.0.0.2"), Ip("203.0.113.9"), 777, 0, NfNatTuple.Icmp, false, IcmpType: 8);
        var b = a with { Src = Ip("10.0.0.3") };
        var range = SnatTo("198.51.100.1", "198.51.100.1");
        var first = Setup(core, ct, a, range, NfNatManipType.Src);
        Assert.Equal(777, first.Reply.SrcPort);
        Assert.Equal(0, first.Reply.IcmpType); // echo reply
        var second = Setup(core, ct, b, range, NfNatManipType.Src);
        Assert.NotEqual(777, second.Reply.SrcPort);
        Assert.Equal(Ip("198.51.100.1"), second.Reply.Dst);
    }

    [Fact]
    public void Mapping_record_names_the_nat_address_and_port()
    {
        var core = new NfNatCore();
        var ct = new FakeConntrack();
        var original = Udp("10.0.0.2", 5000, "192.0.2.99", 6001);
        var dnat = Setup(core, ct, original, ToPorts("192.0.2.2", 8000, 8010), NfNatManipType.Dst);
        var m = NatMapping.Create(1_000, original, dnat.Reply, ruleId: 3, NfNatManipType.Dst);
        Assert.Equal((Ip("192.0.2.2"), (ushort)8000, 3, NfNatManipType.Dst, NatMapping.Live), (m.NatAddress, m.NatPort, m.RuleId, m.Manip, m.RemovedNs));
        Assert.True(m.Translates);
        Assert.Equal(2_000, m.Removed(2_000).RemovedNs);

        var snat = Setup(core, ct, Udp("10.0.0.3", 5000, "192.0.2.2", 80), SnatTo("198.51.100.7", "198.51.100.7"), NfNatManipType.Src);
        var s = NatMapping.Create(5, Udp("10.0.0.3", 5000, "192.0.2.2", 80), snat.Reply, 1, NfNatManipType.Src);
        Assert.Equal((Ip("198.51.100.7"), (ushort)5000), (s.NatAddress, s.NatPort));
        Assert.False(NatMapping.Create(5, original, NfNatTuple.Invert(original), -1, NfNatManipType.Src).Translates);
    }

    [Fact]
    public void Setup_and_rewrite_allocate_nothing_in_steady_state()
    {
        var core = new NfNatCore();
        var ct = new FakeConntrack();
        var taken = ct.AsTaken();
        var range = SnatTo("198.51.100.1", "198.51.100.4");
        var frame = Support.Frames.TcpV4("10.0.0.2", 40000, "203.0.113.9", 443);
        PacketDecoder.Decode(frame, TraceReplay.Capture.LinkType.Ethernet, frame.Length, out var d);
        var server = Ip("203.0.113.9");
        void Round()
        {
            for (int i = 0; i < 1000; i++)
            {
                var original = new NfConntrackTuple(IpAddr.FromV4(0x0A00_0000u + (uint)i), server, 40000, 443, NfNatTuple.Tcp, false);
                var reply = NfNatTuple.Invert(original);
                var status = CtStatus.None;
                core.SetupInfo(ref taken, original, ref reply, ref status, range, NfNatManipType.Src);
                NfNatProto.Packet(frame, d, original, reply, status, NfNatManipType.Src, CtDirection.Original);
                core.Destroy(original, reply, status);
            }
        }
        Round(); // grows the by-source table and JITs
        Assert.Equal(0, Allocations.Quietest(Round));
    }
}
