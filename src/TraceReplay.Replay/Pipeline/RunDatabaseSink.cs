using System.Runtime.InteropServices;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Readers;
using TraceReplay.Host;
using TraceReplay.Host.Iptables;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Replay.Correlate;
using TraceReplay.Store;

namespace TraceReplay.Replay.Pipeline;

/// <summary>
/// The output stage: every sighting as a row of `packets`, and at the end the rules with their
/// simulated counters, the NAT mappings and the run's facts (DESIGN.md's run database). Rule ids
/// number every chain's own line (a built-in chain's policy, a user chain's "-") and every rule of
/// the snapshot in iptables-save order (IPv4, then IPv6), so a packet names the rule that decided it
/// by id, `rules` holds its text once, and `counters` can print the rule set back, empty user chains
/// included. With `--trace` it is also the trace sink: each table step of a chosen packet becomes a
/// row of rule_trace (ipt_do_table's trace_packet).
/// </summary>
public sealed partial class RunDatabaseSink : IReplaySink, INfConntrackEventSink, INfNatMappingSink, IDisposable
{
    private readonly RunWriter _writer;
    private readonly HostSnapshot _snapshot;
    private readonly NfHost _host;
    private readonly Dictionary<(IptFamily Family, string Table, string Chain, int Position), int> _ruleIds = [];
    private readonly HashSet<int> _policyDrop = [];
    // Texts as the writer's handles (RunWriter.TextHandle), made once per key, not per row.
    private readonly Dictionary<PathKey, int> _paths = [];
    private readonly Dictionary<(PathKey, TraceReplay.Netfilter.Reject.NfGeneratedBy), int> _generatedPaths = [];
    private readonly Dictionary<NfDropKey, int> _reasons = [];
    private readonly int _observationPath, _notIpPath, _bridgedPath, _bridgePortPath, _unknownDirectionPath;

    /// <summary>
    /// What <see cref="NfHookResult.PathDescription"/> reads: the hook bits, and for a bridged frame
    /// its ports ("bridge veth1 > veth2", or "flood"). The text is made once per key, not per row.
    /// </summary>
    private readonly record struct PathKey(NfPath Path, string? In, string? Out, bool Flood)
    {
        public static PathKey Of(in NfHookResult r) => (r.Path & NfPath.Bridge) == 0
            ? new(r.Path, null, null, false)
            : new(r.Path, r.PhysInDev, r.BridgeOutPorts > 1 ? null : r.PhysOutDev ?? r.InDev, r.BridgeOutPorts > 1);
    }

    // The first packet's time: entries of the starting table (conntrack.txt) were live from then on.
    private long _startNs = -1;

    private const string ObservationPath = "later sighting (not an input)";
    private const string NotIpPath = "not simulated: not IP";
    private const string BridgedPath = "not simulated: bridged between ports";
    private const string BridgePortPath = "not simulated: made in the bridge path";
    private const string UnknownDirectionPath = "not simulated: direction unknown";
    private const string GeneratedOutOfPortPath = "made by the host (REJECT) | out of the bridge port, past every hook (nf_send_reset → dev_queue_xmit)";

    /// <summary>Lets the host be built with an event sink before the database exists (NfHostOptions.Events is fixed at creation).</summary>
    public sealed class EventRelay : INfConntrackEventSink
    {
        public INfConntrackEventSink? Target { get; set; }

        public void OnEvents(ReadOnlySpan<TraceReplay.Netfilter.Conntrack.NfConntrackEvent> events) => Target?.OnEvents(events);
    }

    public RunDatabaseSink(string path, HostSnapshot snapshot, NfHost host, RunWriterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        _snapshot = snapshot;
        _host = host;
        _writer = RunWriter.Create(path, options);
        (_observationPath, _notIpPath, _bridgedPath, _bridgePortPath, _unknownDirectionPath) = (_writer.TextHandle(ObservationPath),
            _writer.TextHandle(NotIpPath), _writer.TextHandle(BridgedPath), _writer.TextHandle(BridgePortPath), _writer.TextHandle(UnknownDirectionPath));
        // Bindings are rows of nat_mappings as they close; the hook keeps only the open ones.
        host.Nat.MappingSink = this;
        int id = 0;
        foreach (var rs in new[] { snapshot.Iptables, snapshot.Ip6tables })
        {
            foreach (var t in rs.Tables)
            {
                foreach (var c in t.Chains)
                {
                    if (c.Policy == ChainPolicy.Drop)
                        _policyDrop.Add(id);
                    _ruleIds[(rs.Family, t.Name, c.Name, 0)] = id++;
                    for (int i = 0; i < c.Rules.Count; i++)
                        _ruleIds[(rs.Family, t.Name, c.Name, i + 1)] = id++;
                }
            }
        }
    }

