using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Tests.Netfilter.Conntrack;

/// <summary>
/// tcp_conntracks[dir][flags][state] checked cell by cell against the comments under each row of the
/// table in net/netfilter/nf_conntrack_proto_tcp.c (Linux 6.x; the comment text is the test's label).
/// </summary>
public class TcpStateTableTests
{
    private const string O = "ORIGINAL", R = "REPLY";

    // (direction, packet, from, to, kernel comment)
    public static TheoryData<string, string, string, string, string> Cells => new()
    {
        { O, "syn", "sNO", "sSS", "Initialize a new connection" },
        { O, "syn", "sSS", "sSS", "Retransmitted SYN" },
        { O, "syn", "sS2", "sS2", "Late retransmitted SYN" },
        { O, "syn", "sSR", "sIG", "" },
        { O, "syn", "sES", "sIG", "Error: SYNs in window outside the SYN_SENT state are errors. Receiver will reply with RST and close the connection. Or we are not in sync and hold a dead connection." },
        { O, "syn", "sFW", "sIG", "" },
        { O, "syn", "sCW", "sIG", "" },
        { O, "syn", "sLA", "sIG", "" },
        { O, "syn", "sTW", "sSS", "Reopened connection (RFC 1122)." },
        { O, "syn", "sCL", "sSS", "" },
        { O, "synack", "sNO", "sIV", "Too late and no reason to do anything" },
        { O, "synack", "sSS", "sIV", "Client can't send SYN and then SYN/ACK" },
        { O, "synack", "sS2", "sSR", "SYN/ACK sent to SYN2 in simultaneous open" },
        { O, "synack", "sSR", "sSR", "Late retransmitted SYN/ACK in simultaneous open" },
        { O, "synack", "sES", "sIV", "Invalid SYN/ACK packets sent by the client" },
        { O, "synack", "sFW", "sIV", "" },
        { O, "synack", "sCW", "sIV", "" },
        { O, "synack", "sLA", "sIV", "" },
        { O, "synack", "sTW", "sIV", "" },
        { O, "synack", "sCL", "sIV", "" },
        { O, "fin", "sNO", "sIV", "Too late and no reason to do anything..." },
        { O, "fin", "sSS", "sIV", "Client migth not send FIN in this state: we enforce waiting for a SYN/ACK reply first." },
        { O, "fin", "sS2", "sIV", "" },
        { O, "fin", "sSR", "sFW", "Close started." },
        { O, "fin", "sES", "sFW", "" },
        { O, "fin", "sFW", "sLA", "FIN seen in both directions, waiting for the last ACK. Migth be a retransmitted FIN as well..." },
        { O, "fin", "sCW", "sLA", "" },
        { O, "fin", "sLA", "sLA", "Retransmitted FIN. Remain in the same state." },
        { O, "fin", "sTW", "sTW", "" },
        { O, "fin", "sCL", "sCL", "" },
        { O, "ack", "sNO", "sES", "Assumed." },
        { O, "ack", "sSS", "sIV", "ACK is invalid: we haven't seen a SYN/ACK yet." },
        { O, "ack", "sS2", "sIV", "" },
        { O, "ack", "sSR", "sES", "Established state is reached." },
        { O, "ack", "sES", "sES", ":-)" },
        { O, "ack", "sFW", "sCW", "Normal close request answered by ACK." },
        { O, "ack", "sCW", "sCW", "" },
        { O, "ack", "sLA", "sTW", "Last ACK detected (RFC5961 challenged)" },
        { O, "ack", "sTW", "sTW", "Retransmitted last ACK. Remain in the same state." },
        { O, "ack", "sCL", "sCL", "" },
        { O, "rst", "sNO", "sIV", "" },
        { O, "rst", "sSS", "sCL", "" },
        { O, "rst", "sES", "sCL", "" },
        { O, "rst", "sTW", "sCL", "" },
        { O, "rst", "sS2", "sCL", "" },
        { O, "none", "sES", "sIV", "" },
        { R, "syn", "sNO", "sIV", "Never reached." },
        { R, "syn", "sSS", "sS2", "Simultaneous open" },
        { R, "syn", "sS2", "sS2", "Retransmitted simultaneous SYN" },
        { R, "syn", "sSR", "sIV", "Invalid SYN packets sent by the server" },
        { R, "syn", "sES", "sIV", "" },
        { R, "syn", "sFW", "sIV", "" },
        { R, "syn", "sCW", "sIV", "" },
        { R, "syn", "sLA", "sIV", "" },
        { R, "syn", "sTW", "sSS", "Reopened connection, but server may have switched role" },
        { R, "syn", "sCL", "sIV", "" },
        { R, "synack", "sSS", "sSR", "Standard open." },
        { R, "synack", "sS2", "sSR", "Simultaneous open" },
        { R, "synack", "sSR", "sIG", "Retransmitted SYN/ACK, ignore it." },
        { R, "synack", "sES", "sIG", "Late retransmitted SYN/ACK?" },
        { R, "synack", "sFW", "sIG", "Might be SYN/ACK answering ignored SYN" },
        { R, "synack", "sCW", "sIG", "" },
        { R, "synack", "sLA", "sIG", "" },
        { R, "synack", "sTW", "sIG", "" },
        { R, "synack", "sCL", "sIG", "" },
        { R, "fin", "sSS", "sIV", "Server might not send FIN in this state." },
        { R, "fin", "sS2", "sIV", "" },
        { R, "fin", "sSR", "sFW", "Close started." },
        { R, "fin", "sES", "sFW", "" },
        { R, "fin", "sFW", "sLA", "FIN seen in both directions." },
        { R, "fin", "sCW", "sLA", "" },
        { R, "fin", "sLA", "sLA", "Retransmitted FIN." },
        { R, "fin", "sTW", "sTW", "" },
        { R, "fin", "sCL", "sCL", "" },
        { R, "ack", "sSS", "sIG", "Might be a half-open connection." },
        { R, "ack", "sS2", "sIG", "" },
        { R, "ack", "sSR", "sSR", "Might answer late resent SYN." },
        { R, "ack", "sES", "sES", ":-)" },
        { R, "ack", "sFW", "sCW", "Normal close request answered by ACK." },
        { R, "ack", "sCW", "sCW", "" },
        { R, "ack", "sLA", "sTW", "Last ACK detected (RFC5961 challenged)" },
        { R, "ack", "sTW", "sTW", "Retransmitted last ACK." },
        { R, "ack", "sCL", "sCL", "" },
        { R, "rst", "sNO", "sIV", "" },
        { R, "rst", "sSR", "sCL", "" },
        { R, "rst", "sLA", "sCL", "" },
        { R, "none", "sSS", "sIV", "" },
    };

