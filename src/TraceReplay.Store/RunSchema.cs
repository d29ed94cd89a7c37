namespace TraceReplay.Store;

/// <summary>
/// The tables and views of the run database (DESIGN.md, "Run database"). Addresses read as VARCHAR in
/// their usual text form (10.0.0.1, 2001:db8::1): that is what users type in a WHERE, what joins
/// against other tools' output, and what DuckDB's inet extension casts (src::INET) when CIDR matching
/// is wanted. packets, the one table with a row per packet, stores them and its other texts (capture
/// point, path, reasons) as run_text ids instead, in packets_data; `packets` is a view that prints
/// them back. A string per row costs DuckDB a hash, statistics and a compression pass
/// (~1 µs of a packets row's ~1.6 µs, README "The run database's cost"); an integer very little.
/// Times are TIMESTAMPTZ from UTC microseconds.
/// </summary>
public static partial class RunSchema
{
    /// <summary>Bumped on any incompatible change to a table or view; stored in run_info as schema_version.</summary>
    /// <remarks>
    /// 2: rule_trace's columns (hook, rulenum, type, matched), rules' user-chain rows, the fidelity table, packets.observed filled.
    /// 3: packets is a view over packets_data (addresses and texts as run_text ids), packets_keyed, run_text.
    /// </remarks>
    public const int Version = 3;

    private static ColumnDef C(string name, ColKind kind, string comment) => new(name, kind, false, comment);
    private static ColumnDef N(string name, ColKind kind, string comment) => new(name, kind, true, comment);
    private static ColumnDef E(string name, string type, bool nullable, string comment) => new(name, ColKind.Text, nullable, comment) { EnumType = type };

