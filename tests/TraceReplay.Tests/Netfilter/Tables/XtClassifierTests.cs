using System.Globalization;
using System.Text;
using TraceReplay.Host.Iptables;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Tests.Support;
using static TraceReplay.Tests.Netfilter.Tables.TableHarness;

namespace TraceReplay.Tests.Netfilter.Tables;

/// <summary>
/// The classifier on small hand-written chains whose answers follow from iptables' first-match
/// semantics (reasoned beside each case): it finds the rule the walk finds, and it never leaves out
/// a rule whose evaluation would have changed state (a limit token, a recent list), flagged the
/// verdict, or hotdropped the packet.
/// </summary>
public sealed class XtClassifierTests
{
    /// <summary>FORWARD: rules 1-9 `-d 10.0.0.N/32 -p tcp --dport 80 -j ACCEPT` (N = 1..9), rule 10 `-p udp -j DROP`, rules 11-21 for N = 10..20.</summary>
    private static string ServiceChain()
    {
        var sb = new StringBuilder();
        for (int n = 1; n <= 20; n++)
        {
            if (n == 10)
                sb.AppendLine("-A FORWARD -p udp -j DROP");
            sb.AppendLine(CultureInfo.InvariantCulture, $"-A FORWARD -d 10.0.0.{n}/32 -p tcp -m comment --comment svc{n} -m tcp --dport 80 -j ACCEPT");
        }
        return sb.ToString();
    }

    [Fact]
    public void Finds_the_rule_the_walk_finds_and_counts_only_it()
    {
        var t = Filter(ServiceChain());
        Assert.Equal(1, t.ClassifiedChains);

        // 10.0.0.15 is named by the 15th service rule, which the udp rule before rule 11 pushes to FORWARD:16.
        var v = Run(t, Tcp(dst: "10.0.0.15", dport: 80));
        Assert.Equal((XtVerdict.Accept, "FORWARD:16"), (v.Verdict, Where(t, v)));

        // Port 81 to the same address: no rule has it; the udp rule is not for tcp; the policy accepts.
        var miss = Run(t, Tcp(dst: "10.0.0.15", dport: 81));
        Assert.Equal((XtVerdict.Accept, "FORWARD:policy"), (miss.Verdict, Where(t, miss)));

        // UDP to a service address: the wildcard udp rule (FORWARD:10) drops it.
        var udp = Run(t, Udp(dst: "10.0.0.3", dport: 80));
        Assert.Equal((XtVerdict.Drop, "FORWARD:10"), (udp.Verdict, Where(t, udp)));

        // Only the three deciding entries counted, each once, with the datagram's length (TCP 40 bytes, UDP 36).
        Assert.Equal(new XtCounters(1, 40), t.Counters(t.EntryOf("FORWARD", 16)));
        Assert.Equal(new XtCounters(1, 40), t.Counters(t.PolicyEntry("FORWARD")));
        Assert.Equal(new XtCounters(1, 36), t.Counters(t.EntryOf("FORWARD", 10)));
        Assert.Equal(3UL, t.AllCounters().Aggregate(0UL, (s, c) => s + c.Counters.Packets));
    }

    [Fact]
    public void A_traced_packet_is_walked_rule_by_rule()
    {
        // The trace lists every rule checked (rule_trace): all 15 before the deciding one, as the kernel's TRACE does.
        var t = Filter(ServiceChain());
        var trace = new ListTrace();
        var v = Run(t, Tcp(dst: "10.0.0.15", dport: 80), trace: trace);
        Assert.Equal("FORWARD:16", Where(t, v));
        Assert.Equal(16, trace.Lines.Count);
        Assert.Equal("TRACE: filter:FORWARD:rule:10 False", trace.Lines[9]);
    }

