using TraceReplay.Host.Iptables;
using TraceReplay.Host.Parsing;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Tests.Support;
using static TraceReplay.Tests.Netfilter.Tables.TableHarness;

namespace TraceReplay.Tests.Netfilter.Tables;

/// <summary>
/// ipt_do_table's traversal on small rule sets: calls, gotos, RETURN, the end of chains, policies and
/// counters. The expected paths are worked out from net/ipv4/netfilter/ip_tables.c as written next to
/// each test: a matched rule counts skb->len (the IP datagram) before its target runs; -j pushes the
/// next rule, -g does not; RETURN (or a user chain's end) pops, or with nothing to pop goes to the
/// hook's underflow, the built-in chain's policy entry.
/// </summary>
public sealed class TableTraversalTests
{
    private const string Nested = """
        :A - [0:0]
        :B - [0:0]
        -A FORWARD -j A
        -A FORWARD -p tcp -j DROP
        -A A -j B
        -A A -p udp -j ACCEPT
        -A B -p tcp -m tcp --dport 80 -j RETURN
        """;

    [Fact]
    public void Nested_calls_return_to_the_rule_after_the_call()
    {
        var t = Filter(Nested);
        var trace = new ListTrace();

        // TCP/80: FORWARD:1 → A:1 → B:1 RETURN → A:2 (not udp) → end of A returns → FORWARD:2 DROP.
        var v = Run(t, Tcp(dport: 80), trace: trace);
        Assert.Equal(XtVerdict.Drop, v.Verdict);
        Assert.Equal("FORWARD:2", Where(t, v));
        Assert.Equal(
            [
                "TRACE: filter:FORWARD:rule:1 True", "TRACE: filter:A:rule:1 True", "TRACE: filter:B:rule:1 True",
                "TRACE: filter:A:rule:2 False", "TRACE: filter:A:return:3", "TRACE: filter:FORWARD:rule:2 True",
            ], trace.Lines);

        // UDP: B:1 does not match, the end of B returns to A:2, which accepts.
        var u = Run(t, Udp());
        Assert.Equal(XtVerdict.Accept, u.Verdict);
        Assert.Equal("A:2", Where(t, u));

        // Counters: a 40-byte SYN (20 + 20) and a 36-byte datagram (20 + 8 + 8 payload).
        Assert.Equal(new XtCounters(2, 76), t.Counters(t.EntryOf("FORWARD", 1)));
        Assert.Equal(new XtCounters(1, 40), t.Counters(t.EntryOf("FORWARD", 2)));
        Assert.Equal(new XtCounters(2, 76), t.Counters(t.EntryOf("A", 1)));
        Assert.Equal(new XtCounters(1, 36), t.Counters(t.EntryOf("A", 2)));
        Assert.Equal(new XtCounters(1, 40), t.Counters(t.PolicyEntry("A"))); // A's end (the kernel's RETURN entry) counted the TCP packet
        Assert.Equal(new XtCounters(1, 40), t.Counters(t.EntryOf("B", 1)));
        Assert.Equal(new XtCounters(1, 36), t.Counters(t.PolicyEntry("B")));
        Assert.Equal(new XtCounters(0, 0), t.Counters(t.PolicyEntry("FORWARD")));
        Assert.Equal(1, t.StackSize - 1); // FORWARD → A → B: two levels of calls
    }

    [Fact]
    public void Goto_returns_to_the_caller_of_the_chain_that_went_there()
    {
        // FORWARD:1 calls A (pushes FORWARD:2); A:1 goes to B without pushing; B's RETURN pops
        // FORWARD:2, so A:2's DROP is never reached.
        var t = Filter("""
            :A - [0:0]
            :B - [0:0]
            -A FORWARD -j A
            -A FORWARD -j ACCEPT
            -A A -g B
            -A A -j DROP
            -A B -j RETURN
            """);
        var v = Run(t, Tcp());
        Assert.Equal((XtVerdict.Accept, "FORWARD:2"), (v.Verdict, Where(t, v)));
        Assert.Equal(new XtCounters(0, 0), t.Counters(t.EntryOf("A", 2)));

        // The same with -j B: RETURN comes back to A:2.
        var j = Filter("""
            :A - [0:0]
            :B - [0:0]
            -A FORWARD -j A
            -A FORWARD -j ACCEPT
            -A A -j B
            -A A -j DROP
            -A B -j RETURN
            """);
        var w = Run(j, Tcp());
        Assert.Equal((XtVerdict.Drop, "A:2"), (w.Verdict, Where(j, w)));
    }

