using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Tables;
using static TraceReplay.Tests.Netfilter.Tables.TableHarness;

namespace TraceReplay.Tests.Netfilter.Tables;

/// <summary>
/// The tables over the real conntrack table: NfCtInfo.From hands ctinfo and the entry to the
/// matches, CommitCtMark writes CONNMARK back (as ct->mark is the entry's). A connection's first
/// packet is NEW, the reply ESTABLISHED (nf_conntrack_in on a confirmed entry, reply direction).
/// </summary>
public sealed class ConntrackBridgeTests
{
    private const long Ms = 1_000_000;

    [Fact]
    public void State_and_connmark_through_the_conntrack_table()
    {
        var ct = new NfConntrackTable(new NfConntrackSettings { Acct = true });
        var t = Filter("""
            -A FORWARD -m conntrack --ctstate ESTABLISHED -m connmark --mark 0x7 -m connbytes --connbytes 2: --connbytes-dir both --connbytes-mode packets -j ACCEPT
            -A FORWARD -m conntrack --ctstate NEW -m conntrack --ctdir ORIGINAL -j CONNMARK --set-mark 0x7
            -A FORWARD -m conntrack --ctstate NEW -j ACCEPT
            -A FORWARD -j DROP
            """);

        // The SYN: NEW; CONNMARK sets 0x7 on the (unconfirmed) entry; accepted by FORWARD:3.
        var syn = Tcp(src: "10.0.0.1", sport: 40000, dst: "192.0.2.7", dport: 80);
        long now = 1000 * Ms;
        var info = ct.ConntrackIn(in syn.Decoded, syn.Frame, now);
        Assert.Equal(CtState.New, info.State);
        var p = new XtActionParam(ref syn.Decoded, syn.Frame, NfInetHook.Forward) { InDev = "eth0", OutDev = "eth1", TimeNs = now, Ct = NfCtInfo.From(ct, info, now) };
        var v = t.DoTable(ref p);
        Assert.Equal((XtVerdict.Accept, "FORWARD:3"), (v.Verdict, Where(t, v)));
        Assert.True(p.CtMarkChanged);
        p.CommitCtMark(ct);
        Assert.True(ct.Confirm(info.Entry, now));
        Assert.Equal(0x7u, ct[info.Entry].Mark);

        // The SYN-ACK: ESTABLISHED in the reply direction, the mark read back from the entry, two packets counted.
        var synAck = SynAck();
        now += 10 * Ms;
        var r = ct.ConntrackIn(in synAck.Decoded, synAck.Frame, now);
        Assert.Equal((CtState.Established, CtDirection.Reply), (r.State, r.Direction));
        var ctInfo = NfCtInfo.From(ct, r, now);
        Assert.Equal((0x7u, 1UL, 1UL, true), (ctInfo.Mark, ctInfo.OrigPackets, ctInfo.ReplyPackets, ctInfo.HasAcct));
        Assert.True(ctInfo.ExpiresSeconds > 0);
        var q = new XtActionParam(ref synAck.Decoded, synAck.Frame, NfInetHook.Forward) { InDev = "eth1", OutDev = "eth0", TimeNs = now, Ct = ctInfo };
        var w = t.DoTable(ref q);
        Assert.Equal((XtVerdict.Accept, "FORWARD:1"), (w.Verdict, Where(t, w)));
        Assert.False(q.CtMarkChanged);
    }

    /// <summary>The server's answer to Frames.TcpV4's SYN (sequence 1000): ACK 1001, so tcp_in_window accepts it.</summary>
    private static TestPacket SynAck()
    {
        var tcp = new PacketDotNet.TcpPacket(80, 40000) { Synchronize = true, Acknowledgment = true, SequenceNumber = 5000, AcknowledgmentNumber = 1001, WindowSize = 65535 };
        var ip = new PacketDotNet.IPv4Packet(System.Net.IPAddress.Parse("192.0.2.7"), System.Net.IPAddress.Parse("10.0.0.1")) { TimeToLive = 64, PayloadPacket = tcp };
        ip.UpdateCalculatedValues();
        tcp.UpdateTcpChecksum();
        ip.UpdateIPChecksum();
        return new TestPacket(new PacketDotNet.EthernetPacket(TraceReplay.Tests.Support.Frames.MacB, TraceReplay.Tests.Support.Frames.MacA, PacketDotNet.EthernetType.IPv4) { PayloadPacket = ip }.Bytes);
    }

    [Fact]
    public void A_packet_without_an_entry_is_invalid()
    {
        // A bare ACK with nf_conntrack_tcp_loose=0 is "invalid new": no entry, state INVALID.
        var ct = new NfConntrackTable(new NfConntrackSettings { TcpLoose = false });
        var ack = Tcp(syn: false, ack: true);
        var info = ct.ConntrackIn(in ack.Decoded, ack.Frame, 0);
        var c = NfCtInfo.From(ct, info, 0);
        Assert.Equal((CtState.Invalid, -1, false), (c.State, c.Entry, c.HasEntry));
        var t = Filter("-A FORWARD -m conntrack --ctstate INVALID -j DROP");
        var v = Run(t, ack, setup: (ref XtActionParam p) => p.Ct = c);
        Assert.Equal((XtVerdict.Drop, "FORWARD:1"), (v.Verdict, Where(t, v)));
    }
}
