using System.Buffers.Binary;
using TraceReplay.Capture.Decode;

namespace TraceReplay.Netfilter.Conntrack;

/// <summary>
/// The TCP tracker, net/netfilter/nf_conntrack_proto_tcp.c (Linux 6.x): tcp_error, tcp_new,
/// nf_conntrack_tcp_packet with the tcp_conntracks state table, tcp_in_window window tracking
/// (td_end / td_maxend / td_maxwin / td_scale, SACK), be_liberal, RST validation, TIME_WAIT reopen,
/// ASSURED, and the retransmission / unacknowledged-data timeouts. Checksums are not verified
/// (captures carry offloaded checksums; the kernel checks only at PREROUTING with nf_conntrack_checksum).
/// </summary>
internal static class NfConntrackProtoTcp
{
    // enum tcp_bit_set
    public const byte TcpSynSet = 0;
    public const byte TcpSynAckSet = 1;
    public const byte TcpFinSet = 2;
    public const byte TcpAckSet = 3;
    public const byte TcpRstSet = 4;
    public const byte TcpNoneSet = 5;

    private const byte sNO = (byte)TcpConntrack.None;
    private const byte sSS = (byte)TcpConntrack.SynSent;
    private const byte sSR = (byte)TcpConntrack.SynRecv;
    private const byte sES = (byte)TcpConntrack.Established;
    private const byte sFW = (byte)TcpConntrack.FinWait;
    private const byte sCW = (byte)TcpConntrack.CloseWait;
    private const byte sLA = (byte)TcpConntrack.LastAck;
    private const byte sTW = (byte)TcpConntrack.TimeWait;
    private const byte sCL = (byte)TcpConntrack.Close;
    private const byte sS2 = (byte)TcpConntrack.SynSent2;
    private const byte sIV = (byte)TcpConntrack.Max;
    private const byte sIG = (byte)TcpConntrack.Ignore;

    /// <summary>
    /// tcp_conntracks[2][6][TCP_CONNTRACK_MAX], flattened [dir * 60 + index * 10 + state], exactly as in
    /// the kernel (the kernel's comments on each row are repeated in the tests that check them).
    /// </summary>
    private static ReadOnlySpan<byte> Table =>
    [
        // ORIGINAL    sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2
        /* syn    */   sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2,
        /* synack */   sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR,
        /* fin    */   sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV,
        /* ack    */   sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV,
        /* rst    */   sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL,
        /* none   */   sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV,
        // REPLY       sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2
        /* syn    */   sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2,
        /* synack */   sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR,
        /* fin    */   sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV,
        /* ack    */   sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG,
        /* rst    */   sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL,
        /* none   */   sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV,
    ];

    /// <summary>tcp_conntracks[dir][index][state].</summary>
    public static TcpConntrack Transition(CtDirection dir, int index, TcpConntrack state) =>
        (TcpConntrack)Table[((int)dir * 60) + (index * 10) + (int)state];

    /// <summary>The names tcp_conntrack_names / libnetfilter_conntrack print.</summary>
    public static string Name(TcpConntrack s) => s switch
    {
        TcpConntrack.None => "NONE",
        TcpConntrack.SynSent => "SYN_SENT",
        TcpConntrack.SynRecv => "SYN_RECV",
        TcpConntrack.Established => "ESTABLISHED",
        TcpConntrack.FinWait => "FIN_WAIT",
        TcpConntrack.CloseWait => "CLOSE_WAIT",
        TcpConntrack.LastAck => "LAST_ACK",
        TcpConntrack.TimeWait => "TIME_WAIT",
        TcpConntrack.Close => "CLOSE",
        TcpConntrack.SynSent2 => "SYN_SENT2",
        _ => "NONE",
    };

    /// <summary>get_conntrack_index.</summary>
    public static byte Index(TcpFlags f) =>
        (f & TcpFlags.Rst) != 0 ? TcpRstSet
        : (f & TcpFlags.Syn) != 0 ? ((f & TcpFlags.Ack) != 0 ? TcpSynAckSet : TcpSynSet)
        : (f & TcpFlags.Fin) != 0 ? TcpFinSet
        : (f & TcpFlags.Ack) != 0 ? TcpAckSet
        : TcpNoneSet;