    [Fact]
    public void Return_with_nothing_to_pop_applies_the_policy()
    {
        // -g from the built-in chain leaves the stack empty: B's RETURN goes to the underflow
        // (FORWARD's policy, DROP), not to FORWARD:2.
        var t = Filter("""
            :B - [0:0]
            -A FORWARD -g B
            -A FORWARD -j ACCEPT
            -A B -j RETURN
            """, policy: "DROP");
        var v = Run(t, Tcp());
        Assert.Equal((XtVerdict.Drop, "FORWARD:policy"), (v.Verdict, Where(t, v)));
        Assert.Equal(new XtCounters(1, 40), t.Counters(t.PolicyEntry("FORWARD")));
        Assert.Equal(new XtCounters(0, 0), t.Counters(t.EntryOf("FORWARD", 2)));

        // RETURN in a built-in chain: the policy too.
        var r = Filter("-A INPUT -j RETURN\n-A INPUT -j ACCEPT", policy: "DROP");
        var w = Run(r, Tcp(), NfInetHook.LocalIn);
        Assert.Equal((XtVerdict.Drop, "INPUT:policy"), (w.Verdict, Where(r, w)));
    }

    [Fact]
    public void Non_terminating_targets_and_rules_without_target_count()
    {
        var t = Filter("""
            -A FORWARD -s 10.0.0.1/32
            -A FORWARD -j MARK --set-xmark 0x5/0xffffffff
            -A FORWARD -m mark --mark 0x4 -j DROP
            -A FORWARD -m mark --mark 0x5 -j ACCEPT
            """);
        var (v, mark, _, _, _, _, _) = RunFull(t, Tcp(payload: 10));
        Assert.Equal((XtVerdict.Accept, "FORWARD:4"), (v.Verdict, Where(t, v)));
        Assert.Equal(5u, mark);
        Assert.Equal(new XtCounters(1, 50), t.Counters(t.EntryOf("FORWARD", 1)));
        Assert.Equal(new XtCounters(1, 50), t.Counters(t.EntryOf("FORWARD", 2)));
        Assert.Equal(new XtCounters(0, 0), t.Counters(t.EntryOf("FORWARD", 3)));
        Assert.Equal(new XtCounters(1, 50), t.Counters(t.EntryOf("FORWARD", 4)));
    }

    [Fact]
    public void A_hook_without_a_chain_in_the_table_accepts_untouched()
    {
        var t = Compile("*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n", "nat");
        Assert.False(t.HasHook(NfInetHook.Forward));
        var v = Run(t, Tcp(), NfInetHook.Forward);
        Assert.Equal((XtVerdict.Accept, -1), (v.Verdict, v.Entry));
    }

    [Fact]
    public void A_table_sees_only_its_own_family()
    {
        // iptables' hooks are registered for NFPROTO_IPV4 only: an IPv6 packet passes the IPv4 table untouched.
        var t = Filter("-A FORWARD -j DROP");
        var v = Run(t, new TestPacket(Frames.TcpV6("2001:db8::1", 1, "2001:db8::2", 2)));
        Assert.Equal((XtVerdict.Accept, -1), (v.Verdict, v.Entry));
        Assert.Equal(new XtCounters(0, 0), t.Counters(t.EntryOf("FORWARD", 1)));
        var six = Filter("-A FORWARD -j DROP", family: IptFamily.IPv6);
        Assert.Equal((XtVerdict.Accept, -1), (Run(six, Tcp()).Verdict, Run(six, Tcp()).Entry));
    }

    [Fact]
    public void An_unknown_match_is_taken_as_no_match_and_marks_the_verdict()
    {
        // owner needs the socket: unknown offline. The default policy continues as if it did not match.
        const string Rules = "-A FORWARD -m owner --uid-owner 0 -j DROP\n-A FORWARD -j ACCEPT";
        var t = Filter(Rules);
        var v = Run(t, Tcp());
        Assert.Equal((XtVerdict.Accept, "FORWARD:2"), (v.Verdict, Where(t, v)));
        Assert.True(v.DependsOnUnknown);
        Assert.Equal(t.EntryOf("FORWARD", 1), v.FirstUnknownEntry);
        Assert.Equal(new XtCounters(0, 0), t.Counters(t.EntryOf("FORWARD", 1)));

        // The other branch on request.
        var m = Filter(Rules, new XtNet { UnknownPolicy = UnknownMatchPolicy.Match });
        var w = Run(m, Tcp());
        Assert.Equal((XtVerdict.Drop, "FORWARD:1"), (w.Verdict, Where(m, w)));
        Assert.True(w.DependsOnUnknown);
    }

