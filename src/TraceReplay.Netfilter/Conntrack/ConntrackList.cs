using System.Globalization;
using System.Net;
using System.Text;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Netfilter.Conntrack;

/// <summary>One line of `conntrack -L -o extended`, as read from a snapshot's conntrack.txt.</summary>
public sealed record ConntrackListEntry
{
    public required NfConntrackTuple Orig { get; init; }
    public required NfConntrackTuple Reply { get; init; }
    public long SecondsLeft { get; init; }
    /// <summary>The TCP state; None for other protocols.</summary>
    public TcpConntrack TcpState { get; init; }
    /// <summary>SeenReply unless [UNREPLIED]; Assured / Offload / HwOffload from the bracketed flag.</summary>
    public CtStatus Status { get; init; }
    public bool HasCounters { get; init; }
    public ulong OrigPackets { get; init; }
    public ulong OrigBytes { get; init; }
    public ulong ReplyPackets { get; init; }
    public ulong ReplyBytes { get; init; }
    public uint Mark { get; init; }
    public ushort Zone { get; init; }
    public string? SecurityContext { get; init; }
    public SourceLocation Location { get; init; }
}

/// <summary>
/// The `conntrack -L -o extended` text form: <see cref="Parse"/> reads a snapshot's conntrack.txt and
/// <see cref="Format"/> prints a table entry the way libnetfilter_conntrack's
/// __snprintf_conntrack_default does (field order and spelling), so a parsed line prints back the same
/// apart from the seconds left.
/// </summary>
public static class ConntrackList
{
    private const long Second = 1_000_000_000L;

    /// <summary>__proto2str of libnetfilter_conntrack: the protocols it names, "unknown" for the rest.</summary>
    public static string ProtoName(byte p) => p switch
    {
        L4Protocol.Tcp => "tcp",
        L4Protocol.Udp => "udp",
        L4Protocol.UdpLite => "udplite",
        L4Protocol.Icmp => "icmp",
        L4Protocol.Icmpv6 => "icmpv6",
        L4Protocol.Sctp => "sctp",
        L4Protocol.Gre => "gre",
        33 => "dccp",
        _ => "unknown",
    };

    private static bool HasPorts(byte p) => p is L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.UdpLite or L4Protocol.Sctp or 33;

    // ---------------------------------------------------------------- printing

    /// <summary>One entry as `conntrack -L -o extended` prints it at capture time <paramref name="now"/>.</summary>
    public static string Format(NfConntrackTable table, int entry, long now)
    {
        ArgumentNullException.ThrowIfNull(table);
        ref NfConn ct = ref table[entry];
        var sb = new StringBuilder(200);
        Append(sb, in ct, now, table.SecurityContext(entry));
        return sb.ToString();
    }

    /// <summary>The whole confirmed table, one line per entry in slot order, as `conntrack -L -o extended`.</summary>
    public static void Dump(NfConntrackTable table, long now, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(output);
        var sb = new StringBuilder(200);
        foreach (int i in table.ConfirmedEntries())
        {
            sb.Clear();
            Append(sb, in table[i], now, table.SecurityContext(i));
            output.Write(sb);
            output.Write('\n');
        }
    }

