using TraceReplay.Netfilter.Bridge;
using TraceReplay.Netfilter.Tables;
using static TraceReplay.Tests.Netfilter.Bridge.BridgeHarness;

namespace TraceReplay.Tests.Netfilter.Bridge;

/// <summary>
/// The ebtables tables in the bridge path, in the kernel's hook order: broute, nat PREROUTING,
/// [br_netfilter], FDB, filter FORWARD, [br_netfilter], nat POSTROUTING, [br_netfilter]; filter INPUT
/// for what goes up.
/// </summary>
public sealed class BridgePathTests
{
    private sealed class OrderHooks(List<string> log, BrNfVerdict forwardVerdict) : IBrNetfilterHooks
    {
        public BrNfVerdict PreRouting(ref EbtActionParam p, BrPort inPort)
        {
            log.Add($"brnf-pre {inPort.Name} {p.DstMac}");
            return BrNfVerdict.Accept;
        }

        public BrNfVerdict Forward(ref EbtActionParam p, BrPort inPort, BrPort outPort)
        {
            log.Add($"brnf-fwd {inPort.Name}>{outPort.Name} mark={p.Mark}");
            return outPort.Name == "veth2" ? forwardVerdict : BrNfVerdict.Accept;
        }

        public BrNfVerdict PostRouting(ref EbtActionParam p, BrPort outPort)
        {
            log.Add($"brnf-post {outPort.Name} {p.SrcMac}");
            return BrNfVerdict.Accept;
        }
    }

    [Fact]
    public void Broute_drop_means_route_it_instead()
    {
        var d = Decision(Table("broute", "-A BROUTING -p IPv4 --ip-dst 10.0.0.254 -j DROP") + Table("nat", "-A PREROUTING -j DROP"));
        var f = Udp(A, BrMac, ipDst: "10.0.0.254");
        var r = d.Receive("veth0", ref f.Decoded, f.Frame, Sec);
        Assert.Equal((BrDecision.Routed, BrStage.Broute, "broute:BROUTING:1"), (r.Decision, r.Drop.Stage, r.Drop.Table!.Where(r.Drop.Entry)));

        // ebt_broute's undo: the bridge's (not the port's) address goes up the port as PACKET_OTHERHOST.
        Assert.Equal(3, r.PktType);

        // Anything else goes on to nat PREROUTING, which drops it (and nothing is learned).
        f = Udp(A, B);
        r = d.Receive("veth0", ref f.Decoded, f.Frame, Sec);
        Assert.Equal((BrDecision.Dropped, "NatPreRouting nat:PREROUTING:1"), (r.Decision, r.Drop.ToString()));
        Assert.False(d.Bridge("br0")!.Fdb.Find(Mac(A), Sec, out _));
    }

    [Fact]
    public void Dnat_in_prerouting_steers_the_fdb_decision_and_redirect_sends_it_up()
    {
        var d = Decision(Table("nat", """
            -A PREROUTING -p IPv4 --ip-dst 10.0.0.9 -j dnat --to-dst 02:aa:00:00:00:0c
            -A PREROUTING -p IPv4 --ip-dst 10.0.0.8 -j redirect
            """));
        var fromC = Udp(C, A);
        d.Receive("veth2", ref fromC.Decoded, fromC.Frame, Sec); // C learned on veth2
        var f = Udp(A, B, ipDst: "10.0.0.9");
        var r = d.Receive("veth0", ref f.Decoded, f.Frame, 2 * Sec);
        Assert.Equal((BrDecision.Forward, Mac(C)), (r.Decision, r.DstMac));
        Assert.Equal("veth2", Assert.Single(d.Egress.ToArray()).Port.Name);

        f = Udp(A, B, ipDst: "10.0.0.8");
        r = d.Receive("veth0", ref f.Decoded, f.Frame, 2 * Sec);
        Assert.Equal((BrDecision.Local, true, Mac(BrMac)), (r.Decision, r.UpToBridge, r.DstMac));
    }

