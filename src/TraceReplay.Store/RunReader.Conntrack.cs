using System.Data.Common;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Store;

public sealed partial class RunReader
{
    private const long NsPerSecond = 1_000_000_000L;

    /// <summary>
    /// The connection table as it stood at <paramref name="atUs"/> (UTC microseconds), rebuilt from
    /// the run: a connection is live when it began at or before then and was not destroyed by then
    /// (connections); its state, status and mark are those of its last conntrack event at or before
    /// then (conntrack_events), and its deadline is its last refresh — the later of that event and
    /// its last packet (packets.ct_id) — plus the timeout the event reported, since the kernel
    /// refreshes an entry's timeout on every packet but only reports a state change. An entry
    /// whose deadline has passed is left out, as ctnetlink_dump_table skips expired entries.
    /// With <paramref name="withCounters"/> (the end of the run) the connections row's accounting
    /// counters are included when the run counted (nf_conntrack_acct): they are only known at the end.
    /// In ct_id order, which is the simulated table's slot order.
    /// </summary>
    public IReadOnlyList<ConntrackListEntry> ConntrackAt(long atUs, bool withCounters)
    {
        const string sql = """
            WITH live AS (
                SELECT c.*, epoch_us(c.first_ts) AS f FROM connections c
                WHERE epoch_us(c.first_ts) <= $1 AND (c.last_ts IS NULL OR epoch_us(c.last_ts) > $1)
            ),
            ev AS (
                SELECT ct_id, ets, status, tcp_state, mark, timeout_s,
                       row_number() OVER (PARTITION BY ct_id ORDER BY ets DESC, real DESC, seq DESC) AS rn
                FROM (
                    SELECT e.ct_id, epoch_us(e.ts) AS ets, e.status, e.tcp_state, e.mark, e.timeout_s, 1 AS real, e.rowid AS seq
                    FROM conntrack_events e JOIN live l ON l.ct_id = e.ct_id
                    -- A live connection's own DESTROY is after $1; one at or after its first_ts is the
                    -- previous entry of the slot, taken back in the same microsecond (early_drop at start).
                    WHERE epoch_us(e.ts) >= l.f AND epoch_us(e.ts) <= $1 AND e.type <> 'DESTROY'
                    /*START*/
                )
            ),
            pk AS (
                SELECT p.ct_id, max(epoch_us(p.ts)) AS last_pkt FROM packets p JOIN live l ON l.ct_id = p.ct_id
                WHERE epoch_us(p.ts) >= l.f AND epoch_us(p.ts) <= $1 GROUP BY p.ct_id
            )
            SELECT l.ct_id, l.family, l.proto,
                   l.orig_src, l.orig_dst, l.orig_sport, l.orig_dport, l.reply_src, l.reply_dst, l.reply_sport, l.reply_dport,
                   coalesce(ev.status, l.status), coalesce(ev.tcp_state, l.tcp_state), coalesce(ev.mark, l.mark), l.zone,
                   ev.ets, ev.timeout_s, pk.last_pkt,
                   l.orig_packets, l.orig_bytes, l.reply_packets, l.reply_bytes
            FROM live l LEFT JOIN ev ON ev.ct_id = l.ct_id AND ev.rn = 1 LEFT JOIN pk ON pk.ct_id = l.ct_id
            ORDER BY l.ct_id
            """;
        // The starting table's entries (conntrack_start, from runs made since it exists): their state as
        // they went live stands in for an event until the first real one (a real event at the same time
        // wins). The rows are the entries that went live, one per slot; a slot's later entry has its own
        // NEW. A time before the table went live (a first sighting that met no conntrack) sees it as it
        // went live.
        const string start = """
                    UNION ALL
                    SELECT s.ct_id, least(epoch_us(s.ts), $1), s.status, s.tcp_state, s.mark, s.timeout_s, 0, 0
                    FROM conntrack_start s JOIN live l ON l.ct_id = s.ct_id AND l.f <= epoch_us(s.ts)
            """;
        string query = sql.Replace("/*START*/", HasTable("conntrack_start") ? start : string.Empty, StringComparison.Ordinal);
        long atNs = atUs * 1000;
        var entries = new List<ConntrackListEntry>();
        foreach (var row in QueryRows(query, atUs))
        {
            long deadlineNs = row.TimeoutS < 0 ? long.MaxValue : (Math.Max(row.EventUs, row.LastPacketUs) * 1000) + (row.TimeoutS * NsPerSecond);
            if (deadlineNs <= atNs)
                continue;
            entries.Add(new ConntrackListEntry
            {
                Orig = row.Orig,
                Reply = row.Reply,
                SecondsLeft = deadlineNs == long.MaxValue ? 0 : (deadlineNs - atNs) / NsPerSecond,
                TcpState = row.TcpState,
                Status = row.Status,
                Mark = row.Mark,
                Zone = row.Zone,
                HasCounters = withCounters && row.OrigPackets > 0,
                OrigPackets = row.OrigPackets,
                OrigBytes = row.OrigBytes,
                ReplyPackets = row.ReplyPackets,
                ReplyBytes = row.ReplyBytes,
            });
        }
        return entries;
    }

    private readonly record struct CtRow(NfConntrackTuple Orig, NfConntrackTuple Reply, CtStatus Status, TcpConntrack TcpState, uint Mark, ushort Zone,
        long EventUs, long TimeoutS, long LastPacketUs, ulong OrigPackets, ulong OrigBytes, ulong ReplyPackets, ulong ReplyBytes);

    private List<CtRow> QueryRows(string sql, long atUs) => Query(sql, r =>
    {
        bool v6 = Str(r, 1) == "ipv6";
        byte proto = (byte)I64(r, 2);
        return new CtRow(
            Tuple(r, 3, proto, v6), Tuple(r, 7, proto, v6),
            (CtStatus)(uint)I64(r, 11), TcpStateOf(StrOrNull(r, 12)), (uint)I64(r, 13), (ushort)I64(r, 14),
            I64(r, 15), I64(r, 16), I64(r, 17),
            U64(r, 18), U64(r, 19), U64(r, 20), U64(r, 21));
    }, atUs);

    /// <summary>A tuple from its four columns; ICMP keeps the echo id in sport and type &lt;&lt; 8 | code in dport (RunSchema).</summary>
    private static NfConntrackTuple Tuple(DbDataReader r, int at, byte proto, bool v6)
    {
        var src = IpAddr.Parse(Str(r, at));
        var dst = IpAddr.Parse(Str(r, at + 1));
        ushort sport = (ushort)I64(r, at + 2), dport = (ushort)I64(r, at + 3);
        return proto is 1 or 58
            ? new NfConntrackTuple(src, dst, sport, 0, proto, v6, (byte)(dport >> 8), (byte)dport)
            : new NfConntrackTuple(src, dst, sport, dport, proto, v6);
    }

    private static TcpConntrack TcpStateOf(string? name)
    {
        if (name is null)
            return TcpConntrack.None;
        foreach (var s in Enum.GetValues<TcpConntrack>())
        {
            if (s < TcpConntrack.Max && RunWriter.TcpStateName(s) == name)
                return s;
        }
        return TcpConntrack.None;
    }
}