    private static bool Before(uint a, uint b) => (int)(a - b) < 0;

    private static bool After(uint a, uint b) => (int)(b - a) < 0;

    /// <summary>tcp_valid_flags: the combinations of FIN/SYN/RST/ACK/URG (PSH, ECE, CWR masked off) a segment may carry.</summary>
    private static bool ValidFlags(TcpFlags f)
    {
        int v = (int)f & 0x3F & ~0x08; // FIN SYN RST ACK URG, PSH masked
        return v switch
        {
            0x02 or 0x22 or 0x12 or 0x04 or 0x14 or 0x11 or 0x31 or 0x10 or 0x30 => true,
            _ => false,
        };
    }

    /// <summary>segment_seq_plus_len: seq + payload length + SYN + FIN, payload from the IP length as skb->len.</summary>
    private static uint SeqPlusLen(in DecodedPacket p)
    {
        int payload = p.IpTotalLength - p.IpHeaderLength - p.TcpHeaderLength;
        if (payload < 0)
            payload = 0;
        return p.TcpSeq + (uint)payload + ((p.TcpFlags & TcpFlags.Syn) != 0 ? 1u : 0u) + ((p.TcpFlags & TcpFlags.Fin) != 0 ? 1u : 0u);
    }

    /// <summary>The TCP options bytes present in the capture (the header may be cut by the snap length).</summary>
    private static ReadOnlySpan<byte> Options(in DecodedPacket p, ReadOnlySpan<byte> frame)
    {
        int start = p.L4Offset + 20;
        int end = Math.Min(p.L4Offset + p.TcpHeaderLength, frame.Length);
        return end > start ? frame[start..end] : [];
    }

    /// <summary>tcp_options: window scale and SACK-permitted into a direction's state (BE_LIBERAL survives).</summary>
    internal static void ParseOptions(ReadOnlySpan<byte> opt, ref IpCtTcpState state)
    {
        if (opt.IsEmpty)
            return;
        state.TdScale = 0;
        state.Flags &= TcpConntrackFlags.BeLiberal;
        int i = 0;
        while (i < opt.Length)
        {
            byte kind = opt[i++];
            if (kind == 0) // TCPOPT_EOL
                return;
            if (kind == 1) // TCPOPT_NOP
                continue;
            if (i >= opt.Length)
                return;
            int size = opt[i++];
            if (size < 2 || size - 2 > opt.Length - i) // silly options, partial options
                return;
            if (kind == 4 && size == 2) // TCPOPT_SACK_PERM
            {
                state.Flags |= TcpConntrackFlags.SackPerm;
            }
            else if (kind == 3 && size == 3) // TCPOPT_WINDOW
            {
                state.TdScale = Math.Min(opt[i], (byte)14); // RFC 1323
                state.Flags |= TcpConntrackFlags.WindowScale;
            }
            i += size - 2;
        }
    }

    /// <summary>tcp_sack: the highest right edge of the SACK blocks, if above <paramref name="sack"/>.</summary>
    private static void Sack(ReadOnlySpan<byte> opt, ref uint sack)
    {
        int i = 0;
        while (i < opt.Length)
        {
            byte kind = opt[i++];
            if (kind == 0)
                return;
            if (kind == 1)
                continue;
            if (i >= opt.Length)
                return;
            int size = opt[i++];
            if (size < 2 || size - 2 > opt.Length - i)
                return;
            if (kind == 5 && size >= 10 && (size - 2) % 8 == 0) // TCPOPT_SACK, TCPOLEN_SACK_BASE 2 + n * 8
            {
                for (int b = 0; b < size - 2; b += 8)
                {
                    uint right = BinaryPrimitives.ReadUInt32BigEndian(opt[(i + b + 4)..]);
                    if (After(right, sack))
                        sack = right;
                }
                return;
            }
            i += size - 2;
        }
    }

