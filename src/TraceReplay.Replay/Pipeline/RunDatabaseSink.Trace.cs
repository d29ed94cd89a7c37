using TraceReplay.Host.Iptables;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Store;

namespace TraceReplay.Replay.Pipeline;

/// <summary>`--trace`: each table step of a chosen packet as a row of rule_trace.</summary>
public sealed partial class RunDatabaseSink : IReplayTraceSink
{
    private TracePacketFilter? _traceFilter;
    private long _tracePacket;
    private int _traceSeq;
    private string _traceHook = string.Empty;

    /// <summary>Records the table steps of the packets <paramref name="filter"/> contains (`replay --trace [--trace-filter]`).</summary>
    public void TracePackets(TracePacketFilter filter) => _traceFilter = filter;

    public bool BeginPacket(long packetId)
    {
        if (_traceFilter is null || !_traceFilter.Contains(packetId))
            return false;
        _tracePacket = packetId;
        _traceSeq = 0;
        _traceHook = string.Empty;
        return true;
    }

    /// <summary>trace_packet (ip_tables.c): one row per entry the packet was checked against; the hook as <see cref="NfTraceHook.Of"/> finds it.</summary>
    public void Trace(in IptTraceEvent e)
    {
        var table = e.Table;
        var (chain, num, _) = table.Describe(e.Entry);
        if (NfTraceHook.Of(chain) is { } hook)
            _traceHook = hook;
        var family = table.Family;
        var type = e.Kind switch { IptTraceKind.Rule => RuleTraceType.Rule, IptTraceKind.Return => RuleTraceType.Return, _ => RuleTraceType.Policy };
        int id = _ruleIds.TryGetValue((family, table.Name, chain, type == RuleTraceType.Rule ? num : 0), out int rid) ? rid : -1;
        _writer.AddRuleTrace(new RuleTraceRow
        {
            PacketId = _tracePacket,
            Seq = ++_traceSeq,
            Family = family == IptFamily.IPv6 ? RunFamily.Ipv6 : RunFamily.Ipv4,
            Hook = _traceHook,
            Table = table.Name,
            Chain = chain,
            RuleNum = num,
            RuleId = id,
            Type = type,
            Matched = e.Result switch { Tristate.True => true, Tristate.False => false, _ => null },
            Verdict = type == RuleTraceType.Policy ? (table.KindOf(e.Entry) == IptEntryKind.Policy && _policyDrop.Contains(id) ? "DROP" : "ACCEPT") : null,
        });
    }
}