    /// <summary>
    /// The fixed vocabularies, stored as DuckDB ENUMs: a byte per value instead of a string to
    /// compress, and `SELECT enum_range(NULL::verdict_t)` lists what may appear. Arrow files carry
    /// them as plain strings. Only ever append values (reordering changes stored codes).
    /// </summary>
    internal static readonly (string Name, string[] Values)[] Enums =
    [
        ("direction_t", ["in", "out"]),
        ("family_t", ["ipv4", "ipv6", "bridge"]),
        ("ct_state_t", ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"]),
        ("ct_dir_t", ["ORIGINAL", "REPLY"]),
        ("verdict_t", ["ACCEPT", "DROP", "REJECT", "QUEUE", "STOLEN"]),
        ("tcp_state_t", ["NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"]),
        ("ct_event_t", ["NEW", "UPDATE", "DESTROY"]),
        ("nat_manip_t", ["SRC", "DST"]),
        ("trace_type_t", ["rule", "return", "policy"]),
    ];

    /// <summary>The values of an ENUM type of <see cref="Enums"/>, in code order.</summary>
    internal static string[] EnumValues(string type) => Enums.First(e => e.Name == type).Values;

    internal static IEnumerable<string> CreateEnums() =>
        Enums.Select(e => $"CREATE TYPE {e.Name} AS ENUM ({string.Join(", ", e.Values.Select(TableDef.Quote))})");

    private static ColumnDef[] Tuple(string prefix, string what, bool nullable, ColStorage addresses = ColStorage.Plain) =>
    [
        new(prefix + "src", ColKind.Text, nullable, $"source address {what}") { Storage = addresses },
        new(prefix + "dst", ColKind.Text, nullable, $"destination address {what}") { Storage = addresses },
        new(prefix + "sport", ColKind.UInt16, nullable, $"source port {what} (ICMP: echo id)"),
        new(prefix + "dport", ColKind.UInt16, nullable, $"destination port {what} (ICMP: type << 8 | code)"),
    ];

    internal static readonly TableDef Packets = new(
        "packets",
        "One row per packet sighting at a capture point, with the simulated path and verdict",
        [
            C("id", ColKind.Int64, "packet sighting id, in capture time order"),
            C("packet_id", ColKind.Int64, "the real packet this is a sighting of: later sightings (bridged, routed, NATed) share the id of the first, where it entered"),
            C("ts", ColKind.Ts, "capture time (UTC, microseconds)"),
            C("capture_point", ColKind.Text, "interface the packet was captured on") with { Storage = ColStorage.TextId },
            E("direction", "direction_t", true, "in or out at the capture point (NULL when the capture does not say)"),
            E("family", "family_t", true, "ipv4, ipv6 or bridge; NULL for a frame with no IP header"),
            N("proto", ColKind.UInt8, "IP protocol number"),
            .. Tuple("", "as captured (before NAT)", true, ColStorage.AddrKey),
            .. Tuple("nat_", "after NAT; NULL when NAT left the packet alone", true, ColStorage.AddrKey),
            C("len", ColKind.Int32, "length on the wire"),
            N("ct_id", ColKind.Int64, "conntrack entry (connections.ct_id); NULL when untracked"),
            E("ct_state", "ct_state_t", true, "conntrack state of the packet: NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED"),
            E("ct_dir", "ct_dir_t", true, "ORIGINAL or REPLY"),
            N("path", ColKind.Text, "hooks traversed, e.g. PREROUTING>FORWARD>POSTROUTING") with { Storage = ColStorage.TextId },
            E("verdict", "verdict_t", false, "final verdict: ACCEPT, DROP, REJECT, QUEUE, STOLEN"),
            N("verdict_rule_id", ColKind.Int32, "rules.id of the rule or policy that decided; join rules for table/chain/position/text"),
            N("drop_reason", ColKind.Text, "why the packet was dropped when no rule did it (e.g. no route, rp_filter, no free NAT port)") with { Storage = ColStorage.TextId },
            C("depends_on_unknown", ColKind.Bool, "an unknown (not fully evaluable) match decided this verdict"),
            N("observed", ColKind.Text, "observed egress versus prediction; NULL until the fidelity check runs") with { Storage = ColStorage.TextId },
        ]);

    internal static readonly TableDef Rules = new(
        "rules",
        "Every rule and chain policy of the simulated rule set with simulated counters, in iptables-save order",
        [
            C("id", ColKind.Int32, "rule id (packets.verdict_rule_id, rule_trace.rule_id)"),
            E("family", "family_t", false, "ipv4 (iptables), ipv6 (ip6tables) or bridge (ebtables)"),
            C("table", ColKind.Text, "table: filter, nat, mangle, raw, security, broute"),
            C("chain", ColKind.Text, "chain name"),
            C("position", ColKind.Int32, "1-based position in the chain; 0 for the chain's own line (its policy, or '-' for a user-defined chain)"),
            C("is_policy", ColKind.Bool, "the row is a built-in chain's policy (position 0 of a user-defined chain is not)"),
            C("text", ColKind.Text, "the rule as iptables-save prints it after -A CHAIN (the policy target for a policy, '-' for a user-defined chain)"),
            C("packets", ColKind.UInt64, "simulated packet counter"),
            C("bytes", ColKind.UInt64, "simulated byte counter"),
        ]);

    private static ColumnDef[] CtColumns() =>
    [
        E("family", "family_t", false, "ipv4 or ipv6"),
        C("proto", ColKind.UInt8, "IP protocol number"),
        .. Tuple("orig_", "of the original direction", false),
        .. Tuple("reply_", "of the reply direction (after NAT)", false),
    ];

    internal static readonly TableDef Connections = new(
        "connections",
        "One row per conntrack entry over its life",
        [
            C("ct_id", ColKind.Int64, "conntrack entry id"),
            .. CtColumns(),
            C("first_ts", ColKind.Ts, "when the entry was created (UTC)"),
            N("last_ts", ColKind.Ts, "when it was destroyed; NULL if still live at the end of the run"),
            C("status", ColKind.UInt32, "IPS_* status bits"),
            E("tcp_state", "tcp_state_t", true, "TCP conntrack state (NULL for other protocols)"),
            C("mark", ColKind.UInt32, "ct mark"),
            C("zone", ColKind.UInt16, "conntrack zone"),
            C("orig_packets", ColKind.UInt64, "packets in the original direction"),
            C("orig_bytes", ColKind.UInt64, "bytes in the original direction"),
            C("reply_packets", ColKind.UInt64, "packets in the reply direction"),
            C("reply_bytes", ColKind.UInt64, "bytes in the reply direction"),
        ]);

    internal static readonly TableDef NatMappings = new(
        "nat_mappings",
        "One row per NAT binding over its life (nf_nat_setup_info to the entry's destruction)",
        [
            C("setup_ts", ColKind.Ts, "when the binding was set up (UTC)"),
            N("removed_ts", ColKind.Ts, "when it went away; NULL while live at the end of the run"),
            .. CtColumns(),
            N("rule_id", ColKind.Int32, "rules.id of the NAT rule; NULL for a null binding"),
            C("nat_addr", ColKind.Text, "translated address: the new source (SNAT) or destination (DNAT)"),
            C("nat_port", ColKind.UInt16, "translated port (ICMP: id)"),
            E("manip", "nat_manip_t", false, "SRC (SNAT, MASQUERADE) or DST (DNAT, REDIRECT): nf_nat_manip_type"),
        ]);

    internal static readonly TableDef ConntrackEvents = new(
        "conntrack_events",
        "Conntrack events as conntrack -E reports them",
        [
            C("ts", ColKind.Ts, "event time (UTC); for an expiry, the deadline the entry passed"),
            E("type", "ct_event_t", false, "NEW, UPDATE or DESTROY"),
            C("mask", ColKind.UInt16, "IPCT_* event bits"),
            C("ct_id", ColKind.Int64, "conntrack entry id"),
            .. CtColumns(),
            C("zone", ColKind.UInt16, "conntrack zone"),
            C("status", ColKind.UInt32, "IPS_* status bits"),
            E("tcp_state", "tcp_state_t", true, "TCP conntrack state (NULL for other protocols)"),
            C("mark", ColKind.UInt32, "ct mark"),
            C("timeout_s", ColKind.Int64, "seconds left on the entry's timeout"),
            N("orig_packets", ColKind.UInt64, "DESTROY with accounting: packets original direction"),
            N("orig_bytes", ColKind.UInt64, "DESTROY with accounting: bytes original direction"),
            N("reply_packets", ColKind.UInt64, "DESTROY with accounting: packets reply direction"),
            N("reply_bytes", ColKind.UInt64, "DESTROY with accounting: bytes reply direction"),
        ]);

    internal static readonly TableDef ConntrackStart = new(
        "conntrack_start",
        "The snapshot's starting connection table (conntrack.txt) as it went live at the first packet, which no event reports: each entry's state then. Its tuples and later life are the connections row with the same ct_id whose first_ts (the run's first sighting) is at or before ts",
        [
            C("ts", ColKind.Ts, "when the starting table went live: the first packet that met conntrack (UTC); its entries' deadlines count from then"),
            C("ct_id", ColKind.Int64, "conntrack entry id (connections.ct_id)"),
            C("status", ColKind.UInt32, "IPS_* status bits at the start"),
            E("tcp_state", "tcp_state_t", true, "TCP conntrack state at the start (NULL for other protocols)"),
            C("mark", ColKind.UInt32, "ct mark at the start"),
            C("timeout_s", ColKind.Int64, "seconds left on the entry's timeout at the start, as conntrack.txt gave them"),
        ]);

    internal static readonly TableDef RuleTrace = new(
        "rule_trace",
        "With --trace: every rule a packet was checked against and the result, as the TRACE target logs it (nf_log_trace: TRACE: table:chain:type:rulenum)",
        [
            C("packet_id", ColKind.Int64, "packets.packet_id: the real packet, traced where it entered the simulated host"),
            C("seq", ColKind.Int32, "step number within the packet, from 1"),
            E("family", "family_t", false, "ipv4 (iptables) or ipv6 (ip6tables)"),
            C("hook", ColKind.Text, "the netfilter hook of the traversal: PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING"),
            C("table", ColKind.Text, "table"),
            C("chain", ColKind.Text, "chain"),
            C("rulenum", ColKind.Int32, "the number TRACE prints: the rule's 1-based position; for a policy or a user chain's end, the chain's rule count + 1"),
            N("rule_id", ColKind.Int32, "rules.id (a policy joins its chain's position-0 row; NULL for a user chain's implicit return)"),
            E("type", "trace_type_t", false, "rule, return or policy, as trace_packet's comments"),
            N("matched", ColKind.Bool, "for a rule, whether it matched (NULL: an unknown match left it undecided); true for return and policy"),
            N("verdict", ColKind.Text, "for a policy, the verdict it gave (ACCEPT, DROP)"),
        ]);

    internal static readonly TableDef Captures = new(
        "captures",
        "The capture files replayed",
        [
            C("file", ColKind.Text, "capture file path"),
            C("format", ColKind.Text, "pcap or pcapng"),
            C("link_type", ColKind.Text, "link type (EN10MB, LINUX_SLL2, RAW...)"),
            N("interface", ColKind.Text, "interface the file was captured on; NULL when the file names it per packet"),
            C("packets", ColKind.Int64, "packets read"),
            N("first_ts", ColKind.Ts, "first packet time (UTC)"),
            N("last_ts", ColKind.Ts, "last packet time (UTC)"),
        ]);

    internal static readonly TableDef RunInfo = new(
        "run_info",
        "Inputs, versions, options and warnings of the run (key schema_version: the schema of this database)",
        [
            C("key", ColKind.Text, "what: input, version, option, warning, schema_version..."),
            C("value", ColKind.Text, "its value"),
        ]);

    internal static readonly TableDef Fidelity = new(
        "fidelity",
        "Observed egress versus the simulation's prediction (issue 6): one row per measure, packets counted once each",
        [
            C("metric", ColKind.Text, "observed_egress, explained, unexplained, nat_port_differs, nat_other_differs, predicted_unseen, seen_though_dropped, other_interface, not_simulated, not_applicable"),
            C("packets", ColKind.Int64, "real packets (packets.packet_id) with this outcome"),
            N("examples", ColKind.Text, "the first packet ids with it, for `tracereplay trace`"),
            N("detail", ColKind.Text, "what was predicted and what was seen, for those examples"),
        ]);

    /// <summary>The texts keyed columns point at (<see cref="ColStorage"/>); ids are dense from 0, in the order they were first needed.</summary>
    internal static readonly TableDef RunText = new(
        "run_text",
        "The texts of packets_data's keyed columns: capture points, paths, drop reasons, observed outcomes and addresses (as IpAddr prints them)",
        [
            C("id", ColKind.UInt32, "the id packets_data stores; dense from 0"),
            C("text", ColKind.Text, "the text the views print for it"),
        ]);

    /// <summary>The tables, created in this order; run_text first so the views that read it (packets, packets_keyed) can be created with their tables.</summary>
    internal static readonly TableDef[] Tables = [RunText, Packets, Rules, Connections, NatMappings, ConntrackEvents, ConntrackStart, RuleTrace, Captures, RunInfo, Fidelity];

    /// <summary>Views for everyday questions; plain SQL so any DuckDB client can use them.</summary>
    internal static readonly (string Name, string Comment, string Sql)[] Views =
    [
        ("v_packets", "packets with the deciding rule's table, chain, position and text",
            """
            SELECT p.*, r."table" AS rule_table, r.chain AS rule_chain, r.position AS rule_position, r.text AS rule_text
            FROM packets p LEFT JOIN rules r ON r.id = p.verdict_rule_id
            """),
        ("v_drops", "dropped or rejected packets with the rule (or reason) that dropped them",
            """
            SELECT p.id, p.ts, p.capture_point, p.family, p.proto, p.src, p.sport, p.dst, p.dport, p.verdict,
                   r."table" AS rule_table, r.chain AS rule_chain, r.position AS rule_position, r.text AS rule_text,
                   p.drop_reason, p.depends_on_unknown
            FROM packets p LEFT JOIN rules r ON r.id = p.verdict_rule_id
            WHERE p.verdict IN ('DROP', 'REJECT')
            """),
        ("v_drops_by_rule", "drop counts per deciding rule or reason",
            """
            SELECT rule_table, rule_chain, rule_position, rule_text, drop_reason, count(*) AS packets,
                   min(ts) AS first_ts, max(ts) AS last_ts
            FROM v_drops GROUP BY ALL ORDER BY packets DESC
            """),
    ];

    internal static string Family(RunFamily f) => f switch
    {
        RunFamily.Ipv4 => "ipv4",
        RunFamily.Ipv6 => "ipv6",
        RunFamily.Bridge => "bridge",
        _ => "none",
    };
}