    private static void InitSender(ref IpCtTcp state, CtDirection dir, ReadOnlySpan<byte> opt, uint end, uint win)
    {
        ref IpCtTcpState sender = ref state.Seen[(int)dir];
        ref IpCtTcpState receiver = ref state.Seen[1 - (int)dir];
        // tcp_init_sender: SYN-ACK in reply to a SYN, or SYN from reply direction in simultaneous open.
        sender.TdEnd = sender.TdMaxEnd = end;
        sender.TdMaxWin = win == 0 ? 1 : win;
        ParseOptions(opt, ref sender);
        // RFC 1323: both sides must send the Window Scale option to enable window scaling in either direction.
        if (dir == CtDirection.Reply
            && !((sender.Flags & TcpConntrackFlags.WindowScale) != 0 && (receiver.Flags & TcpConntrackFlags.WindowScale) != 0))
        {
            sender.TdScale = 0;
            receiver.TdScale = 0;
        }
    }

    private enum WindowResult : byte
    {
        Accept,
        Ignore,
        Invalid,
    }

    /// <summary>tcp_in_window (6.x, returning enum nf_ct_tcp_action), with nf_tcp_log_invalid's be_liberal override.</summary>
    private static WindowResult InWindow(NfConntrackTable table, ref IpCtTcp state, CtDirection dir, byte index, in DecodedPacket p, ReadOnlySpan<byte> opt)
    {
        ref IpCtTcpState sender = ref state.Seen[(int)dir];
        ref IpCtTcpState receiver = ref state.Seen[1 - (int)dir];
        bool syn = (p.TcpFlags & TcpFlags.Syn) != 0;
        bool ack = (p.TcpFlags & TcpFlags.Ack) != 0;
        bool rst = (p.TcpFlags & TcpFlags.Rst) != 0;
        uint seq = p.TcpSeq;
        uint ackv = p.TcpAck, sack = p.TcpAck;
        ushort winRaw = p.TcpWindow;
        uint win = winRaw;
        uint end = SeqPlusLen(in p);

        if ((receiver.Flags & TcpConntrackFlags.SackPerm) != 0)
            Sack(opt, ref sack);

        if (sender.TdMaxWin == 0)
        {
            // Initialize sender data.
            if (syn)
            {
                InitSender(ref state, dir, opt, end, win);
                if (!ack)
                    return WindowResult.Accept; // simultaneous open
            }
            else
            {
                // In the middle of a connection: its history is lost for us, use the data from the packet.
                sender.TdEnd = end;
                uint swin = win << sender.TdScale;
                sender.TdMaxWin = swin == 0 ? 1 : swin;
                sender.TdMaxEnd = end + sender.TdMaxWin;
                if (receiver.TdMaxWin == 0)
                    receiver.TdEnd = receiver.TdMaxEnd = sack; // pass III and IV until the other side talks
                else if (sack == receiver.TdEnd + 1)
                    receiver.TdEnd++; // likely a reply to a keepalive
            }
        }
        else if (syn && After(end, sender.TdEnd) && (state.State == TcpConntrack.SynSent || state.State == TcpConntrack.SynRecv))
        {
            // RFC 793: a reinitialised TCP uses larger sequence numbers: re-init this direction.
            InitSender(ref state, dir, opt, end, win);
            if (dir == CtDirection.Reply && !ack)
                return WindowResult.Accept;
        }

        if (!ack)
        {
            ackv = sack = receiver.TdEnd; // no ACK: pretend it was set and OK
        }
        else if (rst && ackv == 0)
        {
            ackv = sack = receiver.TdEnd; // broken stacks set ACK in RST with a zero ack
        }

        if (rst && seq == 0 && state.State == TcpConntrack.SynSent)
            seq = end = sender.TdEnd; // RST answering SYN

        bool liberal = (sender.Flags & TcpConntrackFlags.BeLiberal) != 0 || table.Settings.TcpBeLiberal;
        uint maxAckWindow = Math.Max(sender.TdMaxWin, 66000u); // MAXACKWINDOW

        bool seqOk = Before(seq, sender.TdMaxEnd + 1);
        if (!seqOk)
        {
            uint overshot = end - sender.TdMaxEnd + 1;
            bool ackOk = After(sack, receiver.TdEnd - maxAckWindow - 1);
            bool inRecvWinX = receiver.TdMaxWin != 0 && After(end, sender.TdEnd - receiver.TdMaxWin - 1);
            if (inRecvWinX && ackOk && overshot <= receiver.TdMaxWin && Before(sack, receiver.TdEnd + 1))
            {
                // A TCP sending more than the receive window allows: remember the data so its ACK fits.
                sender.TdEnd = end;
                sender.Flags |= TcpConntrackFlags.DataUnacknowledged;
                if (!liberal)
                    return WindowResult.Ignore;
            }
            else if (!liberal)
            {
                return WindowResult.Invalid; // SEQ is over upper bound (over the window of the receiver)
            }
        }

        if (!Before(sack, receiver.TdEnd + 1) && !liberal)
            return WindowResult.Invalid; // ACK is over upper bound (ACKed data not seen yet)

        bool inRecvWin = receiver.TdMaxWin == 0 || After(end, sender.TdEnd - receiver.TdMaxWin - 1);
        if (!inRecvWin && !liberal)
            return WindowResult.Ignore; // SEQ is under lower bound (already ACKed data retransmitted)
        if (!After(sack, receiver.TdEnd - maxAckWindow - 1) && !liberal)
            return WindowResult.Ignore; // ignored ACK under lower bound (possibly overly delayed)

        // Take into account window scaling (RFC 1323).
        if (!syn)
            win <<= sender.TdScale;

        // Update sender data.
        uint swin2 = win + (sack - ackv);
        if (sender.TdMaxWin < swin2)
            sender.TdMaxWin = swin2;
        if (After(end, sender.TdEnd))
        {
            sender.TdEnd = end;
            sender.Flags |= TcpConntrackFlags.DataUnacknowledged;
        }
        if (ack)
        {
            if ((sender.Flags & TcpConntrackFlags.MaxAckSet) == 0)
            {
                sender.TdMaxAck = ackv;
                sender.Flags |= TcpConntrackFlags.MaxAckSet;
            }
            else if (After(ackv, sender.TdMaxAck))
            {
                sender.TdMaxAck = ackv;
            }
        }

        // Update receiver data.
        if (receiver.TdMaxWin != 0 && After(end, sender.TdMaxEnd))
            receiver.TdMaxWin += end - sender.TdMaxEnd;
        if (After(sack + win, receiver.TdMaxEnd - 1))
        {
            receiver.TdMaxEnd = sack + win;
            if (win == 0)
                receiver.TdMaxEnd++;
        }
        if (ackv == receiver.TdEnd)
            receiver.Flags &= ~TcpConntrackFlags.DataUnacknowledged;

        // Check retransmissions.
        if (index == TcpAckSet)
        {
            if (state.LastDir == dir && state.LastSeq == seq && state.LastAck == ackv && state.LastEnd == end && state.LastWin == winRaw)
            {
                if (state.Retrans < byte.MaxValue)
                    state.Retrans++;
            }
            else
            {
                state.LastDir = dir;
                state.LastSeq = seq;
                state.LastAck = ackv;
                state.LastEnd = end;
                state.LastWin = winRaw;
                state.Retrans = 0;
            }
        }
        return WindowResult.Accept;
    }