    public void Add(in ReplayedSighting s, in DecodedPacket packet)
    {
        if (_startNs < 0)
            _startNs = s.TimeNs;
        var row = new PacketRecord
        {
            Id = s.SightingNumber,
            PacketId = s.Sighting.PacketId,
            TimestampUs = s.TimeNs / 1000,
            CapturePoint = _writer.TextHandle(s.Point),
            Direction = s.Direction switch { PacketDirection.Incoming => SightingDirection.In, PacketDirection.Outgoing => SightingDirection.Out, _ => SightingDirection.Unknown },
            Family = !packet.HasIp ? RunFamily.None : packet.IsIpv4 ? RunFamily.Ipv4 : RunFamily.Ipv6,
            Protocol = packet.Protocol,
            Length = packet.WireLength,
            CtId = -1,
            VerdictRuleId = -1,
            Verdict = PacketVerdict.Accept,
        };
        if (s.Handling is SightingHandling.Simulated or SightingHandling.Generated)
        {
            // By reference: a copy of the ~300-byte result (five strings) went through the bulk write-barrier helper per row.
            ref readonly var r = ref s.Result;
            bool icmp = packet.Protocol is L4Protocol.Icmp or L4Protocol.Icmpv6;
            row.Src = r.TupleBefore.Src;
            row.Dst = r.TupleBefore.Dst;
            row.SrcPort = r.TupleBefore.SrcPort;
            row.DstPort = icmp ? (ushort)((r.TupleBefore.IcmpType << 8) | r.TupleBefore.IcmpCode) : r.TupleBefore.DstPort;
            if (!r.TupleAfter.Equals(r.TupleBefore) && r.TupleAfter.Protocol == r.TupleBefore.Protocol)
            {
                row.HasNat = true;
                row.NatSrc = r.TupleAfter.Src;
                row.NatDst = r.TupleAfter.Dst;
                row.NatSrcPort = r.TupleAfter.SrcPort;
                row.NatDstPort = icmp ? row.DstPort : r.TupleAfter.DstPort;
            }
            if (r.CtEntry >= 0)
            {
                row.CtId = r.CtEntry;
                row.CtDirection = r.CtDirection;
            }
            row.CtState = r.CtState;
            row.Path = s.Handling == SightingHandling.Generated ? GeneratedPath(r, s.Generated?.By ?? default) : Path(r);
            row.DependsOnUnknown = r.DependsOnUnknown;
            row.Verdict = r.Fate switch
            {
                NfFate.Dropped => r.HasReject ? PacketVerdict.Reject : PacketVerdict.Drop,
                NfFate.Queued => PacketVerdict.Queue,
                _ => PacketVerdict.Accept,
            };
            if (r.Fate is NfFate.Dropped or NfFate.Queued)
            {
                if (r.DropTable is { } table && r.DropEntry >= 0)
                {
                    row.VerdictRuleId = RuleIdOf(packet.IsIpv6 ? IptFamily.IPv6 : IptFamily.IPv4, table, r.DropEntry);
                }
                else
                {
                    ref var why = ref CollectionsMarshal.GetValueRefOrAddDefault(_reasons, r.DropKey, out bool known);
                    if (!known)
                        why = _writer.TextHandle(r.DropDescription());
                    row.DropReason = why;
                }
            }
        }
        else
        {
            // Not simulated: no conntrack state at all (a negative ct id with a state other than
            // INVALID/UNTRACKED is stored as NULL), rather than the INVALID a default would claim.
            row.CtState = TraceReplay.Netfilter.Conntrack.CtState.New;
            row.Src = packet.Src;
            row.Dst = packet.Dst;
            // The same columns as a simulated row (RunSchema: ICMP's echo id and type << 8 | code), so a
            // sighting reads alike whatever role the correlator gave it.
            bool icmp = packet.Protocol is L4Protocol.Icmp or L4Protocol.Icmpv6;
            row.SrcPort = icmp ? packet.IcmpId : packet.SrcPort;
            row.DstPort = icmp ? (ushort)((packet.IcmpType << 8) | packet.IcmpCode) : packet.DstPort;
            row.Path = s.Handling switch
            {
                SightingHandling.Observation => _observationPath,
                SightingHandling.NotIp => _notIpPath,
                SightingHandling.BridgedNotSimulated => _bridgedPath,
                SightingHandling.MadeOnBridgePort => _bridgePortPath,
                _ => _unknownDirectionPath,
            };
        }
        Hold(ref row, s);
    }

