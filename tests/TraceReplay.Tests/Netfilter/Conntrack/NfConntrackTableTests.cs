using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;
using static TraceReplay.Tests.Netfilter.Conntrack.CtPackets;

namespace TraceReplay.Tests.Netfilter.Conntrack;

/// <summary>
/// nf_conntrack_core behaviour: ctinfo rules, unconfirmed entries, expiry on the capture clock, early
/// drop, zones, events and counters, plus the UDP / ICMP / ICMPv6 / generic trackers.
/// </summary>
public class NfConntrackTableTests
{
    private const string A = "192.168.1.10", B = "198.51.100.7";

    [Fact]
    public void Udp_is_30s_unreplied_then_stream_120s_and_assured_after_two_seconds()
    {
        var t = Table();
        var q = t.Pass(Udp(A, 5000, B, 53), 0);
        Assert.Equal(CtState.New, q.State);
        Assert.Equal(30, t.SecondsLeft(q.Entry, 0));
        Assert.Equal(CtState.New, t.Pass(Udp(A, 5000, B, 53), 1 * S).State); // still no reply: NEW

        // The first reply: SEEN_REPLY is set only after udp_packet ran, so it still gets 30 s.
        var r = t.Pass(Udp(B, 53, A, 5000), 1 * S + 5);
        Assert.Equal((CtState.Established, CtDirection.Reply), (r.State, r.Direction));
        Assert.Equal(30, t.SecondsLeft(q.Entry, 1 * S + 5));
        Assert.False(t[q.Entry].IsAssured);

        // Within 2 s of the first packet: replied but not yet a stream (UDP_STREAM_TIMEOUT).
        t.Pass(Udp(A, 5000, B, 53), 2 * S);
        Assert.Equal(30, t.SecondsLeft(q.Entry, 2 * S));
        Assert.False(t[q.Entry].IsAssured);

        // The kernel run behind this test (two namespaces, a reply, a second packet 2.2 s later) printed
        // `udp 17 119 ... [ASSURED]`: 120 s and ASSURED.
        t.Pass(Udp(A, 5000, B, 53), 2 * S + (S / 5));
        Assert.Equal(120, t.SecondsLeft(q.Entry, 2 * S + (S / 5)));
        Assert.True(t[q.Entry].IsAssured);
    }

    [Fact]
    public void Udp_entry_expires_on_the_capture_clock_and_the_next_packet_is_new()
    {
        var t = Table();
        var first = t.Pass(Udp(A, 5000, B, 53), 10 * S);
        t.ClearEvents();
        // 29.999 s later the entry lives; at exactly 30 s nf_ct_is_expired is true.
        Assert.Equal(CtState.New, t.Pass(Udp(A, 5000, B, 53), (40 * S) - 1).State);
        Assert.Equal(first.Entry, t.Find(t[first.Entry].Orig, 0, (40 * S) - 1).Entry);
        var reply = t.Pass(Udp(B, 53, A, 5000), (40 * S) - 1 + (30 * S));
        Assert.Equal(CtState.New, reply.State); // the old entry expired: the "reply" starts its own connection
        Assert.Equal(CtDirection.Original, reply.Direction);
        var events = t.Events.ToArray();
        Assert.Equal(NfctEventType.Destroy, events[0].Type);
        Assert.Equal((40 * S) - 1 + (30 * S), events[0].Time); // the deadline the entry passed
        Assert.Equal(NfctEventType.New, events[1].Type);
    }

    [Fact]
    public void Expiry_sweep_removes_idle_entries_without_lookups()
    {
        var t = Table();
        for (ushort i = 0; i < 10; i++)
            t.Pass(Udp(A, (ushort)(1000 + i), B, 53), 0);
        Assert.Equal(10, t.Count);
        // Unrelated packets an hour later: each sweeps GcSlotsPerPacket slots.
        for (int i = 0; i < 3; i++)
            t.Pass(Icmp(A, B, 8, (ushort)i), 3600 * S);
        Assert.Equal(3, t.Count);
        t.ExpireUntil(7200 * S);
        Assert.Equal(0, t.Count);
    }