    /// <summary>tcp_error: header length and flag combination (the checksum is not checked, see the class comment).</summary>
    private static bool Error(in DecodedPacket p)
    {
        if ((p.Layers & Layers.Transport) == 0 || p.TcpHeaderLength < 20)
            return true;
        if (p.IpTotalLength - p.IpHeaderLength < p.TcpHeaderLength)
            return true; // truncated packet
        return !ValidFlags(p.TcpFlags);
    }

    /// <summary>tcp_new: may this segment start a connection, and with what window data.</summary>
    private static bool New(NfConntrackTable table, ref NfConn ct, in DecodedPacket p, ReadOnlySpan<byte> opt)
    {
        TcpConntrack newState = Transition(CtDirection.Original, Index(p.TcpFlags), TcpConntrack.None);
        if (newState >= TcpConntrack.Max)
            return false; // invalid new
        ref IpCtTcpState s0 = ref ct.Tcp.Seen[0];
        if (newState == TcpConntrack.SynSent)
        {
            ct.Tcp = default;
            s0.TdEnd = SeqPlusLen(in p);
            s0.TdMaxWin = p.TcpWindow == 0 ? 1u : p.TcpWindow;
            s0.TdMaxEnd = s0.TdEnd;
            ParseOptions(opt, ref s0);
        }
        else if (!table.Settings.TcpLoose)
        {
            return false; // don't try to pick up connections
        }
        else
        {
            ct.Tcp = default;
            // In the middle of a connection: use the data from the packet, assume SACK and a liberal
            // window because the scale factors were in SYNs we never saw.
            s0.TdEnd = SeqPlusLen(in p);
            s0.TdMaxWin = p.TcpWindow == 0 ? 1u : p.TcpWindow;
            s0.TdMaxEnd = s0.TdEnd + s0.TdMaxWin;
            s0.Flags = ct.Tcp.Seen[1].Flags = TcpConntrackFlags.SackPerm | TcpConntrackFlags.BeLiberal;
        }
        ct.Tcp.LastIndex = TcpNoneSet;
        return true;
    }