    /// <summary>Conntrack's NEW/UPDATE/DESTROY events as they happen: rows of conntrack_events.</summary>
    public void OnEvents(ReadOnlySpan<TraceReplay.Netfilter.Conntrack.NfConntrackEvent> events)
    {
        foreach (ref readonly var e in events)
        {
            _writer.AddConntrackEvent(e);
            if (e.Type == TraceReplay.Netfilter.Conntrack.NfctEventType.Destroy)
            {
                // The entry's confirmation time (its NEW event's) travels with it, so no table per live
                // connection is kept here. Entries of the starting table (conntrack.txt, StartNs 0) had no
                // NEW here: they were live from the first packet.
                // An entry of the starting table taken back while the table went live (early_drop at
                // nf_conntrack_max) is destroyed before the first sighting's row sets the run's start.
                long first = e.StartNs == 0 && _startNs < 0 ? e.Time : FirstNs(e.StartNs);
                _writer.AddConnection(new ConnectionRow
                {
                    CtId = e.Entry, Orig = e.Orig, Reply = e.Reply, FirstUs = first / 1000, LastUs = e.Time / 1000,
                    Status = e.Status, TcpState = e.TcpState, Mark = e.Mark, Zone = e.Zone,
                    OrigPackets = e.OrigPackets, OrigBytes = e.OrigBytes, ReplyPackets = e.ReplyPackets, ReplyBytes = e.ReplyBytes,
                });
            }
        }
    }

    /// <summary>The path of a packet the host made (REJECT's reply): through OUTPUT, or straight out of a bridge port.</summary>
    private int GeneratedPath(in NfHookResult r, TraceReplay.Netfilter.Reject.NfGeneratedBy by)
    {
        ref var text = ref CollectionsMarshal.GetValueRefOrAddDefault(_generatedPaths, (PathKey.Of(r), by), out bool known);
        if (!known)
            text = _writer.TextHandle(r.Path == NfPath.None ? GeneratedOutOfPortPath : GeneratedBy(by) + " | " + r.PathDescription());
        return text;
    }

    private static string GeneratedBy(TraceReplay.Netfilter.Reject.NfGeneratedBy by) => by switch
    {
        TraceReplay.Netfilter.Reject.NfGeneratedBy.EchoReply => "made by the host (echo reply)",
        TraceReplay.Netfilter.Reject.NfGeneratedBy.TcpReset => "made by the host (RST: closed port)",
        TraceReplay.Netfilter.Reject.NfGeneratedBy.PortUnreachable => "made by the host (port unreachable: closed port)",
        _ => "made by the host (REJECT)",
    };

    /// <summary>The hooks of a path as text, made once per distinct path.</summary>
    private int Path(in NfHookResult r)
    {
        ref var text = ref CollectionsMarshal.GetValueRefOrAddDefault(_paths, PathKey.Of(r), out bool known);
        if (!known)
            text = _writer.TextHandle(r.PathDescription());
        return text;
    }