    [Fact]
    public void Flooded_copies_meet_forward_and_postrouting_per_port_and_input_for_the_local_copy()
    {
        var log = new List<string>();
        var d = Decision(Table("filter", """
            -A FORWARD -o veth1 -j DROP
            -A FORWARD -j mark --mark-set 0x7 --mark-target ACCEPT
            -A INPUT --pkttype-type broadcast -j DROP
            """) + Table("nat", "-A POSTROUTING -o veth2 -j snat --to-src 02:00:00:00:00:99"));
        d.BrNetfilter = new OrderHooks(log, BrNfVerdict.Accept);
        var f = Udp(A, Bcast);
        var r = d.Receive("veth0", ref f.Decoded, f.Frame, Sec);
        Assert.Equal((BrDecision.Flood, false, "FilterInput filter:INPUT:1"), (r.Decision, r.UpToBridge, r.Drop.ToString()));
        var e = d.Egress.ToArray().OrderBy(x => x.Port.Name).ToArray();
        Assert.Equal(("veth1", false, "FilterForward filter:FORWARD:1"), (e[0].Port.Name, e[0].Sent, e[0].Outcome.ToString()));
        Assert.Equal(("veth2", true, Mac("02:00:00:00:00:99"), 0x7u), (e[1].Port.Name, e[1].Sent, e[1].SrcMac, e[1].Mark));

        // The clones are independent: the snat on veth2 is not on the copy that goes up, nor is the mark.
        Assert.Equal((Mac(A), 0u), (r.SrcMac, r.Mark));

        // br_netfilter runs after ebtables nat PREROUTING, between filter FORWARD and nat POSTROUTING, and after nat POSTROUTING.
        Assert.Equal(["brnf-pre veth0 ff:ff:ff:ff:ff:ff", "brnf-fwd veth0>veth2 mark=7", "brnf-post veth2 02:00:00:00:00:99"], log);
    }

    [Fact]
    public void Br_netfilter_can_drop_a_forwarded_copy()
    {
        var d = Decision();
        d.BrNetfilter = new OrderHooks([], BrNfVerdict.Drop);
        var f = Udp(A, B);
        d.Receive("veth0", ref f.Decoded, f.Frame, Sec);
        var e = d.Egress.ToArray().OrderBy(x => x.Port.Name).ToArray();
        Assert.Equal((true, false, BrStage.BrNfForward), (e[0].Sent, e[1].Sent, e[1].Outcome.Stage));
    }

    [Fact]
    public void Link_local_groups_are_not_bridged_except_stp_with_stp_off()
    {
        var d = Decision(Table("filter", "-A INPUT -d 01:80:c2:00:00:0e -j DROP"));
        var lldp = Udp(A, "01:80:c2:00:00:0e");
        var r = d.Receive("veth0", ref lldp.Decoded, lldp.Frame, Sec);
        Assert.Equal((BrDecision.LinkLocal, false, 0), (r.Decision, r.UpToBridge, r.EgressCount));
        var lacp = Udp(A, "01:80:c2:00:00:02");
        r = d.Receive("veth0", ref lacp.Decoded, lacp.Frame, Sec);
        Assert.Equal((BrDecision.LinkLocal, true), (r.Decision, r.UpToBridge));
        var stp = Udp(A, "01:80:c2:00:00:00");
        Assert.Equal(BrDecision.Flood, d.Receive("veth0", ref stp.Decoded, stp.Frame, Sec).Decision);
    }

    [Fact]
    public void An_unknown_target_leaves_the_fate_unknown_and_says_where()
    {
        var d = Decision(Table("nat", "-A PREROUTING -p IPv4 -j ulog --ulog-prefix x") + Table("filter", "-A FORWARD -o veth2 -j ulog"));
        var f = Udp(A, B);
        var r = d.Receive("veth0", ref f.Decoded, f.Frame, Sec);
        Assert.Equal((BrDecision.Unknown, XtVerdict.Unknown, "NatPreRouting nat:PREROUTING:1", true), (r.Decision, r.Drop.Verdict, r.Drop.ToString(), r.DependsOnUnknown));

        var arp = Arp(A, Bcast, PacketDotNet.ArpOperation.Request, "10.0.0.1", "10.0.0.2");
        d.Receive("veth0", ref arp.Decoded, arp.Frame, Sec);
        var e = d.Egress.ToArray().Single(x => x.Port.Name == "veth2");
        Assert.Equal((false, XtVerdict.Unknown, "FilterForward filter:FORWARD:1"), (e.Sent, e.Outcome.Verdict, e.Outcome.ToString()));
    }

    [Fact]
    public void A_bare_target_name_that_is_no_chain_is_an_unknown_target()
    {
        var d = Decision(Table("filter", "-A FORWARD -p IPv4 -j NOPE"));
        var f = Udp(A, B);
        d.Receive("veth0", ref f.Decoded, f.Frame, Sec);
        Assert.All(d.Egress.ToArray(), e => Assert.Equal((false, XtVerdict.Unknown), (e.Sent, e.Outcome.Verdict)));
    }
}