    /// <summary>Nine filler rules so the chain is long enough to be classified, then the rules under test.</summary>
    private static string Filler()
    {
        var sb = new StringBuilder();
        for (int n = 1; n <= 9; n++)
            sb.AppendLine(CultureInfo.InvariantCulture, $"-A FORWARD -d 10.9.0.{n}/32 -j DROP");
        return sb.ToString();
    }

    [Fact]
    public void A_limit_before_the_port_match_is_run_for_every_tcp_packet()
    {
        // FORWARD:10 tests the limit (one token, refilled once an hour) before the port. A packet to
        // port 22 passes the header, takes the token, then fails --dport 80: no match, FORWARD:11
        // drops it. A packet to port 80 a second later finds no token: FORWARD:10 fails again and
        // FORWARD:11 drops it too. Had the classifier filed FORWARD:10 under port 80 and skipped it
        // for the first packet, the token would have been left for the second, which would be accepted.
        var t = Filter(Filler() + """
            -A FORWARD -p tcp -m limit --limit 1/hour --limit-burst 1 -m tcp --dport 80 -j ACCEPT
            -A FORWARD -p tcp -j DROP
            """);
        Assert.Equal(1, t.ClassifiedChains);
        var first = Run(t, Tcp(dport: 22), timeNs: 1_000_000_000);
        Assert.Equal((XtVerdict.Drop, "FORWARD:11"), (first.Verdict, Where(t, first)));

        // The limit was consulted, so the verdict depends on the clock even though the rule did not match.
        Assert.True((first.Flags & IptVerdictFlags.DependsOnClockOrRandom) != 0);
        var second = Run(t, Tcp(dport: 80), timeNs: 2_000_000_000);
        Assert.Equal((XtVerdict.Drop, "FORWARD:11"), (second.Verdict, Where(t, second)));
        Assert.Equal(new XtCounters(0, 0), t.Counters(t.EntryOf("FORWARD", 10)));
    }

    [Fact]
    public void A_recent_set_before_the_port_match_records_every_tcp_source()
    {
        // FORWARD:10 adds the source to the list "seen" (--set always matches) before testing the
        // port, so a packet to port 22 is recorded though the rule does not match; FORWARD:11 then
        // finds its source in the list and drops it. Skipping FORWARD:10 would leave the list empty
        // and let the packet through to the ACCEPT policy.
        var t = Filter(Filler() + """
            -A FORWARD -p tcp -m recent --set --name seen --rsource -m tcp --dport 80 -j ACCEPT
            -A FORWARD -p tcp -m recent --rcheck --name seen --rsource -j DROP
            """);
        var v = Run(t, Tcp(src: "10.1.1.1", dport: 22), timeNs: 1_000_000_000);
        Assert.Equal((XtVerdict.Drop, "FORWARD:11"), (v.Verdict, Where(t, v)));
    }

    [Fact]
    public void A_header_that_excludes_the_packet_skips_a_stateful_rule_as_the_walk_does()
    {
        // FORWARD:10's header names 10.9.9.9: ip_packet_match fails before the limit is consulted,
        // for the walk as for the classifier, so a hundred packets elsewhere leave its one token; the
        // first packet to 10.9.9.9 takes it.
        var t = Filter(Filler() + "-A FORWARD -d 10.9.9.9/32 -m limit --limit 1/hour --limit-burst 1 -j ACCEPT\n-A FORWARD -j DROP");
        for (int n = 0; n < 100; n++)
        {
            var other = Run(t, Tcp(dst: "192.0.2.7"), timeNs: n * 1_000_000L);
            Assert.Equal((XtVerdict.Drop, "FORWARD:11"), (other.Verdict, Where(t, other)));
            Assert.Equal(IptVerdictFlags.None, other.Flags);
        }
        var v = Run(t, Tcp(dst: "10.9.9.9"), timeNs: 200_000_000);
        Assert.Equal((XtVerdict.Accept, "FORWARD:10"), (v.Verdict, Where(t, v)));
    }