    [Fact]
    public void Icmp_echo_is_matched_by_id_and_replies_alone_are_invalid()
    {
        var t = Table();
        var req = t.Pass(Icmp(A, B, 8, 6933), 0);
        Assert.Equal(CtState.New, req.State);
        Assert.Equal(30, t.SecondsLeft(req.Entry, 0));
        var rep = t.Pass(Icmp(B, A, 0, 6933), 1);
        Assert.Equal((req.Entry, CtState.Established, CtDirection.Reply), (rep.Entry, rep.State, rep.Direction));
        // Another id is another connection; an echo reply nobody asked for cannot create one (valid_new).
        var stray = t.Pass(Icmp(B, A, 0, 7000), 2);
        Assert.Equal((CtState.Invalid, CtReason.IcmpNotNew), (stray.State, stray.Reason));
        Assert.Equal(1, t.Count);
        // Router advertisement (9) has no reply type: nf_ct_invert_tuple fails.
        Assert.Equal(CtReason.NotInvertible, t.Pass(Icmp(B, A, 9, 0), 3).Reason);
    }

    [Fact]
    public void Icmp_error_is_related_to_the_connection_it_quotes()
    {
        var t = Table();
        var udp = t.Pass(Udp(A, 5000, B, 33434), 0);
        // B answers port unreachable to A, quoting A:5000 -> B:33434.
        var err = t.Pass(IcmpError(B, A, 3, 3, A, 5000, B, 33434), 1);
        Assert.Equal((udp.Entry, CtState.Related, CtDirection.Reply), (err.Entry, err.State, err.Direction));
        Assert.Equal(1UL, t[udp.Entry].OrigPackets);
        Assert.Equal(0UL, t[udp.Entry].ReplyPackets); // RELATED packets are not counted (no refresh)

        // Time exceeded from a router on the path also goes to A.
        var ttl = t.Pass(IcmpError("10.9.9.9", A, 11, 0, A, 5000, B, 33434), 2);
        Assert.Equal(CtState.Related, ttl.State);

        // An error sent somewhere else than the quoted packet's source: "outer daddr != inner".
        var wrong = t.Pass(IcmpError(B, "192.168.1.99", 3, 3, A, 5000, B, 33434), 3);
        Assert.Equal(CtReason.IcmpErrorWrongAddress, wrong.Reason);
        // Quoting a flow nobody tracks.
        var none = t.Pass(IcmpError(B, A, 3, 3, A, 5001, B, 33434), 4);
        Assert.Equal(CtReason.IcmpErrorNoConnection, none.Reason);
        Assert.Equal(1, t.Count); // errors never create entries
    }

    [Fact]
    public void Icmp_errors_quoting_tcp_icmp_echo_and_ipv6_udp_are_related()
    {
        var t = Table();
        var syn = t.Pass(Tcp(A, 40000, B, 80, TcpFlags.Syn, 1), 0);
        var reject = t.Pass(IcmpError(B, A, 3, 3, A, 40000, B, 80, L4Protocol.Tcp), 1); // REJECT --reject-with icmp-port-unreachable
        Assert.Equal((syn.Entry, CtState.Related, CtDirection.Reply), (reject.Entry, reject.State, reject.Direction));

        // traceroute -I: time exceeded quoting the echo request; the quoted id finds the echo connection.
        var ping = t.Pass(Icmp(A, B, 8, 77), 2);
        var ttl = IcmpError("10.9.9.9", A, 11, 0, A, 0, B, 0, L4Protocol.Icmp);
        ttl.InnerIcmpType = 8;
        ttl.InnerIcmpId = 77;
        var related = t.Pass(ttl, 3);
        Assert.Equal((ping.Entry, CtState.Related), (related.Entry, related.State));

        // ICMPv6 destination unreachable (type 1) quoting a UDP datagram.
        var udp6 = t.Pass(Udp("2001:db8::1", 5000, "2001:db8::2", 53), 4);
        var unreach6 = IcmpError("2001:db8::2", "2001:db8::1", 1, 4, "2001:db8::1", 5000, "2001:db8::2", 53);
        var r6 = t.Pass(unreach6, 5);
        Assert.Equal((udp6.Entry, CtState.Related, CtDirection.Reply), (r6.Entry, r6.State, r6.Direction));
    }

    [Fact]
    public void Seeded_masquerade_entry_of_the_docker_host_matches_both_directions()
    {
        string path = Path.Combine(TraceReplay.Tests.Support.Corpus.Root, "datasets", "docker-host", "snapshot", "conntrack.txt");
        var t = Table();
        t.LoadInitial(ConntrackList.Parse(File.ReadAllText(path), path));
        // tcp ESTABLISHED src=172.17.0.2 dst=203.0.113.9 sport=57546 dport=7000 src=203.0.113.9 dst=198.51.100.1 sport=7000 dport=57546
        var back = t.ConntrackIn(Tcp("203.0.113.9", 7000, "198.51.100.1", 57546, TcpFlags.Ack, 1, 1), default, 0);
        Assert.Equal((CtState.Established, CtDirection.Reply), (back.State, back.Direction));
        Assert.Equal(2, t.Count);
        // The IGMP entry (generic, 597 s left) is gone 597 s after the first packet; the TCP one, refreshed by
        // the ACK at time 0 to the ESTABLISHED timeout (432000 s), only then.
        t.ExpireUntil(597 * S);
        Assert.Equal(1, t.Count);
        t.ExpireUntil(432000 * S);
        Assert.Equal(0, t.Count);
    }