    [Fact]
    public void An_unknown_match_next_to_a_definite_no_is_not_unknown()
    {
        // Unknown AND false is false (three-valued): the tcp match after owner decides.
        var t = Filter("-A FORWARD -p tcp -m owner --uid-owner 0 -m tcp --dport 22 -j DROP");
        var v = Run(t, Tcp(dport: 80));
        Assert.Equal((XtVerdict.Accept, "FORWARD:policy"), (v.Verdict, Where(t, v)));
        Assert.False(v.DependsOnUnknown);
        Assert.Equal(-1, v.FirstUnknownEntry);
    }

    [Fact]
    public void An_unknown_module_and_an_unknown_target()
    {
        // A module this build does not know is kept by the parser and evaluated as unknown.
        var t = Filter("-A FORWARD -m frobnicate --level 3 -j DROP");
        var v = Run(t, Tcp());
        Assert.True(v.DependsOnUnknown);
        Assert.Equal(XtVerdict.Accept, v.Verdict);

        // A target this build does not know ends traversal with an unknown verdict.
        var u = Filter("-A FORWARD -p tcp -j FROBNICATE\n-A FORWARD -j DROP");
        var w = Run(u, Tcp());
        Assert.Equal((XtVerdict.Unknown, "FORWARD:1"), (w.Verdict, Where(u, w)));
        Assert.True(w.DependsOnUnknown);

        // A known but not simulated non-terminating target (TCPMSS) lets traversal go on, marked.
        var s = Filter("-A FORWARD -p tcp -j TCPMSS --set-mss 1400\n-A FORWARD -j DROP");
        var x = Run(s, Tcp());
        Assert.Equal((XtVerdict.Drop, "FORWARD:2"), (x.Verdict, Where(s, x)));
        Assert.True(x.DependsOnUnknown);
        Assert.Equal(s.EntryOf("FORWARD", 1), x.FirstUnknownEntry);
    }

    [Fact]
    public void A_chain_loop_is_refused_naming_the_jump()
    {
        // mark_source_chains refuses a loop (ELOOP); the message names the rule that closes it.
        var e = Assert.Throws<HostParseException>(() => Filter("""
            :A - [0:0]
            :B - [0:0]
            -A FORWARD -j A
            -A A -j B
            -A B -g A
            """));
        Assert.Contains("test.rules:9:", e.Message, StringComparison.Ordinal);
        Assert.Contains("loop", e.Message, StringComparison.Ordinal);
        Assert.Equal("A", e.Token);
    }

    [Fact]
    public void Queue_and_nfqueue_carry_the_queue_number_and_bypass()
    {
        var t = Filter("-A FORWARD -p udp -j QUEUE\n-A FORWARD -p tcp -j NFQUEUE --queue-num 7 --queue-bypass");
        var v = Run(t, Tcp());
        Assert.Equal((XtVerdict.Queue, (ushort)7, true), (v.Verdict, v.QueueNum, v.QueueBypass));
        var u = Run(t, Udp());
        Assert.Equal((XtVerdict.Queue, (ushort)0, false), (u.Verdict, u.QueueNum, u.QueueBypass));
    }

    [Theory]
    [InlineData("-s 10.0.0.0/8", true)]
    [InlineData("-s 10.0.0.2/32", false)]
    [InlineData("! -s 10.0.0.0/8", false)]
    [InlineData("-s 10.0.0.0/255.0.255.0", true)] // non-contiguous mask: 10.0.0.1 & 255.0.255.0 = 10.0.0.0
    [InlineData("-d 192.0.2.0/24", true)]
    [InlineData("! -d 192.0.2.0/24", false)]
    [InlineData("-i eth0", true)]
    [InlineData("-i eth+", true)]
    [InlineData("-i et", false)]
    [InlineData("! -i eth+", false)]
    [InlineData("-o eth1", true)]
    [InlineData("! -o eth1", false)]
    [InlineData("-o eth", false)]
    [InlineData("-p tcp", true)]
    [InlineData("-p udp", false)]
    [InlineData("! -p udp", true)]
    [InlineData("-p 6", true)]
    [InlineData("-f", false)]
    [InlineData("! -f", true)]
    public void Rule_header_as_ip_packet_match(string header, bool matches)
    {
        var t = Filter($"-A FORWARD {header} -j DROP");
        var v = Run(t, Tcp(src: "10.0.0.1", dst: "192.0.2.7"), inDev: "eth0", outDev: "eth1");
        Assert.Equal(matches, v.Verdict == XtVerdict.Drop);
    }