    /// <summary>Writes the end-of-run tables and renames the database into place.</summary>
    public void Complete(ReplaySummary summary, IEnumerable<(string Key, string Value)> info)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(info);
        CompleteFidelity(summary);
        foreach (var rs in new[] { _snapshot.Iptables, _snapshot.Ip6tables })
        {
            var family = rs.Family == IptFamily.IPv6 ? RunFamily.Ipv6 : RunFamily.Ipv4;
            foreach (var t in rs.Tables)
            {
                foreach (var c in t.Chains)
                {
                    if (c.IsBuiltin)
                    {
                        var pc = _host.Counters(rs.Family, t.Name, c.Name, -1);
                        _writer.AddRule(new RuleRow { Id = _ruleIds[(rs.Family, t.Name, c.Name, 0)], Family = family, Table = t.Name, Chain = c.Name, Position = 0, IsPolicy = true, Text = c.Policy == ChainPolicy.Drop ? "DROP" : "ACCEPT", Packets = pc.Packets, Bytes = pc.Bytes });
                    }
                    else
                    {
                        // iptables-save prints a user chain as ":NAME - [0:0]": no policy, no counters of its own.
                        _writer.AddRule(new RuleRow { Id = _ruleIds[(rs.Family, t.Name, c.Name, 0)], Family = family, Table = t.Name, Chain = c.Name, Position = 0, IsPolicy = false, Text = "-" });
                    }
                    for (int i = 0; i < c.Rules.Count; i++)
                    {
                        var rc = _host.Counters(rs.Family, t.Name, c.Name, i);
                        _writer.AddRule(new RuleRow { Id = _ruleIds[(rs.Family, t.Name, c.Name, i + 1)], Family = family, Table = t.Name, Chain = c.Name, Position = i + 1, Text = c.Rules[i].Text, Packets = rc.Packets, Bytes = rc.Bytes });
                    }
                }
            }
        }
        // The bindings still open at the end (closed ones were written as they closed): no removal time.
        foreach (var m in _host.Nat.OpenMappings())
            OnMappingClosed(m);
        // The starting table as it went live: the state no event reports, for `conntrack RUN --at`. Its
        // time is the first packet that met conntrack (its deadlines count from then), which may follow
        // the first sighting (connections.first_ts of these entries) when that was ARP or other non-IP.
        var ct = _host.Conntrack;
        foreach (var st in ct.Started)
        {
            _writer.AddConntrackStart(new ConntrackStartRow
            {
                TimestampUs = st.AtNs / 1000, CtId = st.Entry, Protocol = st.Protocol, Status = st.Status, TcpState = st.TcpState,
                Mark = st.Mark, TimeoutSeconds = st.SecondsLeft,
            });
        }
        // Connections still live at the end of the capture: no end time.
        foreach (int entry in ct.ConfirmedEntries())
        {
            ref var c = ref ct[entry];
            long first = FirstNs(c.StartNs) / 1000;
            _writer.AddConnection(new ConnectionRow
            {
                CtId = entry, Orig = c.Orig, Reply = c.Reply, FirstUs = first, LastUs = -1, Status = c.Status, TcpState = c.Tcp.State,
                Mark = c.Mark, Zone = c.Zone, OrigPackets = c.OrigPackets, OrigBytes = c.OrigBytes, ReplyPackets = c.ReplyPackets, ReplyBytes = c.ReplyBytes,
            });
        }
        foreach (var c in summary.Captures)
            _writer.AddCapture(new CaptureRow { File = c.Path, Format = c.Format, LinkType = c.LinkTypes, Interface = c.Interface, Packets = c.Packets, FirstUs = c.FirstNs / 1000, LastUs = c.LastNs / 1000 });
        _writer.AddInfo("sightings", summary.Sightings.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _writer.AddInfo("packets", summary.Packets.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _writer.AddInfo("simulated", summary.Simulated.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _writer.AddInfo("nat_ports_adopted", _host.Nat.SourcePortsAdopted.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _writer.AddInfo("nat_ports_not_adopted", _host.Nat.SourcePortsNotAdopted.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _writer.AddInfo("snapshot", _snapshot.Directory);
        foreach (var w in _snapshot.Warnings)
            _writer.AddInfo("warning", w.ToString());
        foreach (var (k, v) in info)
            _writer.AddInfo(k, v);
        _writer.Complete();
    }

    public void Dispose() => _writer.Dispose();

    private long FirstNs(long startNs) => startNs != 0 ? startNs : Math.Max(_startNs, 0);

    /// <summary>
    /// A binding's row of nat_mappings, written when it closes (or, still open, at the end): rows are
    /// in closing order, live ones last, not set-up order (ORDER BY setup_ts for that). A mapping
    /// names its rule by its entry in the compiled nat table; the run database by rules.id.
    /// </summary>
    public void OnMappingClosed(in NatMapping mapping) => _writer.AddNatMapping(mapping with { RuleId = NatRuleId(mapping) });

    private int NatRuleId(in NatMapping m)
    {
        var family = m.Original.IsV6 ? IptFamily.IPv6 : IptFamily.IPv4;
        return m.RuleId < 0 || _host.Table(family, NfTableId.Nat) is not { } nat ? -1 : RuleIdOf(family, nat, m.RuleId);
    }

    /// <summary>rules.id of a compiled table's entry (a rule, or a chain's policy); -1 when the rule set has no such row.</summary>
    private int RuleIdOf(IptFamily family, XtTableInfo table, int entry)
    {
        var (chain, num, isPolicy) = table.Describe(entry);
        return _ruleIds.TryGetValue((family, table.Name, chain, isPolicy ? 0 : num), out int id) ? id : -1;
    }
}