    [Fact]
    public void Icmpv6_echo_tracks_and_neighbour_discovery_is_untracked()
    {
        var t = Table();
        var req = t.Pass(Icmp("fd99::1", "fd99::2", 128, 16880, 56), 0);
        Assert.Equal(CtState.New, req.State);
        Assert.Equal(CtState.Established, t.Pass(Icmp("fd99::2", "fd99::1", 129, 16880, 56), 1).State);
        Assert.Equal(30, t.SecondsLeft(req.Entry, 1));
        Assert.Equal(CtState.Untracked, t.Pass(Icmp("fd99::2", "fd99::1", 135, 0, 24), 2).State);
        Assert.Equal(CtState.Untracked, t.Pass(Icmp("fe80::1", "ff02::1", 134, 0, 24), 2).State);
    }

    [Fact]
    public void Generic_protocols_get_600s_and_gre_30s_then_180s()
    {
        var t = Table();
        var esp = t.Pass(Ip(A, B, L4Protocol.Esp, 100), 0);
        Assert.Equal(600, t.SecondsLeft(esp.Entry, 0));
        var gre = t.Pass(Ip(A, B, L4Protocol.Gre, 100), 0);
        Assert.Equal(30, t.SecondsLeft(gre.Entry, 0));
        t.Pass(Ip(B, A, L4Protocol.Gre, 100), 1);
        t.Pass(Ip(A, B, L4Protocol.Gre, 100), 2);
        Assert.Equal(180, t.SecondsLeft(gre.Entry, 2));
        Assert.True(t[gre.Entry].IsAssured);
    }

    [Fact]
    public void Unconfirmed_entry_dropped_before_confirm_leaves_nothing()
    {
        var t = Table();
        var syn = t.ConntrackIn(Tcp(A, 40000, B, 80, TcpFlags.Syn, 1), default, 0);
        Assert.Equal(1, t.Count);
        t.Abort(syn.Entry); // e.g. filter INPUT dropped the SYN
        Assert.Equal(0, t.Count);
        Assert.True(t.Events.IsEmpty);
        var again = t.ConntrackIn(Tcp(A, 40000, B, 80, TcpFlags.Syn, 1), default, 1 * S);
        Assert.Equal(CtState.New, again.State);
        Assert.False(t[again.Entry].IsConfirmed);
        // The reply of a never-confirmed connection finds nothing (unconfirmed entries are not hashed).
        Assert.Equal(-1, t.Find(t[again.Entry].Reply, 0, 1 * S).Entry);
    }

    [Fact]
    public void Table_full_early_drops_non_assured_entries_and_drops_when_all_are_assured()
    {
        // One bucket so early_drop's scan sees every entry.
        var t = Table(max: 2, buckets: 1);
        t.Pass(Udp(A, 1, B, 53), 0);
        t.Pass(Udp(A, 2, B, 53), 0);
        t.ClearEvents();
        var third = t.Pass(Udp(A, 3, B, 53), 1);
        Assert.Equal(CtState.New, third.State);
        // 6.x early_drop_list deletes every non-ASSURED entry of the first bucket that has one.
        Assert.Equal(2, t.Events.ToArray().Count(e => e.Type == NfctEventType.Destroy));
        Assert.Equal(2, t.EarlyDrops);
        Assert.Equal(1, t.Count);

        var u = Table(max: 2, buckets: 1);
        foreach (ushort port in new ushort[] { 1, 2 })
        {
            u.Pass(Udp(A, port, B, 53), 0);
            u.Pass(Udp(B, 53, A, port), 1);
            u.Pass(Udp(A, port, B, 53), 3 * S); // ASSURED
        }
        var full = u.Pass(Udp(A, 3, B, 53), 4 * S);
        Assert.Equal((CtVerdict.Drop, CtReason.TableFull), (full.Verdict, full.Reason));
        Assert.Equal(2, u.Count);
        Assert.Equal(1, u.TableFullDrops);
    }