    private static TcpConntrack State(string s) => s switch
    {
        "sNO" => TcpConntrack.None,
        "sSS" => TcpConntrack.SynSent,
        "sSR" => TcpConntrack.SynRecv,
        "sES" => TcpConntrack.Established,
        "sFW" => TcpConntrack.FinWait,
        "sCW" => TcpConntrack.CloseWait,
        "sLA" => TcpConntrack.LastAck,
        "sTW" => TcpConntrack.TimeWait,
        "sCL" => TcpConntrack.Close,
        "sS2" => TcpConntrack.SynSent2,
        "sIV" => TcpConntrack.Max,
        "sIG" => TcpConntrack.Ignore,
        _ => throw new ArgumentException(s),
    };

    private static TcpFlags Flags(string packet) => packet switch
    {
        "syn" => TcpFlags.Syn,
        "synack" => TcpFlags.Syn | TcpFlags.Ack,
        "fin" => TcpFlags.Fin | TcpFlags.Ack,
        "ack" => TcpFlags.Ack | TcpFlags.Psh,
        "rst" => TcpFlags.Rst | TcpFlags.Ack,
        "none" => TcpFlags.Urg,
        _ => throw new ArgumentException(packet),
    };

    [Theory]
    [MemberData(nameof(Cells))]
    public void Cell_matches_the_kernel_table(string dir, string packet, string from, string to, string comment)
    {
        var d = dir == O ? CtDirection.Original : CtDirection.Reply;
        // get_conntrack_index: RST wins over SYN, SYN over FIN, FIN over ACK.
        byte index = NfConntrackProtoTcp.Index(Flags(packet));
        Assert.True(State(to) == NfConntrackProtoTcp.Transition(d, index, State(from)), $"{dir} {packet} {from} -> {to}: {comment}");
    }

    [Fact]
    public void Conntrack_index_prefers_rst_then_syn_then_fin()
    {
        Assert.Equal(NfConntrackProtoTcp.TcpRstSet, NfConntrackProtoTcp.Index(TcpFlags.Rst | TcpFlags.Syn | TcpFlags.Fin | TcpFlags.Ack));
        Assert.Equal(NfConntrackProtoTcp.TcpSynAckSet, NfConntrackProtoTcp.Index(TcpFlags.Syn | TcpFlags.Fin | TcpFlags.Ack));
        Assert.Equal(NfConntrackProtoTcp.TcpFinSet, NfConntrackProtoTcp.Index(TcpFlags.Fin | TcpFlags.Ack));
        Assert.Equal(NfConntrackProtoTcp.TcpNoneSet, NfConntrackProtoTcp.Index(TcpFlags.Psh));
    }

    [Fact]
    public void Tcp_options_give_window_scale_capped_at_14_and_sack_permitted()
    {
        // MSS 1460, SACK-permitted, timestamps, NOP, window scale 15 (RFC 1323 caps it at 14; tcp_options does too).
        byte[] opt = [2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 15];
        var s = new IpCtTcpState { Flags = TcpConntrackFlags.BeLiberal | TcpConntrackFlags.CloseInit };
        NfConntrackProtoTcp.ParseOptions(opt, ref s);
        Assert.Equal(14, s.TdScale);
        Assert.Equal(TcpConntrackFlags.BeLiberal | TcpConntrackFlags.SackPerm | TcpConntrackFlags.WindowScale, s.Flags);

        // A partial option stops parsing ("don't parse partial options").
        var t = default(IpCtTcpState);
        NfConntrackProtoTcp.ParseOptions([1, 3, 3], ref t);
        Assert.Equal(TcpConntrackFlags.None, t.Flags);
    }
}