    /// <summary>tcp_can_early_drop: states in which a connection is on its way out.</summary>
    private static bool CanEarlyDrop(TcpConntrack s) =>
        s is TcpConntrack.FinWait or TcpConntrack.LastAck or TcpConntrack.TimeWait or TcpConntrack.Close or TcpConntrack.CloseWait;

    /// <summary>nf_conntrack_tcp_established: ESTABLISHED and ASSURED.</summary>
    private static bool Established(ref NfConn ct) =>
        ct.Tcp.State == TcpConntrack.Established && (ct.Status & CtStatus.Assured) != 0;

    /// <summary>nf_conntrack_tcp_packet.</summary>
    public static L4Verdict Packet(NfConntrackTable table, ref NfConn ct, int idx, in DecodedPacket p, ReadOnlySpan<byte> frame, CtDirection dir, long now, out CtReason reason)
    {
        reason = CtReason.None;
        if (Error(in p))
        {
            reason = CtReason.TcpBadFlags;
            return L4Verdict.Invalid;
        }
        ReadOnlySpan<byte> opt = Options(in p, frame);
        if (!ct.IsConfirmed && !New(table, ref ct, in p, opt))
        {
            reason = CtReason.TcpInvalidNew;
            return L4Verdict.Invalid;
        }

        ref IpCtTcp tcp = ref ct.Tcp;
        TcpConntrack oldState = tcp.State;
        byte index = Index(p.TcpFlags);
        TcpConntrack newState = Transition(dir, index, oldState);
        int d = (int)dir;
        bool skipWindow = false;

        switch (newState)
        {
            case TcpConntrack.SynSent:
                if (oldState >= TcpConntrack.TimeWait
                    && (((tcp.Seen[d].Flags | tcp.Seen[1 - d].Flags) & TcpConntrackFlags.CloseInit) != 0
                        || (tcp.LastDir == dir && tcp.LastIndex == TcpRstSet)))
                {
                    // Attempt to reopen a closed/aborted connection: delete it and look up again.
                    table.Kill(idx, now);
                    return L4Verdict.Repeat;
                }
                if (oldState < TcpConntrack.TimeWait)
                    break;
                goto case TcpConntrack.Ignore;
            case TcpConntrack.Ignore:
                if (index == TcpSynAckSet && tcp.LastIndex == TcpSynSet && tcp.LastDir != dir && p.TcpAck == tcp.LastEnd)
                {
                    // This SYN/ACK acknowledges a SYN we ignored: client and server are in sync, we are not.
                    // Get in sync from the annotated values.
                    oldState = TcpConntrack.SynSent;
                    newState = TcpConntrack.SynRecv;
                    ref IpCtTcpState last = ref tcp.Seen[(int)tcp.LastDir];
                    last.TdEnd = tcp.LastEnd;
                    last.TdMaxEnd = tcp.LastEnd;
                    last.TdMaxWin = tcp.LastWin == 0 ? 1u : tcp.LastWin;
                    last.TdScale = tcp.LastWscale;
                    tcp.LastFlags &= ~TcpConntrackFlags.ExpChallengeAck;
                    last.Flags = tcp.LastFlags;
                    tcp.Seen[d] = default;
                    break;
                }
                tcp.LastIndex = index;
                tcp.LastDir = dir;
                tcp.LastSeq = p.TcpSeq;
                tcp.LastEnd = SeqPlusLen(in p);
                tcp.LastWin = p.TcpWindow;
                if (index == TcpSynSet && dir == CtDirection.Original)
                {
                    // A SYN in ORIGINAL the firewall is out of sync with: note its options for the SYN/ACK.
                    var seen = default(IpCtTcpState);
                    tcp.LastFlags = TcpConntrackFlags.None;
                    tcp.LastWscale = 0;
                    ParseOptions(opt, ref seen);
                    if ((seen.Flags & TcpConntrackFlags.WindowScale) != 0)
                    {
                        tcp.LastFlags |= TcpConntrackFlags.WindowScale;
                        tcp.LastWscale = seen.TdScale;
                    }
                    if ((seen.Flags & TcpConntrackFlags.SackPerm) != 0)
                        tcp.LastFlags |= TcpConntrackFlags.SackPerm;
                    // RFC 5961 challenge ACK possible: an ACK in LAST_ACK must not be taken for the last ACK.
                    if (oldState == TcpConntrack.LastAck)
                        tcp.LastFlags |= TcpConntrackFlags.ExpChallengeAck;
                }
                if (oldState == TcpConntrack.SynSent && index == TcpAckSet && dir == CtDirection.Reply)
                    tcp.LastAck = p.TcpAck; // possible challenge ACK reply to the SYN
                return L4Verdict.Accept; // ignored: no state change, no refresh
            case TcpConntrack.Max:
                reason = CtReason.TcpInvalidState;
                return L4Verdict.Invalid;
            case TcpConntrack.TimeWait:
                if (oldState == TcpConntrack.LastAck && index == TcpAckSet && tcp.LastDir != dir
                    && tcp.LastIndex == TcpSynSet && (tcp.LastFlags & TcpConntrackFlags.ExpChallengeAck) != 0)
                {
                    tcp.LastFlags &= ~TcpConntrackFlags.ExpChallengeAck;
                    return L4Verdict.Accept; // RFC 5961 challenge ACK: don't change state
                }
                break;
            case TcpConntrack.SynSent2:
                // The table is not smart enough for simultaneous open.
                tcp.LastFlags |= TcpConntrackFlags.SimultaneousOpen;
                break;
            case TcpConntrack.SynRecv:
                if (dir == CtDirection.Reply && index == TcpAckSet && (tcp.LastFlags & TcpConntrackFlags.SimultaneousOpen) != 0)
                    newState = TcpConntrack.Established;
                break;
            case TcpConntrack.Close:
                if (index != TcpRstSet)
                    break;
                // Closing: the tuple may be reused already and the window data outdated.
                if (CanEarlyDrop(tcp.State))
                {
                    skipWindow = true;
                    break;
                }
                if ((tcp.Seen[1 - d].Flags & TcpConntrackFlags.MaxAckSet) != 0 && tcp.LastIndex != TcpSynSet)
                {
                    uint seq = p.TcpSeq;
                    // Not established and SEQ=0: most likely the answer to a SYN we let through.
                    if (seq == 0 && !Established(ref ct))
                        break;
                    if (Before(seq, tcp.Seen[1 - d].TdMaxAck) && !table.Settings.TcpIgnoreInvalidRst)
                    {
                        reason = CtReason.TcpInvalidRst;
                        return L4Verdict.Invalid;
                    }
                    if (!Established(ref ct) || seq == tcp.Seen[1 - d].TdMaxAck)
                        break;
                    // An RST in a train right after our last data segment.
                    if (tcp.LastIndex == TcpAckSet && tcp.LastDir == dir && seq == tcp.LastEnd)
                        break;
                    // The RST's sequence number doesn't match exactly: keep the state for a possible challenge ACK.
                    newState = oldState;
                }
                if ((((ct.Status & CtStatus.SeenReply) != 0 && tcp.LastIndex == TcpSynSet)
                        || ((ct.Status & CtStatus.Assured) == 0 && tcp.LastIndex == TcpAckSet))
                    && p.TcpAck == tcp.LastEnd)
                {
                    // RST to a SYN or ACK we let through while out of sync: skip window checks.
                    skipWindow = true;
                    break;
                }
                if (oldState == TcpConntrack.SynSent && tcp.LastIndex == TcpAckSet && tcp.LastDir == CtDirection.Reply && p.TcpSeq == tcp.LastAck)
                    skipWindow = true; // reset in response to a challenge ACK we let through
                break;
        }

        if (!skipWindow)
        {
            switch (InWindow(table, ref tcp, dir, index, in p, opt))
            {
                case WindowResult.Ignore:
                    return L4Verdict.Accept;
                case WindowResult.Invalid:
                    HandleInvalid(table, ref ct, idx, dir, index, now);
                    reason = CtReason.TcpOutOfWindow;
                    return L4Verdict.Invalid;
            }
        }

        // From now on we have in-window packets.
        tcp.LastIndex = index;
        tcp.LastDir = dir;
        tcp.State = newState;
        if (oldState != newState && newState == TcpConntrack.FinWait)
            tcp.Seen[d].Flags |= TcpConntrackFlags.CloseInit;

        long[] timeouts = table.Timeouts.Tcp;
        long timeout;
        if (tcp.Retrans >= table.Settings.TcpMaxRetrans && timeouts[(int)newState] > timeouts[(int)TcpConntrack.Retrans])
            timeout = timeouts[(int)TcpConntrack.Retrans];
        else if (index == TcpRstSet)
            timeout = timeouts[(int)TcpConntrack.Close];
        else if (((tcp.Seen[0].Flags | tcp.Seen[1].Flags) & TcpConntrackFlags.DataUnacknowledged) != 0
                 && timeouts[(int)newState] > timeouts[(int)TcpConntrack.Unack])
            timeout = timeouts[(int)TcpConntrack.Unack];
        else if (tcp.LastWin == 0 && timeouts[(int)newState] > timeouts[(int)TcpConntrack.Retrans])
            timeout = timeouts[(int)TcpConntrack.Retrans];
        else
            timeout = timeouts[(int)newState];

        if (newState != oldState)
            ct.PendingEvents |= NfctEventMask.ProtoInfo;

        if ((ct.Status & CtStatus.SeenReply) == 0)
        {
            // If the only reply is a RST, there is no connection: delete it at once.
            if ((p.TcpFlags & TcpFlags.Rst) != 0)
            {
                NfConntrackTable.Acct(ref ct, dir, p.IpTotalLength);
                if (ct.IsConfirmed)
                {
                    table.Kill(idx, now);
                }
                else
                {
                    table.SetTimeout(idx, now); // nf_ct_kill of an unconfirmed ct: it dies at confirm
                }
                return L4Verdict.Accept;
            }
            // Do not renew the timeout on a SYN retransmit: port reuse could keep the entry alive forever.
            if (index == TcpSynSet && oldState == TcpConntrack.SynSent)
                return L4Verdict.Accept;
            // ESTABLISHED without SEEN_REPLY (a loose pickup): avoid the large ESTABLISHED timeout.
            if (newState == TcpConntrack.Established && timeout > timeouts[(int)TcpConntrack.Unack])
                timeout = timeouts[(int)TcpConntrack.Unack];
        }
        else if ((ct.Status & CtStatus.Assured) == 0
                 && (oldState == TcpConntrack.SynRecv || oldState == TcpConntrack.Established)
                 && newState == TcpConntrack.Established)
        {
            // A valid ACK in ESTABLISHED after SYN_RECV, or a valid answer for a picked-up connection.
            ct.Status |= CtStatus.Assured;
            ct.PendingEvents |= NfctEventMask.Assured;
        }
        table.RefreshAcct(idx, ref ct, dir, p.IpTotalLength, timeout, now);
        return L4Verdict.Accept;
    }

    /// <summary>nf_tcp_handle_invalid: an out-of-window FIN/RST answering the peer's FIN/RST shortens an ASSURED entry's life.</summary>
    private static void HandleInvalid(NfConntrackTable table, ref NfConn ct, int idx, CtDirection dir, byte index, long now)
    {
        if ((ct.Status & CtStatus.Assured) == 0 || (ct.Status & CtStatus.FixedTimeout) != 0)
            return;
        if (index != TcpRstSet && index != TcpFinSet)
            return;
        if (ct.Tcp.LastDir != dir && (ct.Tcp.LastIndex == TcpFinSet || ct.Tcp.LastIndex == TcpRstSet))
        {
            long expires = ct.Timeout - now;
            if (expires < 120 * 1_000_000_000L)
                return;
            long unack = table.Timeouts.Tcp[(int)TcpConntrack.Unack];
            if (expires > unack)
                table.SetTimeout(idx, now + unack);
        }
        else
        {
            ct.Tcp.LastIndex = index;
            ct.Tcp.LastDir = dir;
        }
    }
}
