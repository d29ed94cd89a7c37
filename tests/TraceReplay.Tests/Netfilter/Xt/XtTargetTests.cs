using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Tests.Netfilter.Tables;
using static TraceReplay.Tests.Netfilter.Tables.TableHarness;

namespace TraceReplay.Tests.Netfilter.Xt;

/// <summary>
/// Targets: the verdict each returns and what it leaves on the context for the hook layer
/// (marks, ct mark, NAT / CT / REJECT requests, log records, nf_trace). Expectations follow the
/// kernel function cited on each test.
/// </summary>
public sealed class XtTargetTests
{
    private static ParamSetup Tracked(uint ctmark, uint mark = 0) => (ref XtActionParam p) =>
    {
        p.Ct = new NfCtInfo { State = CtState.Established, Mark = ctmark };
        p.Mark = mark;
    };

    [Fact]
    public void Mark_sets_the_skb_mark_and_continues()
    {
        // mark_tg: (0xff00 & ~0x0f) ^ 0x05 = 0xff05.
        var t = Filter("-A FORWARD -j MARK --set-xmark 0x5/0xf\n-A FORWARD -j MARK --or-mark 0x10000");
        var r = RunFull(t, Tcp(), setup: (ref XtActionParam p) => p.Mark = 0xff00);
        Assert.Equal(0x1ff05u, r.Mark);
        Assert.Equal((XtVerdict.Accept, true), (r.Verdict.Verdict, t.Describe(r.Verdict.Entry).IsPolicy));
    }

    [Theory]
    // connmark_tg_shift SET: (0x1ff & ~0xf0) ^ 0x10 = 0x11f.
    [InlineData("--set-xmark 0x10/0xf0", 0x1ffu, 0u, 0x11fu, 0u)]
    // SAVE: (ct & ~ctmask) ^ (mark & nfmask) = (0xab00 & ~0xff) ^ (0x1234 & 0xff) = 0xab34.
    [InlineData("--save-mark --nfmask 0xff --ctmask 0xff", 0xab00u, 0x1234u, 0xab34u, 0x1234u)]
    // RESTORE: (mark & ~nfmask) ^ (ct & ctmask) = (0x1200 & ~0xff) ^ (0xab34 & 0xff) = 0x1234.
    [InlineData("--restore-mark --mask 0xff", 0xab34u, 0x1200u, 0xab34u, 0x1234u)]
    // SAVE with a left shift of 8: (0 & ~0xffffffff) ^ ((0x12 & 0xff) << 8).
    [InlineData("--save-mark --nfmask 0xff --ctmask 0xffffffff --left-shift-mark 8", 0u, 0x12u, 0x1200u, 0x12u)]
    public void Connmark_target(string options, uint ctmark, uint mark, uint ctAfter, uint markAfter)
    {
        var t = Filter("-A FORWARD -j CONNMARK " + options);
        var r = RunFull(t, Tcp(), setup: Tracked(ctmark, mark));
        Assert.Equal((ctAfter, markAfter), (r.Ct.Mark, r.Mark));
    }

    [Fact]
    public void Connmark_without_an_entry_changes_nothing()
    {
        var t = Filter("-A FORWARD -j CONNMARK --set-mark 0x7\n-A FORWARD -j CONNMARK --restore-mark");
        var r = RunFull(t, Tcp(), setup: (ref XtActionParam p) => p.Mark = 0x3);
        Assert.Equal((0u, 0x3u), (r.Ct.Mark, r.Mark));
    }

    [Fact]
    public void Reject_drops_and_records_the_reply()
    {
        var t = Filter("-A FORWARD -p tcp -j REJECT --reject-with tcp-reset\n-A FORWARD -j REJECT");
        var tcp = RunFull(t, Tcp());
        Assert.Equal(XtVerdict.Drop, tcp.Verdict.Verdict);
        Assert.Equal((RejectWith.TcpReset, t.EntryOf("FORWARD", 1)), (tcp.Reject.With, tcp.Reject.Entry));
        var udp = RunFull(t, Udp());
        Assert.Equal((RejectWith.IcmpPortUnreachable, t.EntryOf("FORWARD", 2)), (udp.Reject.With, udp.Reject.Entry));
    }

