using TraceReplay.Capture.Decode;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Conntrack;
using static TraceReplay.Tests.Netfilter.Conntrack.CtPackets;

namespace TraceReplay.Tests.Netfilter.Conntrack;

/// <summary>
/// nf_conntrack_tcp_packet driven through whole conversations. Client 10.0.0.1:40000 (ISN 1000),
/// server 10.0.0.2:80 (ISN 5000); expected states and timeouts are the kernel's (tcp_timeouts[] and
/// the rules at the end of nf_conntrack_tcp_packet), reasoned next to each step.
/// </summary>
public class TcpTrackerTests
{
    private const string C = "10.0.0.1", Srv = "10.0.0.2";
    private const TcpFlags A = TcpFlags.Ack;

    private static DecodedPacket Cli(TcpFlags f, uint seq, uint ack, int data = 0) => Tcp(C, 40000, Srv, 80, f, seq, ack, data: data);

    private static DecodedPacket Ser(TcpFlags f, uint seq, uint ack, int data = 0) => Tcp(Srv, 80, C, 40000, f, seq, ack, data: data);

    /// <summary>SYN, SYN/ACK, ACK: returns the entry.</summary>
    private static int Handshake(NfConntrackTable t, long now = 0)
    {
        var syn = t.Pass(Cli(TcpFlags.Syn, 1000, 0), now);
        t.Pass(Ser(TcpFlags.Syn | A, 5000, 1001), now + 1);
        t.Pass(Cli(A, 1001, 5001), now + 2);
        return syn.Entry;
    }

    [Fact]
    public void Three_way_handshake_goes_new_established_assured_with_kernel_timeouts()
    {
        var t = Table();
        var syn = t.ConntrackIn(Cli(TcpFlags.Syn, 1000, 0), default, 0);
        Assert.Equal((CtState.New, CtDirection.Original), (syn.State, syn.Direction));
        Assert.False(t[syn.Entry].IsConfirmed); // unconfirmed until the confirm hook
        Assert.True(t.Confirm(syn.Entry, 0));
        Assert.Equal(TcpConntrack.SynSent, t[syn.Entry].Tcp.State);
        Assert.Equal(120, t.SecondsLeft(syn.Entry, 0)); // tcp_timeouts[SYN_SENT] = 2 MINS

        var synack = t.Pass(Ser(TcpFlags.Syn | A, 5000, 1001), 1 * S);
        Assert.Equal((syn.Entry, CtState.Established, CtDirection.Reply), (synack.Entry, synack.State, synack.Direction));
        Assert.Equal(TcpConntrack.SynRecv, t[syn.Entry].Tcp.State); // REPLY synack sSS -> sSR "Standard open."
        Assert.Equal(60, t.SecondsLeft(syn.Entry, 1 * S));
        Assert.False(t[syn.Entry].IsAssured);

        var ack = t.Pass(Cli(A, 1001, 5001), 2 * S);
        Assert.Equal(CtState.Established, ack.State); // SEEN_REPLY: "Once we've had two way comms, always ESTABLISHED"
        Assert.Equal(TcpConntrack.Established, t[syn.Entry].Tcp.State);
        Assert.True(t[syn.Entry].IsAssured); // valid ACK in ESTABLISHED after SYN_RECV
        Assert.Equal(432000, t.SecondsLeft(syn.Entry, 2 * S)); // 5 DAYS
    }

    [Fact]
    public void Retransmitted_syn_before_a_reply_is_new_and_does_not_renew_the_timeout()
    {
        var t = Table();
        var first = t.Pass(Cli(TcpFlags.Syn, 1000, 0), 0);
        var again = t.Pass(Cli(TcpFlags.Syn, 1000, 0), 3 * S);
        Assert.Equal(first.Entry, again.Entry);
        Assert.Equal(CtState.New, again.State);
        // "do not renew timeout on SYN retransmit": still 120 s from the first SYN.
        Assert.Equal(120 * S, t[first.Entry].Timeout);
        Assert.Equal(1UL, t[first.Entry].OrigPackets); // the early return skips nf_ct_refresh_acct
    }

    [Fact]
    public void Unacknowledged_data_shortens_to_tcp_timeout_unacknowledged_until_acked()
    {
        var t = Table();
        int e = Handshake(t);
        t.Pass(Cli(A | TcpFlags.Psh, 1001, 5001, data: 100), 10 * S);
        Assert.Equal(300, t.SecondsLeft(e, 10 * S)); // DATA_UNACKNOWLEDGED and ESTABLISHED > UNACK
        t.Pass(Ser(A, 5001, 1101), 11 * S);
        Assert.Equal(432000, t.SecondsLeft(e, 11 * S)); // ack == receiver td_end clears the flag
    }