    [Fact]
    public void A_fragment_at_offset_8_still_meets_the_first_port_rule_and_is_hotdropped()
    {
        // tcp_mt hotdrops a fragment at offset 1 (8 bytes) "so the flags cannot be overwritten": the
        // walk does so at the first -p tcp --dport rule whatever its port, FORWARD:1. The classifier
        // cannot read a port from such a packet, so every port rule of its protocol stays a candidate.
        var sb = new StringBuilder();
        for (int n = 1; n <= 12; n++)
            sb.AppendLine(CultureInfo.InvariantCulture, $"-A FORWARD -p tcp -m tcp --dport {1000 + n} -j ACCEPT");
        var t = Filter(sb.ToString());
        Assert.Equal(1, t.ClassifiedChains);
        var pkt = Tcp(dport: 80);
        pkt.Decoded.FragmentOffset = 8;
        var v = Run(t, pkt);
        Assert.Equal((XtVerdict.Drop, "FORWARD:1"), (v.Verdict, Where(t, v)));
        Assert.True((v.Flags & IptVerdictFlags.HotDrop) != 0);
    }

    [Fact]
    public void A_device_key_and_a_user_chain_keep_jumps_and_returns()
    {
        // FORWARD: ten -i ethN rules jumping to PORTS (a user chain of ten port rules that RETURN
        // on no match); a packet in on eth7 to port 1007 goes FORWARD:8 → PORTS:7 (ACCEPT).
        var sb = new StringBuilder(":PORTS - [0:0]\n");
        for (int n = 0; n < 10; n++)
            sb.AppendLine(CultureInfo.InvariantCulture, $"-A FORWARD -i eth{n} -j PORTS");
        for (int n = 1; n <= 10; n++)
            sb.AppendLine(CultureInfo.InvariantCulture, $"-A PORTS -p tcp -m tcp --dport {1000 + n} -j ACCEPT");
        var t = Filter(sb.ToString(), policy: "DROP");
        Assert.Equal(2, t.ClassifiedChains);
        var v = Run(t, Tcp(dport: 1007), inDev: "eth7");
        Assert.Equal((XtVerdict.Accept, "PORTS:7"), (v.Verdict, Where(t, v)));

        // In on eth3 to port 22: FORWARD:4 → PORTS has nothing → its RETURN → nothing after FORWARD:4 → DROP policy.
        var miss = Run(t, Tcp(dport: 22), inDev: "eth3");
        Assert.Equal((XtVerdict.Drop, "FORWARD:policy"), (miss.Verdict, Where(t, miss)));
        Assert.Equal(new XtCounters(1, 40), t.Counters(t.PolicyEntry("PORTS")));
        Assert.Equal(new XtCounters(1, 40), t.Counters(t.EntryOf("FORWARD", 4)));
    }

    [Fact]
    public void Off_compiles_no_index_and_the_switch_walks()
    {
        Assert.Equal(0, Filter(ServiceChain(), new XtNet { Classifier = false }).ClassifiedChains);

        // Seven rules: shorter than the threshold, walked.
        Assert.Equal(0, Filter(string.Concat(Enumerable.Range(1, 7).Select(n => $"-A FORWARD -d 10.0.0.{n}/32 -j DROP\n"))).ClassifiedChains);
        var t = Filter(ServiceChain());
        t.UseClassifier = false;
        var v = Run(t, Tcp(dst: "10.0.0.15", dport: 80));
        Assert.Equal("FORWARD:16", Where(t, v));
    }

    [Fact]
    public void A_classified_traversal_allocates_nothing()
    {
        var t = Filter(ServiceChain());
        var pkt = Tcp(dst: "10.0.0.15", dport: 80);
        Run(t, pkt);
        Assert.Equal(0, Allocations.Quietest(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                var p = new XtActionParam(ref pkt.Decoded, pkt.Frame, NfInetHook.Forward) { InDev = "eth0", OutDev = "eth1" };
                t.DoTable(ref p);
            }
        }));
    }
}
