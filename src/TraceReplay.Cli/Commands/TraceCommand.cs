using System.CommandLine;
using System.Globalization;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Replay.Pipeline;
using TraceReplay.Store;

namespace TraceReplay.Cli.Commands;

/// <summary>
/// `tracereplay trace RUN PACKET_ID`: one packet's way through the simulated host — its sightings,
/// then every rule it was checked against in the TRACE target's form (nf_log_trace:
/// `TRACE: filter:FORWARD:rule:3 IN=… OUT=… SRC=… …`, as nf_log_ip_packet prints the packet),
/// then the verdict and the rule (or reason) that gave it, last. The steps come from rule_trace
/// (`replay --trace`); a run made without it is replayed again from its recorded inputs up to that
/// packet, tracing only it — the same inputs and seed give the same walk.
/// </summary>
internal static class TraceCommand
{
    /// <summary>One step, from rule_trace or from a re-run.</summary>
    private sealed record Step(string Hook, string Table, string Chain, int RuleNum, string Type, bool? Matched, string? Verdict, string? RuleText);

    public static Command Create()
    {
        var run = RunArgument.Create();
        var id = new Argument<long>("PACKET_ID") { Description = "The packet (packets.packet_id, as the replay summary and the drops report name it)." };
        var command = new Command("trace", "One packet's path through the simulated host: every rule it was checked against, in the TRACE target's form, and its verdict.") { run, id };
        command.SetAction((parse, _) =>
        {
            string path = parse.GetValue(run)!;
            long packetId = parse.GetValue(id);
            var o = parse.InvocationConfiguration.Output;
            using var reader = RunArgument.Open(path);
            var sightings = reader.Packet(packetId);
            if (sightings.Count == 0)
                throw new InvalidDataException($"{path}: no packet {packetId.ToString(CultureInfo.InvariantCulture)} in this run (packet ids 1 to {reader.PacketCount().ToString(CultureInfo.InvariantCulture)})");
            var entry = sightings[0];
            var inputs = ReplayInputs.FromRun(reader);
            var links = inputs is not null && File.Exists(Path.Combine(inputs.Host, "link.json")) ? InterfaceTable.Load(Path.Combine(inputs.Host, "link.json")) : InterfaceTable.Empty;
            WriteSightings(o, sightings);
            bool simulated = entry.Path is { } p && !p.StartsWith("not simulated", StringComparison.Ordinal) && !p.StartsWith("later", StringComparison.Ordinal);
            if (simulated)
            {
                IReadOnlyList<Step> steps;
                string? inDev, outDev;
                if (reader.HasTrace())
                {
                    steps = [.. reader.Trace(packetId).Select(s => new Step(s.Hook, s.Table, s.Chain, s.RuleNum, s.Type, s.Matched, s.Verdict, s.RuleText))];
                    (inDev, outDev) = DevicesFromSightings(sightings, links);
                    if (steps.Count == 0)
                        o.WriteLine($"(the run traced other packets: --trace-filter {reader.Info("trace")})");
                }
                else
                {
                    if (inputs is null || inputs.Missing().ToList() is { Count: > 0 })
                    {
                        string gone = inputs is null ? "it does not record its inputs" : "its inputs are gone: " + string.Join(", ", inputs.Missing());
                        throw new InvalidDataException($"{path}: the run has no rule_trace rows (it was made without --trace) and cannot be replayed again ({gone}); " +
                            $"replay with --out NEW.duckdb --trace --trace-filter {packetId.ToString(CultureInfo.InvariantCulture)} and trace packet {packetId.ToString(CultureInfo.InvariantCulture)} there");
                    }
                    parse.InvocationConfiguration.Error.WriteLine($"note: {path} has no rule_trace rows (made without --trace): replaying its inputs up to packet {packetId.ToString(CultureInfo.InvariantCulture)} with tracing on for it");
                    (steps, inDev, outDev) = Rerun(inputs, packetId);
                }
                foreach (var s in steps)
                    o.WriteLine(Line(s, entry, inDev, outDev));
            }
            o.WriteLine(Verdict(entry));
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    private static void WriteSightings(TextWriter o, IReadOnlyList<RunPacket> sightings)
    {
        foreach (var s in sightings)
        {
            string when = DateTimeOffset.FromUnixTimeMilliseconds(s.TimestampUs / 1000).AddTicks(s.TimestampUs % 1000 * 10).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
            string tuple = s.Src is null ? "(not IP)" : $"{s.Family} {ProtoName(s.Protocol)} {Endpoint(s.Src, s.SrcPort, s.Protocol)} > {Endpoint(s.Dst!, s.DstPort, s.Protocol)}";
            string nat = s.NatSrc is null ? string.Empty : $" nat {Endpoint(s.NatSrc, s.NatSrcPort, s.Protocol)} > {Endpoint(s.NatDst!, s.NatDstPort, s.Protocol)}";
            string ct = s.CtState is null ? string.Empty : $" ct {s.CtState}{(s.CtDir is null ? string.Empty : " " + s.CtDir)}";
            o.WriteLine($"sighting {s.Id.ToString(CultureInfo.InvariantCulture)} {when} {s.CapturePoint} {s.Direction ?? "?"} {tuple} len {s.Length.ToString(CultureInfo.InvariantCulture)}{nat}{ct}: {s.Path}");
        }
    }

    private static string Endpoint(string addr, int port, int proto) =>
        proto is 6 or 17 or 132 or 136 ? (addr.Contains(':', StringComparison.Ordinal) ? $"[{addr}]:{port}" : $"{addr}:{port}") : addr;

    private static string ProtoName(int p) => p switch { 6 => "tcp", 17 => "udp", 1 => "icmp", 58 => "icmpv6", 132 => "sctp", 47 => "gre", _ => p.ToString(CultureInfo.InvariantCulture) };

    /// <summary>
    /// IN and OUT for the log lines, from where the packet was seen: it entered on its first
    /// sighting's interface (a bridge port's packet enters IP on the bridge, br_netfilter) and left by
    /// the first interface it was seen going out of. A packet dropped before it left has no OUT here.
    /// </summary>
    private static (string? In, string? Out) DevicesFromSightings(IReadOnlyList<RunPacket> sightings, InterfaceTable links)
    {
        var entry = sightings[0];
        string? inDev = entry.Direction == "in" ? links.ByName(entry.CapturePoint)?.Master ?? entry.CapturePoint : null;
        string? outDev = entry.Direction == "out" ? entry.CapturePoint : sightings.Skip(1).FirstOrDefault(s => s.Direction == "out" && links.ByName(s.CapturePoint)?.Master is null)?.CapturePoint;
        return (inDev, outDev);
    }

    /// <summary>nf_log_trace's prefix and nf_log_ip_packet's fields, with the devices a hook has (no OUT before routing, no IN for the host's own packets).</summary>
    private static string Line(Step s, RunPacket p, string? inDev, string? outDev)
    {
        string head = $"TRACE: {s.Table}:{s.Chain}:{s.Type}:{s.RuleNum.ToString(CultureInfo.InvariantCulture)}";
        if (s.Matched == false)
            return $"        {s.Table}:{s.Chain}:rule:{s.RuleNum.ToString(CultureInfo.InvariantCulture)} no match";
        bool hasOut = s.Hook is "FORWARD" or "OUTPUT" or "POSTROUTING";
        bool hasIn = s.Hook is "PREROUTING" or "INPUT" or "FORWARD" || (s.Hook == "POSTROUTING" && p.Direction == "in");
        // DNAT happens in PREROUTING (OUTPUT for the host's packets); the later hooks see the new destination.
        bool afterDnat = s.Hook is "INPUT" or "FORWARD" or "POSTROUTING";
        string dst = afterDnat && p.NatDst is not null ? p.NatDst : p.Dst ?? string.Empty;
        int dport = afterDnat && p.NatDst is not null ? p.NatDstPort : p.DstPort;
        var sb = new System.Text.StringBuilder(head);
        sb.Append(" IN=").Append(hasIn ? inDev : null).Append(" OUT=").Append(hasOut ? outDev : null);
        sb.Append(" SRC=").Append(p.Src).Append(" DST=").Append(dst).Append(" LEN=").Append(p.Length.ToString(CultureInfo.InvariantCulture));
        sb.Append(" PROTO=").Append(ProtoName(p.Protocol).ToUpperInvariant());
        if (p.Protocol is 6 or 17 or 132)
            sb.Append(" SPT=").Append(p.SrcPort.ToString(CultureInfo.InvariantCulture)).Append(" DPT=").Append(dport.ToString(CultureInfo.InvariantCulture));
        else if (p.Protocol is 1 or 58)
            sb.Append(" TYPE=").Append((p.DstPort >> 8).ToString(CultureInfo.InvariantCulture)).Append(" CODE=").Append((p.DstPort & 0xFF).ToString(CultureInfo.InvariantCulture)).Append(" ID=").Append(p.SrcPort.ToString(CultureInfo.InvariantCulture));
        if (s.Matched is null)
            sb.Append(" (unknown: a match that cannot be evaluated offline)");
        if (s.Verdict is not null)
            sb.Append(" -> ").Append(s.Verdict);
        if (s.RuleText is not null)
            sb.Append("  # -A ").Append(s.Chain).Append(' ').Append(s.RuleText);
        return sb.ToString();
    }

    private static string Verdict(RunPacket p)
    {
        if (p.Path is null || p.Path.StartsWith("not simulated", StringComparison.Ordinal))
            return $"verdict: none ({p.Path})";
        string by = p.RuleTable is not null
            ? $" by {p.RuleTable}:{p.RuleChain}:{(p.RulePosition == 0 ? "policy" : "rule:" + p.RulePosition.ToString(CultureInfo.InvariantCulture))}{(p.RulePosition == 0 ? string.Empty : $": -A {p.RuleChain} {p.RuleText}")}"
            : p.DropReason is not null ? $" ({p.DropReason})" : string.Empty;
        return $"verdict: {p.Verdict}{by}{(p.DependsOnUnknown ? " (depends on a match that cannot be evaluated offline)" : string.Empty)}";
    }

    /// <summary>The same replay again, up to the packet, tracing it alone.</summary>
    private static (IReadOnlyList<Step> Steps, string? In, string? Out) Rerun(ReplayInputs inputs, long packetId)
    {
        var (snapshot, nf) = inputs.Load(null);
        var collector = new Collector(packetId) { Snapshot4 = snapshot.Iptables, Snapshot6 = snapshot.Ip6tables };
        ReplayInputs.Job(snapshot, nf, collector, stopAfter: packetId).Run(inputs.Captures, collector, inputs.Policy);
        return (collector.Steps, collector.InDev, collector.OutDev);
    }

    private sealed class Collector(long packetId) : IReplayTraceSink, IReplaySink
    {
        private string _hook = string.Empty;

        public List<Step> Steps { get; } = [];
        public string? InDev { get; private set; }
        public string? OutDev { get; private set; }

        public bool BeginPacket(long id) => id == packetId;

        public void Trace(in IptTraceEvent e)
        {
            var (chain, num, _) = e.Table.Describe(e.Entry);
            _hook = NfTraceHook.Of(chain) ?? _hook;
            string type = e.Kind switch { IptTraceKind.Rule => "rule", IptTraceKind.Return => "return", _ => "policy" };
            string? verdict = null;
            if (e.Kind == IptTraceKind.Policy)
            {
                var chainModel = (e.Table.Family == Host.Iptables.IptFamily.IPv6 ? Snapshot6 : Snapshot4)?.Table(e.Table.Name)?.Chain(chain);
                verdict = chainModel?.Policy == Host.Iptables.ChainPolicy.Drop ? "DROP" : "ACCEPT";
            }
            Steps.Add(new Step(_hook, e.Table.Name, chain, num, type, e.Result switch { Tristate.True => true, Tristate.False => false, _ => null }, verdict, e.Table.RuleAt(e.Entry)?.Text));
        }

        public Host.Iptables.IptRuleset? Snapshot4 { get; set; }
        public Host.Iptables.IptRuleset? Snapshot6 { get; set; }

        public void Add(in ReplayedSighting sighting, in DecodedPacket packet)
        {
            if (sighting.Sighting.PacketId == packetId && sighting.Handling == SightingHandling.Simulated)
                (InDev, OutDev) = (sighting.Result.InDev, sighting.Result.OutDev);
        }
    }
}