    [Fact]
    public void Fragment_flag_and_missing_devices()
    {
        // A non-first fragment: -f matches, a port match does not (fragoff != 0).
        var frag = Udp(payload: 64);
        frag.Frame[14 + 7] = 0x03;
        frag = new TestPacket(frag.Frame);
        var t = Filter("-A FORWARD -p udp -m udp --dport 53 -j ACCEPT\n-A FORWARD -f -j DROP");
        var v = Run(t, frag);
        Assert.Equal((XtVerdict.Drop, "FORWARD:2"), (v.Verdict, Where(t, v)));

        // At OUTPUT there is no in device: the kernel compares "" (nulldevname), so -i eth0 fails and ! -i eth0 holds.
        var o = Filter("-A OUTPUT -i eth0 -j DROP\n-A OUTPUT ! -i eth0 -j REJECT");
        var w = Run(o, Tcp(), NfInetHook.LocalOut);
        Assert.Equal((XtVerdict.Drop, "OUTPUT:2"), (w.Verdict, Where(o, w)));
    }

    [Fact]
    public void Ipv6_table_matches_addresses_and_protocol()
    {
        var t = Filter("-A FORWARD -s 2001:db8::/32 -p tcp -m tcp --dport 80 -j DROP", family: IptFamily.IPv6);
        var pkt = new TestPacket(Frames.TcpV6("2001:db8::1", 1234, "2001:db8::2", 80));
        var v = Run(t, pkt);
        Assert.Equal((XtVerdict.Drop, "FORWARD:1"), (v.Verdict, Where(t, v)));
        Assert.Equal(new XtCounters(1, 60), t.Counters(v.Entry)); // 40 + 20-byte TCP header
        var other = new TestPacket(Frames.TcpV6("2001:db9::1", 1234, "2001:db8::2", 80));
        Assert.Equal(XtVerdict.Accept, Run(t, other).Verdict);
    }
}

/// <summary>The traversal allocates nothing per packet once warm (DESIGN.md: hot paths allocate nothing).</summary>
public sealed class TableAllocationTests
{
    [Fact]
    public void Traversal_allocates_nothing_per_packet()
    {
        var t = Filter("""
            :A - [0:0]
            -A FORWARD -j A
            -A FORWARD -p tcp -m multiport --dports 22,80,443 -m conntrack --ctstate NEW -m limit --limit 100/sec -j ACCEPT
            -A A -m comment --comment x -m mark ! --mark 0x1 -j MARK --set-xmark 0x2/0xff
            -A A -p tcp -m tcp --tcp-flags SYN,ACK SYN -m iprange --src-range 10.0.0.0-10.0.0.9 -j RETURN
            """);
        var pkt = Tcp();
        var trace = new CountingTrace();
        for (int i = 0; i < 100; i++)
            Once(t, pkt, i, trace);
        int accepted = 0, rounds = 0;
        Assert.Equal(0, Allocations.Quietest(() =>
        {
            rounds++;
            for (int i = 0; i < 10_000; i++)
                accepted += Once(t, pkt, i, trace) == XtVerdict.Accept ? 1 : 0;
        }));
        Assert.Equal(10_000 * rounds, accepted);
        Assert.True(trace.Count > 0);
    }

    private static XtVerdict Once(XtTableInfo t, TestPacket pkt, long i, IIptTraceSink trace)
    {
        var p = new XtActionParam(ref pkt.Decoded, pkt.Frame, NfInetHook.Forward)
        {
            InDev = "eth0",
            OutDev = "eth1",
            TimeNs = i * 1_000_000,
            Ct = new NfCtInfo { State = TraceReplay.Netfilter.Conntrack.CtState.New },
        };
        return t.DoTable(ref p, trace).Verdict;
    }

    private sealed class CountingTrace : IIptTraceSink
    {
        public int Count { get; private set; }

        public void Trace(in IptTraceEvent e) => Count++;
    }
}