    [Fact]
    public void Fin_teardown_walks_fin_wait_close_wait_last_ack_time_wait()
    {
        var t = Table();
        int e = Handshake(t);
        t.Pass(Cli(TcpFlags.Fin | A, 1001, 5001), 10 * S);
        Assert.Equal(TcpConntrack.FinWait, t[e].Tcp.State);
        Assert.True((t[e].Tcp.Seen[0].Flags & TcpConntrackFlags.CloseInit) != 0);
        t.Pass(Ser(A, 5001, 1002), 11 * S);
        Assert.Equal(TcpConntrack.CloseWait, t[e].Tcp.State);
        Assert.Equal(60, t.SecondsLeft(e, 11 * S));
        t.Pass(Ser(TcpFlags.Fin | A, 5001, 1002), 12 * S);
        Assert.Equal(TcpConntrack.LastAck, t[e].Tcp.State);
        Assert.Equal(30, t.SecondsLeft(e, 12 * S));
        t.Pass(Cli(A, 1002, 5002), 13 * S);
        Assert.Equal(TcpConntrack.TimeWait, t[e].Tcp.State);
        Assert.Equal(120, t.SecondsLeft(e, 13 * S));
    }

    [Fact]
    public void Syn_in_time_wait_after_a_close_reopens_as_a_new_connection()
    {
        var t = Table();
        int e = Handshake(t);
        t.Pass(Cli(TcpFlags.Fin | A, 1001, 5001), 10 * S);
        t.Pass(Ser(TcpFlags.Fin | A, 5001, 1002), 11 * S);
        t.Pass(Cli(A, 1002, 5002), 12 * S);
        Assert.Equal(TcpConntrack.TimeWait, t[e].Tcp.State);
        t.ClearEvents();

        // ORIGINAL syn sTW -> sSS with CLOSE_INIT set: nf_ct_kill and -NF_REPEAT, a fresh entry.
        var reopen = t.ConntrackIn(Cli(TcpFlags.Syn, 90000, 0), default, 20 * S);
        Assert.Equal(CtState.New, reopen.State);
        Assert.Equal(NfctEventType.Destroy, Assert.Single(t.Events.ToArray()).Type);
        Assert.True(t.Confirm(reopen.Entry, 20 * S));
        Assert.Equal(TcpConntrack.SynSent, t[reopen.Entry].Tcp.State);
    }

    [Fact]
    public void Rst_closes_with_the_close_timeout()
    {
        var t = Table();
        int e = Handshake(t);
        // seq equals the server's td_maxack (1001): an exact RST is accepted.
        t.Pass(Cli(TcpFlags.Rst | A, 1001, 5001), 10 * S);
        Assert.Equal(TcpConntrack.Close, t[e].Tcp.State);
        Assert.Equal(10, t.SecondsLeft(e, 10 * S)); // index == TCP_RST_SET: timeouts[CLOSE]
    }

    [Fact]
    public void Rst_below_the_peers_max_ack_is_invalid()
    {
        var t = Table();
        int e = Handshake(t);
        t.Pass(Cli(A | TcpFlags.Psh, 1001, 5001, data: 50), 5 * S);
        t.Pass(Ser(A, 5001, 1051), 6 * S); // server's td_maxack = 1051
        var rst = t.Pass(Cli(TcpFlags.Rst, 1001, 0), 7 * S);
        Assert.Equal((CtState.Invalid, CtReason.TcpInvalidRst), (rst.State, rst.Reason));
        Assert.Equal(TcpConntrack.Established, t[e].Tcp.State);
    }

    [Fact]
    public void Rst_as_the_only_reply_deletes_the_connection()
    {
        var t = Table();
        var syn = t.Pass(Cli(TcpFlags.Syn, 1000, 0), 0);
        t.ClearEvents();
        var rst = t.Pass(Ser(TcpFlags.Rst | A, 0, 1001), 1 * S);
        Assert.Equal((syn.Entry, CtState.Established, CtDirection.Reply), (rst.Entry, rst.State, rst.Direction));
        var destroy = Assert.Single(t.Events.ToArray());
        Assert.Equal((NfctEventType.Destroy, 1 * S), (destroy.Type, destroy.Time));
        // The next SYN finds nothing: NEW again.
        Assert.Equal(CtState.New, t.Pass(Cli(TcpFlags.Syn, 1000, 0), 2 * S).State);
        Assert.Equal(1, t.Count);
    }

    [Fact]
    public void Simultaneous_open_reaches_established_through_syn_sent2()
    {
        var t = Table();
        int e = t.Pass(Cli(TcpFlags.Syn, 1000, 0), 0).Entry;
        t.Pass(Ser(TcpFlags.Syn, 5000, 0), 1);
        Assert.Equal(TcpConntrack.SynSent2, t[e].Tcp.State); // REPLY syn sSS -> sS2 "Simultaneous open"
        t.Pass(Cli(TcpFlags.Syn | A, 1000, 5001), 2);
        Assert.Equal(TcpConntrack.SynRecv, t[e].Tcp.State); // ORIGINAL synack sS2 -> sSR
        t.Pass(Ser(A, 5001, 1001), 3);
        // REPLY ack sSR -> sSR, promoted to ESTABLISHED by IP_CT_TCP_SIMULTANEOUS_OPEN.
        Assert.Equal(TcpConntrack.Established, t[e].Tcp.State);
        Assert.True(t[e].IsAssured);
    }