    /// <summary>
    /// One event as `conntrack -E -o extended` prints it (ctnetlink_conntrack_event + libnetfilter_conntrack):
    /// NEW/UPDATE carry the seconds left, the TCP state only when it changed (IPCT_PROTOINFO), no
    /// counters and no use; DESTROY carries the state and, with acct, the counters; mark= appears when
    /// the mark is set or changed. Checked against conntrack v1.4.7 on Linux 6.18 (deletes by
    /// `conntrack -D` add "[USERSPACE] portid=..." there, which a replay has no equivalent of).
    /// </summary>
    public static string FormatEvent(in NfConntrackEvent ev)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder(200);
        bool destroy = ev.Type == NfctEventType.Destroy;
        sb.Append((ev.Type switch { NfctEventType.New => "[NEW]", NfctEventType.Update => "[UPDATE]", _ => "[DESTROY]" }).PadLeft(9)).Append(' ');
        bool v6 = ev.Orig.IsV6;
        byte proto = ev.Orig.Protocol;
        sb.Append((v6 ? "ipv6" : "ipv4").PadRight(8)).Append(' ').Append(v6 ? 10 : 2).Append(' ');
        sb.Append(ProtoName(proto).PadRight(8)).Append(' ').Append(proto.ToString(inv)).Append(' ');
        sb.Append((Math.Max(0, ev.Deadline - ev.Time) / Second).ToString(inv)).Append(' ');
        if (proto == L4Protocol.Tcp && (destroy || (ev.Mask & NfctEventMask.ProtoInfo) != 0))
            sb.Append(NfConntrackProtoTcp.Name(ev.TcpState)).Append(' ');
        bool counters = destroy && ev.HasAcct;
        AppendTuple(sb, ev.Orig);
        if (counters)
            sb.Append("packets=").Append(ev.OrigPackets.ToString(inv)).Append(" bytes=").Append(ev.OrigBytes.ToString(inv)).Append(' ');
        if ((ev.Status & CtStatus.SeenReply) == 0)
            sb.Append("[UNREPLIED] ");
        AppendTuple(sb, ev.Reply);
        if (counters)
            sb.Append("packets=").Append(ev.ReplyPackets.ToString(inv)).Append(" bytes=").Append(ev.ReplyBytes.ToString(inv)).Append(' ');
        if ((ev.Status & CtStatus.HwOffload) != 0)
            sb.Append("[HW_OFFLOAD] ");
        else if ((ev.Status & CtStatus.Offload) != 0)
            sb.Append("[OFFLOAD] ");
        else if ((ev.Status & CtStatus.Assured) != 0)
            sb.Append("[ASSURED] ");
        if (ev.Mark != 0 || (ev.Mask & NfctEventMask.Mark) != 0)
            sb.Append("mark=").Append(ev.Mark.ToString(inv)).Append(' ');
        if (ev.Zone != 0)
            sb.Append("zone=").Append(ev.Zone.ToString(inv)).Append(' ');
        sb.Length--; // the trailing blank, as __snprintf_conntrack_default drops it
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, in NfConn ct, long now, string? secctx)
    {
        var inv = CultureInfo.InvariantCulture;
        bool v6 = ct.Orig.IsV6;
        byte proto = ct.Orig.Protocol;
        long left = Math.Max(0, ct.Timeout - now) / Second;
        // __snprintf_l3protocol / __snprintf_protocol: "%-8s %u ".
        sb.Append((v6 ? "ipv6" : "ipv4").PadRight(8)).Append(' ').Append(v6 ? 10 : 2).Append(' ');
        sb.Append(ProtoName(proto).PadRight(8)).Append(' ').Append(proto.ToString(inv)).Append(' ');
        sb.Append(left.ToString(inv)).Append(' ');
        if (proto == L4Protocol.Tcp)
            sb.Append(NfConntrackProtoTcp.Name(ct.Tcp.State)).Append(' ');
        AppendTuple(sb, in ct.Orig);
        if (ct.HasAcct)
            sb.Append("packets=").Append(ct.OrigPackets.ToString(inv)).Append(" bytes=").Append(ct.OrigBytes.ToString(inv)).Append(' ');
        if ((ct.Status & CtStatus.SeenReply) == 0)
            sb.Append("[UNREPLIED] ");
        AppendTuple(sb, in ct.Reply);
        if (ct.HasAcct)
            sb.Append("packets=").Append(ct.ReplyPackets.ToString(inv)).Append(" bytes=").Append(ct.ReplyBytes.ToString(inv)).Append(' ');
        if ((ct.Status & CtStatus.HwOffload) != 0)
            sb.Append("[HW_OFFLOAD] ");
        else if ((ct.Status & CtStatus.Offload) != 0)
            sb.Append("[OFFLOAD] ");
        else if ((ct.Status & CtStatus.Assured) != 0)
            sb.Append("[ASSURED] ");
        sb.Append("mark=").Append(ct.Mark.ToString(inv)).Append(' ');
        if (secctx is not null)
            sb.Append("secctx=").Append(secctx).Append(' ');
        // ctnetlink_dump_zone_id sends no zone for the default zone.
        if (ct.Zone != 0)
            sb.Append("zone=").Append(ct.Zone.ToString(inv)).Append(' ');
        sb.Append("use=1");
    }

    private static void AppendTuple(StringBuilder sb, in NfConntrackTuple t)
    {
        var inv = CultureInfo.InvariantCulture;
        sb.Append("src=").Append(t.Src.ToString()).Append(" dst=").Append(t.Dst.ToString()).Append(' ');
        if (HasPorts(t.Protocol))
        {
            sb.Append("sport=").Append(t.SrcPort.ToString(inv)).Append(" dport=").Append(t.DstPort.ToString(inv)).Append(' ');
        }
        else if (t.Protocol is L4Protocol.Icmp or L4Protocol.Icmpv6)
        {
            sb.Append("type=").Append(t.IcmpType.ToString(inv)).Append(" code=").Append(t.IcmpCode.ToString(inv))
              .Append(" id=").Append(t.SrcPort.ToString(inv)).Append(' ');
        }
        else if (t.Protocol == L4Protocol.Gre)
        {
            sb.Append("srckey=0x").Append(t.SrcPort.ToString("x", inv)).Append(" dstkey=0x").Append(t.DstPort.ToString("x", inv)).Append(' ');
        }
    }

    // ---------------------------------------------------------------- reading

    /// <summary>
    /// Read conntrack.txt (`conntrack -L -o extended` output). Blank lines and conntrack's own summary
    /// line ("conntrack v1.4.7 (conntrack-tools): N flow entries have been shown.") are skipped; any
    /// other unreadable line throws <see cref="HostParseException"/> naming file:line:column.
    /// </summary>
    public static IReadOnlyList<ConntrackListEntry> Parse(string text, string file)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = new List<ConntrackListEntry>();
        int lineNo = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNo++;
            string line = rawLine.TrimEnd('\r');
            if (line.Trim().Length == 0 || line.StartsWith("conntrack v", StringComparison.Ordinal) || line.TrimStart().StartsWith('#'))
                continue;
            result.Add(new LineReader(file, lineNo, line).Read());
        }
        return result;
    }

    private ref struct LineReader
    {
        private readonly string _file;
        private readonly int _line;
        private readonly string _text;
        private int _pos;
        private int _tokStart;

        public LineReader(string file, int line, string text)
        {
            _file = file;
            _line = line;
            _text = text;
        }

        private HostParseException Fail(string problem, string? token, string expected) =>
            new(new SourceLocation(_file, _line, _tokStart + 1), problem, token, expected);

        private string? Peek()
        {
            int p = _pos;
            while (p < _text.Length && _text[p] is ' ' or '\t')
                p++;
            if (p >= _text.Length)
                return null;
            int e = p;
            while (e < _text.Length && _text[e] is not (' ' or '\t'))
                e++;
            return _text[p..e];
        }

        private string Next(string expected)
        {
            while (_pos < _text.Length && _text[_pos] is ' ' or '\t')
                _pos++;
            _tokStart = _pos;
            if (_pos >= _text.Length)
                throw Fail("line ends early", null, expected);
            int e = _pos;
            while (e < _text.Length && _text[e] is not (' ' or '\t'))
                e++;
            string tok = _text[_pos..e];
            _pos = e;
            return tok;
        }

        private string Value(string key)
        {
            string tok = Next($"{key}=VALUE");
            if (!tok.StartsWith(key + "=", StringComparison.Ordinal))
                throw Fail($"'{key}=' missing", tok, $"{key}=VALUE");
            _tokStart += key.Length + 1; // errors about the value point at the value
            return tok[(key.Length + 1)..];
        }

        private T Number<T>(string key, string expected)
            where T : struct, System.Numerics.IBinaryInteger<T>
        {
            string v = Value(key);
            if (!T.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out T x))
                throw Fail($"bad {key} value", v, expected);
            return x;
        }

        private IpAddr Address(string key, bool v6)
        {
            string v = Value(key);
            if (!IPAddress.TryParse(v, out var a)
                || (a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) != v6)
                throw Fail($"bad {key} address", v, v6 ? "an IPv6 address" : "an IPv4 address");
            return IpAddr.FromIPAddress(a);
        }

        private NfConntrackTuple Tuple(bool v6, byte proto)
        {
            var src = Address("src", v6);
            var dst = Address("dst", v6);
            ushort sport = 0, dport = 0;
            byte type = 0, code = 0;
            if (HasPorts(proto))
            {
                sport = Number<ushort>("sport", "a port 0-65535");
                dport = Number<ushort>("dport", "a port 0-65535");
            }
            else if (proto is L4Protocol.Icmp or L4Protocol.Icmpv6)
            {
                type = Number<byte>("type", "an ICMP type 0-255");
                code = Number<byte>("code", "an ICMP code 0-255");
                sport = Number<ushort>("id", "an ICMP id 0-65535");
            }
            else if (proto == L4Protocol.Gre)
            {
                sport = Hex("srckey");
                dport = Hex("dstkey");
            }
            return new NfConntrackTuple(src, dst, sport, dport, proto, v6, type, code);
        }

        private ushort Hex(string key)
        {
            string v = Value(key);
            if (!v.StartsWith("0x", StringComparison.Ordinal)
                || !ushort.TryParse(v.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort x))
                throw Fail($"bad {key} value", v, "a hexadecimal key 0x0-0xffff");
            return x;
        }

        private bool TryCounters(out ulong packets, out ulong bytes)
        {
            packets = bytes = 0;
            if (Peek()?.StartsWith("packets=", StringComparison.Ordinal) != true)
                return false;
            packets = Number<ulong>("packets", "a packet count");
            bytes = Number<ulong>("bytes", "a byte count");
            return true;
        }

        public ConntrackListEntry Read()
        {
            string l3 = Next("ipv4 or ipv6");
            bool v6 = l3 switch
            {
                "ipv4" => false,
                "ipv6" => true,
                _ => throw Fail("unknown layer-3 family", l3, "ipv4 or ipv6"),
            };
            string l3num = Next(v6 ? "10" : "2");
            if (l3num != (v6 ? "10" : "2"))
                throw Fail("layer-3 number does not match the family", l3num, v6 ? "10" : "2");
            string pname = Next("a protocol name (tcp, udp, icmp, ..., unknown)");
            int pnameStart = _tokStart;
            string pnumText = Next("a protocol number 0-255");
            if (!byte.TryParse(pnumText, NumberStyles.None, CultureInfo.InvariantCulture, out byte proto))
                throw Fail("bad protocol number", pnumText, "a protocol number 0-255");
            if (ProtoName(proto) != pname)
            {
                _tokStart = pnameStart;
                throw Fail("protocol name does not match its number", pname, ProtoName(proto));
            }
            string secsText = Next("the seconds left");
            if (!long.TryParse(secsText, NumberStyles.None, CultureInfo.InvariantCulture, out long secs) || secs > uint.MaxValue)
                throw Fail("bad seconds-left field", secsText, "the seconds left (0-4294967295)");

            TcpConntrack tcpState = TcpConntrack.None;
            string? peek = Peek();
            if (peek is not null && !peek.Contains('=', StringComparison.Ordinal))
            {
                string st = Next("a protocol state");
                if (proto == L4Protocol.Tcp)
                {
                    tcpState = st switch
                    {
                        "NONE" => TcpConntrack.None,
                        "SYN_SENT" => TcpConntrack.SynSent,
                        "SYN_RECV" => TcpConntrack.SynRecv,
                        "ESTABLISHED" => TcpConntrack.Established,
                        "FIN_WAIT" => TcpConntrack.FinWait,
                        "CLOSE_WAIT" => TcpConntrack.CloseWait,
                        "LAST_ACK" => TcpConntrack.LastAck,
                        "TIME_WAIT" => TcpConntrack.TimeWait,
                        "CLOSE" => TcpConntrack.Close,
                        "SYN_SENT2" or "LISTEN" => TcpConntrack.SynSent2,
                        _ => throw Fail("unknown TCP state", st, "a TCP state (SYN_SENT, ESTABLISHED, TIME_WAIT, ...)"),
                    };
                }
                else if (proto is not (L4Protocol.Sctp or 33))
                {
                    throw Fail("a state word for a protocol without states", st, "src=ADDRESS");
                }
            }
            else if (proto == L4Protocol.Tcp)
            {
                Next("a TCP state");
                throw Fail("TCP entry without a state", peek, "a TCP state (SYN_SENT, ESTABLISHED, TIME_WAIT, ...)");
            }

            var orig = Tuple(v6, proto);
            bool hasCounters = TryCounters(out ulong op, out ulong ob);
            CtStatus status = CtStatus.SeenReply;
            if (Peek() == "[UNREPLIED]")
            {
                Next("[UNREPLIED]");
                status = CtStatus.None;
            }
            var reply = Tuple(v6, proto);
            if (hasCounters != TryCounters(out ulong rp, out ulong rb))
                throw Fail("counters in one direction only", Peek(), "packets= and bytes= after both tuples, or after neither");

            uint mark = 0;
            ushort zone = 0;
            string? secctx = null;
            while (true)
            {
                string? tok = Peek();
                if (tok is null)
                    break;
                switch (tok)
                {
                    case "[ASSURED]":
                        Next(tok);
                        status |= CtStatus.Assured;
                        continue;
                    case "[OFFLOAD]":
                        Next(tok);
                        status |= CtStatus.Offload;
                        continue;
                    case "[HW_OFFLOAD]":
                        Next(tok);
                        status |= CtStatus.HwOffload;
                        continue;
                }
                int eq = tok.IndexOf('=', StringComparison.Ordinal);
                string key = eq < 0 ? tok : tok[..eq];
                switch (key)
                {
                    case "mark":
                        mark = Number<uint>("mark", "a mark 0-4294967295");
                        break;
                    case "zone":
                        zone = Number<ushort>("zone", "a zone 0-65535");
                        break;
                    case "secctx":
                        secctx = Value("secctx");
                        break;
                    case "use":
                        Number<uint>("use", "a reference count");
                        break;
                    case "secmark" or "id" or "delta-time" or "helper" or "labels":
                        Next(tok); // not simulated; not printed back
                        break;
                    default:
                        Next(tok);
                        throw Fail("unknown field", tok, "[ASSURED], mark=, secctx=, zone= or use=");
                }
            }

            return new ConntrackListEntry
            {
                Orig = orig,
                Reply = reply,
                SecondsLeft = secs,
                TcpState = tcpState,
                Status = status,
                HasCounters = hasCounters,
                OrigPackets = op,
                OrigBytes = ob,
                ReplyPackets = rp,
                ReplyBytes = rb,
                Mark = mark,
                Zone = zone,
                SecurityContext = secctx,
                Location = new SourceLocation(_file, _line, 1),
            };
        }
    }
}