    [Fact]
    public void Early_drop_walks_the_bucket_newest_first()
    {
        // __nf_conntrack_hash_insert adds both tuplehash nodes at the head (hlist_nulls_add_head_rcu) and
        // early_drop_list walks from the head: in one bucket the newest connection is destroyed first.
        var t = Table(max: 3, buckets: 1);
        for (ushort port = 1; port <= 3; port++)
            t.Pass(Udp(A, port, B, 53), port);
        t.ClearEvents();
        t.Pass(Udp(A, 4, B, 53), 10);
        var destroyed = t.Events.ToArray().Where(e => e.Type == NfctEventType.Destroy).Select(e => e.Orig.SrcPort);
        Assert.Equal(new ushort[] { 3, 2, 1 }, destroyed);
    }

    [Fact]
    public void One_bucket_chain_finds_both_directions_and_survives_unlinks_anywhere_in_it()
    {
        // Every node in one chain: a lookup passes the nodes of other connections (same bucket, other
        // hash or tuple), and removing the chain's head, a middle node or its tail keeps the rest
        // reachable. Which entry a tuple finds cannot depend on how many buckets there are.
        var t = Table(buckets: 1);
        var entries = new int[8];
        for (ushort i = 0; i < entries.Length; i++)
            entries[i] = t.Pass(Udp(A, (ushort)(1000 + i), B, 53), 0).Entry;
        for (int i = 0; i < entries.Length; i++)
        {
            Assert.Equal((entries[i], CtDirection.Original), t.Find(t[entries[i]].Orig, 0, 1));
            Assert.Equal((entries[i], CtDirection.Reply), t.Find(t[entries[i]].Reply, 0, 1));
        }
        int[] gone = [7, 3, 0]; // the newest is the head, the first the tail
        var goneTuples = gone.Select(i => t[entries[i]].Orig).ToArray();
        foreach (int i in gone)
            t.Delete(entries[i], 1);
        foreach (var tuple in goneTuples)
        {
            Assert.Equal(-1, t.Find(tuple, 0, 2).Entry);
            Assert.Equal(-1, t.Find(tuple.Invert(), 0, 2).Entry);
        }
        for (ushort i = 0; i < entries.Length; i++)
        {
            if (gone.Contains(i))
                continue;
            var r = t.Pass(Udp(B, 53, A, (ushort)(1000 + i)), 2);
            Assert.Equal((entries[i], CtState.Established, CtDirection.Reply), (r.Entry, r.State, r.Direction));
        }
        Assert.Equal(5, t.Count);
    }

    [Fact]
    public void Zones_keep_identical_tuples_apart()
    {
        var t = Table();
        var z0 = t.Pass(Udp(A, 1, B, 7777), 0);
        var z5 = t.Pass(Udp(A, 1, B, 7777), 0, zone: 5);
        Assert.NotEqual(z0.Entry, z5.Entry);
        Assert.Equal(5, t[z5.Entry].Zone);
        Assert.Equal(z5.Entry, t.Pass(Udp(B, 7777, A, 1), 1, zone: 5).Entry);
    }

    [Fact]
    public void Events_are_new_at_confirm_update_on_change_and_counters_count_ip_length()
    {
        var t = Table();
        var syn = t.ConntrackIn(Tcp(A, 40000, B, 80, TcpFlags.Syn, 1000), default, 5);
        Assert.True(t.Events.IsEmpty); // nothing before confirm
        t.Confirm(syn.Entry, 5);
        t.Pass(Tcp(B, 80, A, 40000, TcpFlags.Syn | TcpFlags.Ack, 5000, 1001), 6);
        t.Pass(Tcp(A, 40000, B, 80, TcpFlags.Ack, 1001, 5001), 7);
        t.Pass(Tcp(A, 40000, B, 80, TcpFlags.Ack | TcpFlags.Psh, 1001, 5001, data: 6), 8); // no change: no event
        var ev = t.Events.ToArray();
        Assert.Equal(3, ev.Length);
        Assert.Equal((NfctEventType.New, 5L, TcpConntrack.SynSent), (ev[0].Type, ev[0].Time, ev[0].TcpState));
        Assert.Equal(NfctEventMask.Reply | NfctEventMask.ProtoInfo, ev[1].Mask);
        Assert.Equal(NfctEventMask.Assured | NfctEventMask.ProtoInfo, ev[2].Mask);
        ref var ct = ref t[syn.Entry];
        // The real run: SYN 60 + ACK 52 + 6 bytes of data 58 ... here without options: 40 + 40 + 46.
        Assert.Equal((3UL, 126UL, 1UL, 40UL), (ct.OrigPackets, ct.OrigBytes, ct.ReplyPackets, ct.ReplyBytes));
        t.SetMark(syn.Entry, 42, 9);
        Assert.Equal(NfctEventMask.Mark, t.Events[^1].Mask);
    }