    [Fact]
    public void Nat_targets_request_nat_and_accept()
    {
        var nat = Compile("""
            *nat
            :PREROUTING ACCEPT [0:0]
            :INPUT ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            :POSTROUTING ACCEPT [0:0]
            -A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
            -A PREROUTING -p udp -j REDIRECT --to-ports 5353
            -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
            -A POSTROUTING -s 10.0.0.0/8 -j SNAT --to-source 198.51.100.1-198.51.100.9
            -A OUTPUT -d 192.0.2.0/24 -j NETMAP --to 10.20.0.0/24
            COMMIT
            """, "nat");
        var d = RunFull(nat, Tcp(dport: 8080), NfInetHook.PreRouting);
        Assert.Equal(XtVerdict.Accept, d.Verdict.Verdict);
        Assert.Equal((XtNatKind.Dnat, NfNatManipType.Dst), (d.Nat.Kind, d.Nat.Manip));
        Assert.Equal((IpAddr.Parse("172.17.0.2"), (ushort)80), (d.Nat.Range.MinAddr, d.Nat.Range.MinProto));

        var r = RunFull(nat, Udp(), NfInetHook.PreRouting);
        Assert.Equal((XtNatKind.Redirect, (ushort)5353), (r.Nat.Kind, r.Nat.Range.MinProto));

        var m = RunFull(nat, Tcp(src: "172.17.0.2"), NfInetHook.PostRouting);
        Assert.Equal((XtNatKind.Masquerade, NfNatManipType.Src), (m.Nat.Kind, m.Nat.Manip));

        var s = RunFull(nat, Tcp(src: "10.0.0.1"), NfInetHook.PostRouting);
        Assert.Equal((XtNatKind.Snat, IpAddr.Parse("198.51.100.1"), IpAddr.Parse("198.51.100.9")), (s.Nat.Kind, s.Nat.Range.MinAddr, s.Nat.Range.MaxAddr));
        Assert.True(s.Nat.Range.Has(NfNatRangeFlags.MapIps));

        // NETMAP at OUTPUT rewrites the destination (netmap_tg4 picks by hook).
        var n = RunFull(nat, Tcp(dst: "192.0.2.7"), NfInetHook.LocalOut);
        Assert.Equal((XtNatKind.Netmap, NfNatManipType.Dst), (n.Nat.Kind, n.Nat.Manip));

        // No rule: no request.
        var none = RunFull(nat, Tcp(src: "192.168.1.1"), NfInetHook.PostRouting);
        Assert.Equal(XtNatKind.None, none.Nat.Kind);
    }

    [Fact]
    public void Notrack_ct_and_trace_in_raw_continue()
    {
        var raw = Compile("""
            *raw
            :PREROUTING ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A PREROUTING -p udp -j NOTRACK
            -A PREROUTING -p tcp -j CT --zone 5
            -A PREROUTING -j TRACE
            COMMIT
            """, "raw");
        var u = RunFull(raw, Udp(), NfInetHook.PreRouting);
        Assert.Equal((XtVerdict.Accept, true, true), (u.Verdict.Verdict, u.CtRequest.Notrack, u.Trace));
        var t = RunFull(raw, Tcp(), NfInetHook.PreRouting);
        Assert.Equal(((ushort)5, false, raw.EntryOf("PREROUTING", 2)), (t.CtRequest.Zone, t.CtRequest.Notrack, t.CtRequest.Entry));
    }

    private sealed class Logs : IXtLogSink
    {
        public List<XtLogRecord> Records { get; } = [];

        public void Log(in XtLogRecord record, in DecodedPacket packet) => Records.Add(record);
    }

    [Fact]
    public void Log_and_nflog_record_and_continue()
    {
        var t = Filter("-A FORWARD -j LOG --log-prefix \"fw: \" --log-level 6\n-A FORWARD -j NFLOG --nflog-group 3 --nflog-prefix x\n-A FORWARD -j DROP");
        var pkt = Tcp();
        var logs = new Logs();
        var p = new XtActionParam(ref pkt.Decoded, pkt.Frame, NfInetHook.Forward) { LogSink = logs, TimeNs = 42 };
        var v = t.DoTable(ref p);
        Assert.Equal(XtVerdict.Drop, v.Verdict);
        Assert.Equal(
            [
                new XtLogRecord(t.EntryOf("FORWARD", 1), false, "fw: ", 6, 0, 42),
                new XtLogRecord(t.EntryOf("FORWARD", 2), true, "x", 0, 3, 42),
            ], logs.Records);
    }

    [Fact]
    public void Every_registered_evaluator_has_a_host_module()
    {
        // The registry found one evaluator per Host type by reflection; a few spot checks of the wiring.
        var matches = TraceReplay.Netfilter.Xt.XtEvaluatorRegistry.MatchTypes;
        var targets = TraceReplay.Netfilter.Xt.XtEvaluatorRegistry.TargetTypes;
        Assert.Contains(typeof(TraceReplay.Host.Iptables.Extensions.Matches.TcpMatch), matches);
        Assert.Contains(typeof(TraceReplay.Host.Iptables.Extensions.Matches.HashlimitMatch), matches);
        Assert.Contains(typeof(MarkTarget), targets);
        Assert.Contains(typeof(DnatTarget), targets);
        Assert.All(matches, m => Assert.True(typeof(XtMatch).IsAssignableFrom(m)));
        Assert.All(targets, m => Assert.True(typeof(XtTarget).IsAssignableFrom(m)));
        Assert.True(matches.Count >= 23);
    }
}