    [Fact]
    public void Out_of_window_segment_is_invalid_unless_be_liberal()
    {
        foreach (bool liberal in new[] { false, true })
        {
            var t = Table(liberal: liberal);
            int e = Handshake(t);
            // Far beyond td_maxend (the server advertised 64240): "SEQ is over upper bound".
            var far = t.Pass(Cli(A, 1001 + 10_000_000, 5001, data: 10), 5 * S);
            if (liberal)
            {
                Assert.Equal(CtState.Established, far.State);
            }
            else
            {
                Assert.Equal((CtState.Invalid, CtReason.TcpOutOfWindow), (far.State, far.Reason));
                Assert.Equal(e, t.Find(t[e].Orig, 0, 5 * S).Entry); // the connection stays
            }
        }
    }

    [Fact]
    public void Acking_data_never_sent_is_invalid()
    {
        var t = Table();
        Handshake(t);
        var p = t.Pass(Ser(A, 5001, 1001 + 500), 5 * S); // ACK is over upper bound (ACKed data not seen yet)
        Assert.Equal(CtReason.TcpOutOfWindow, p.Reason);
    }

    [Fact]
    public void Three_retransmissions_cut_the_timeout_to_max_retrans()
    {
        var sys = Sysctls.Parse("net.netfilter.nf_conntrack_tcp_timeout_max_retrans = 200\n", "sysctl.conf");
        var t = Table(timeouts: NfConntrackTimeouts.FromSysctls(sys));
        int e = Handshake(t);
        var seg = Cli(A | TcpFlags.Psh, 1001, 5001, data: 100);
        t.Pass(seg, 10 * S);
        Assert.Equal(300, t.SecondsLeft(e, 10 * S)); // unacknowledged data
        t.Pass(seg, 11 * S);
        t.Pass(seg, 12 * S);
        Assert.Equal(300, t.SecondsLeft(e, 12 * S)); // retrans = 2
        t.Pass(seg, 13 * S);
        Assert.Equal(3, t[e].Tcp.Retrans);
        Assert.Equal(200, t.SecondsLeft(e, 13 * S)); // retrans >= tcp_max_retrans (3)
    }

    [Fact]
    public void Loose_pickup_of_a_mid_stream_ack_is_new_and_established_capped_at_unack_timeout()
    {
        var t = Table();
        var p = t.Pass(Cli(A | TcpFlags.Psh, 777, 888, data: 10), 0);
        Assert.Equal(CtState.New, p.State); // no reply seen yet
        Assert.Equal(TcpConntrack.Established, t[p.Entry].Tcp.State); // ORIGINAL ack sNO -> sES "Assumed."
        Assert.Equal(300, t.SecondsLeft(p.Entry, 0)); // ESTABLISHED without SEEN_REPLY: at most UNACK
        var reply = t.Pass(Ser(A, 888, 787), 1 * S);
        Assert.Equal(CtState.Established, reply.State);
        t.Pass(Cli(A, 787, 888), 2 * S);
        Assert.True(t[p.Entry].IsAssured); // "a valid answer for a picked up connection"
    }

    [Fact]
    public void Without_tcp_loose_a_mid_stream_ack_is_invalid_and_leaves_nothing()
    {
        var t = Table(loose: false);
        var p = t.ConntrackIn(Cli(A, 777, 888), default, 0);
        Assert.Equal((CtState.Invalid, CtReason.TcpInvalidNew, -1), (p.State, p.Reason, p.Entry));
        Assert.Equal(0, t.Count);
    }

    [Theory]
    [InlineData(TcpFlags.Syn | TcpFlags.Fin)]
    [InlineData(TcpFlags.Syn | TcpFlags.Rst)]
    [InlineData(TcpFlags.Fin)]
    [InlineData(TcpFlags.None)]
    public void Flag_combinations_outside_tcp_valid_flags_are_invalid(TcpFlags flags)
    {
        var t = Table();
        var p = t.ConntrackIn(Cli(flags, 1, 0), default, 0);
        Assert.Equal((CtState.Invalid, CtReason.TcpBadFlags), (p.State, p.Reason));
        Assert.Equal(0, t.Count);
    }

    [Fact]
    public void Syn_ack_as_first_packet_is_invalid_new()
    {
        var t = Table();
        var p = t.ConntrackIn(Ser(TcpFlags.Syn | A, 5000, 1001), default, 0); // ORIGINAL synack sNO -> sIV
        Assert.Equal(CtReason.TcpInvalidNew, p.Reason);
    }

    [Fact]
    public void Window_scale_is_read_from_the_syn_options_in_the_frame()
    {
        var t = Table();
        var syn = Cli(TcpFlags.Syn, 1000, 0);
        syn.TcpHeaderLength = 24;
        syn.IpTotalLength = 44;
        byte[] frame = new byte[syn.L4Offset + 24];
        new byte[] { 1, 3, 3, 7 }.CopyTo(frame.AsSpan(syn.L4Offset + 20)); // NOP, window scale 7
        var info = t.ConntrackIn(in syn, frame, 0);
        Assert.Equal(7, t[info.Entry].Tcp.Seen[0].TdScale);
        Assert.Equal(1001u, t[info.Entry].Tcp.Seen[0].TdEnd); // seq + SYN, the options are not payload
    }
}