    [Fact]
    public void Nat_can_alter_the_reply_of_an_unconfirmed_entry_and_ask_whether_a_tuple_is_taken()
    {
        var t = Table();
        var first = t.Pass(Udp("172.17.0.2", 5000, B, 53), 0);
        var second = t.ConntrackIn(Udp("172.17.0.3", 5000, B, 53), default, 1);
        // Another flow passes while the second is still unconfirmed.
        t.Pass(Udp("172.17.0.4", 6000, B, 53), 1);
        var masq1 = t[first.Entry].Reply with { Dst = IpAddr.Parse("203.0.113.1") };
        Assert.Throws<InvalidOperationException>(() => t.AlterReply(first.Entry, masq1));
        Assert.False(t.TupleTaken(masq1, 0, -1, 1));
        var r = t[second.Entry].Reply with { Dst = IpAddr.Parse("203.0.113.1") };
        t.AlterReply(second.Entry, r);
        Assert.True(t.Confirm(second.Entry, 1));
        Assert.True(t.TupleTaken(r, 0, -1, 1));
        Assert.False(t.TupleTaken(r, 0, second.Entry, 1)); // the connection itself does not count
        var back = t.Pass(Udp(B, 53, "203.0.113.1", 5000), 2);
        Assert.Equal((second.Entry, CtDirection.Reply), (back.Entry, back.Direction));
    }

    [Fact]
    public void Two_unconfirmed_entries_of_one_flow_are_not_taken_for_each_other_and_the_second_clashes()
    {
        var t = Table();
        // Two datagrams of one flow both pass conntrack before either is confirmed (two CPUs in the kernel).
        var first = t.ConntrackIn(Udp(A, 5000, B, 53), default, 0);
        var second = t.ConntrackIn(Udp(A, 5000, B, 53), default, 0);
        Assert.NotEqual(first.Entry, second.Entry);
        Assert.True(t.Confirm(first.Entry, 0));
        // nf_conntrack_tuple_taken's exception: identical original tuples are the same flow, not a taken tuple.
        Assert.False(t.TupleTaken(t[second.Entry].Reply, 0, second.Entry, 0));
        Assert.True(t.TupleTaken(t[second.Entry].Reply, 0, -1, 0));
        // __nf_conntrack_confirm finds the tuple inserted meanwhile: the second packet is dropped.
        Assert.False(t.Confirm(second.Entry, 0));
        Assert.Equal(1, t.Count);
    }

    [Fact]
    public void Untracked_is_what_notrack_gives()
    {
        Assert.Equal((CtState.Untracked, -1), (CtInfo.Untracked.State, CtInfo.Untracked.Entry));
    }

    [Fact]
    public void Non_first_fragments_have_no_tuple()
    {
        var t = Table();
        var p = Udp(A, 1, B, 2);
        p.Flags |= PacketFlags.Fragment;
        p.FragmentOffset = 1480;
        Assert.Equal(CtReason.NoTuple, t.Pass(p, 0).Reason);
    }
}

/// <summary>The per-connection memory budget (≤ 256 bytes), measured with a million live entries.</summary>
[Collection(TraceReplay.Tests.Support.MemoryMeasurement.Name)]
public class NfConntrackMemoryTests(ITestOutputHelper output)
{
    [Fact]
    public void A_million_connections_cost_at_most_256_bytes_each()
    {
        const int N = 1_000_000;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var t = new NfConntrackTable(new NfConntrackSettings { Max = N, Buckets = 262144, Acct = true }) { EventsEnabled = false };
        var p = CtPackets.Udp("10.0.0.1", 1, "198.51.100.7", 53);
        for (int i = 0; i < N; i++)
        {
            p.Src = IpAddr.FromV4(0x0A000000u | (uint)(i >> 4));
            p.SrcPort = (ushort)(1024 + (i & 15));
            var info = t.ConntrackIn(in p, default, 1000);
            t.Confirm(info.Entry, 1000);
        }
        Assert.Equal(N, t.Count);
        long after = GC.GetTotalMemory(forceFullCollection: true);
        double perEntry = (after - before) / (double)N;
        output.WriteLine($"{N} live connections: {after - before} bytes, {perEntry:F1} bytes per connection");
        GC.KeepAlive(t);
        Assert.True(perEntry <= 256, $"{perEntry:F1} bytes per connection");
    }
}
