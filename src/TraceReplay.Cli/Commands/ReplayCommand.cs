using System.CommandLine;
using System.Globalization;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Readers;
using TraceReplay.Host;
using TraceReplay.Host.Iptables;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Replay.Pipeline;

namespace TraceReplay.Cli.Commands;

/// <summary>
/// `tracereplay replay --host DIR CAPTURE...`: every packet through the simulated host, and what a
/// user wants first — packets and their fates, the rules that dropped them, NAT, and how the
/// simulated counters compare with the host's own. `--out RUN.duckdb` writes the run database
/// (with `--trace`, its rule_trace too) and records the inputs so `trace` can replay it again.
/// </summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var captures = CommonOptions.Captures();
        var host = new Option<DirectoryInfo>("--host") { Required = true, Description = "The host snapshot folder (tracereplay snapshot)." };
        var rules = new Option<FileInfo?>("--rules") { Description = "Replay against this rule file instead of the snapshot's (iptables-save or restore form of the same family): what would my change have done?" };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 1, Description = "Seed for everything the kernel does at random (statistic, NAT port search start)." };
        var sysctl = new Option<string[]>("--sysctl") { Description = "Override a sysctl of the snapshot, NAME=VALUE (repeatable).", AllowMultipleArgumentsPerToken = false };
        var counters = new Option<bool>("--counters") { Description = "Print the rules with the simulated counters, as iptables-save -c." };
        var noCt = new Option<bool>("--no-initial-conntrack") { Description = "Start with an empty connection table even if the snapshot has conntrack.txt (use when it was taken after the capture)." };
        var skipBad = CommonOptions.SkipBad();
        var outFile = new Option<FileInfo?>("--out") { Description = "Write the run database (DuckDB): packets, rules with simulated counters, connections, conntrack_events, conntrack_start (the snapshot's starting table), nat_mappings, rule_trace (--trace), captures, run_info. Written aside and renamed at the end, so a failed run leaves no file." };
        var arrow = new Option<DirectoryInfo?>("--arrow") { Description = "Also write every table as an Arrow IPC file into this folder (needs --out)." };
        var trace = new Option<bool>("--trace") { Description = "Record every rule each packet was checked against and the result in rule_trace, as the TRACE target logs it (needs --out)." };
        var traceFilter = new Option<string?>("--trace-filter") { Description = "With --trace, only these packets: ids and ranges of packets.packet_id, e.g. 45 or 1-100,250." };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress on the terminal." };
        var stats = new Option<bool>("--stats") { Description = "After the run, print what it cost: sightings, real packets, wall and CPU time, packets/s, CPU ns and bytes allocated per sighting, peak RSS (ReplayStats)." };
        var threads = ReplayThreads.Option();
        var command = new Command("replay", "Replay captures through the simulated netfilter of a host snapshot: each packet's path, verdict and the rule that decided it.")
        {
            captures, host, rules, seed, sysctl, counters, noCt, skipBad, outFile, arrow, trace, traceFilter, quiet, stats, threads,
        };
        command.SetAction((parse, _) =>
        {
            using var cost = new ReplayStats(perThread: parse.GetValue(stats));
            var dir = parse.GetValue(host)!;
            if (!dir.Exists)
                throw new UsageException($"--host {dir.FullName}: no such directory");
            var rulesFile = parse.GetValue(rules);
            if (rulesFile is not null && !rulesFile.Exists)
                throw new UsageException($"--rules {rulesFile.FullName}: no such file");
            var sources = CommonOptions.ParseCaptures(parse.GetValue(captures)!);
            var stages = ReplayThreads.Parse(parse.GetValue(threads), outFile: parse.GetValue(outFile) is not null);
            var inputs = new ReplayInputs(dir.FullName, rulesFile?.FullName, parse.GetValue(seed), parse.GetValue(sysctl) ?? [], !parse.GetValue(noCt), parse.GetValue(skipBad),
                [.. sources.Select(c => c with { Path = Path.GetFullPath(c.Path) })]);
            var relay = new RunDatabaseSink.EventRelay();
            var (snapshot, nf) = inputs.Load(relay);
            var sink = new SummarySink();
            var policy = inputs.Policy;
            var outPath = parse.GetValue(outFile);
            var arrowDir = parse.GetValue(arrow);
            if (arrowDir is not null && outPath is null)
                throw new UsageException("--arrow needs --out RUN.duckdb");
            bool tracing = parse.GetValue(trace);
            string? filterText = parse.GetValue(traceFilter);
            if ((tracing || filterText is not null) && outPath is null)
                throw new UsageException("--trace needs --out RUN.duckdb (the trace goes into its rule_trace table)");
            if (filterText is not null && !tracing)
                throw new UsageException("--trace-filter needs --trace");
            TracePacketFilter? filter;
            try
            {
                filter = !tracing ? null : filterText is null ? TracePacketFilter.All : TracePacketFilter.Parse(filterText);
            }
            catch (FormatException e)
            {
                throw new UsageException("--trace-filter " + e.Message);
            }
            using var progress = ReplayProgress.Start(parse.InvocationConfiguration.Error, sources, parse.GetValue(quiet));
            ReplaySummary summary;
            if (outPath is null)
            {
                cost.RunStarting();
                summary = ReplayInputs.Job(snapshot, nf, receiveThread: stages.Receive).Run(sources, progress.Wrap(sink), policy);
                cost.RunEnded();
            }
            else
            {
                using var db = new RunDatabaseSink(outPath.FullName, snapshot, nf, new TraceReplay.Store.RunWriterOptions { ArrowDirectory = arrowDir?.FullName, WriterThread = stages.Writer });
                relay.Target = db;
                if (filter is not null)
                    db.TracePackets(filter);
                cost.RunStarting();
                summary = ReplayInputs.Job(snapshot, nf, filter is null ? null : db, receiveThread: stages.Receive).Run(sources, progress.Wrap(new BothSinks(sink, db)), policy);
                cost.RunEnded();
                progress.Done();
                db.Complete(summary,
                [
                    ("command", "tracereplay replay " + string.Join(' ', parse.Tokens.Select(t => t.Value))),
                    ("seed", parse.GetValue(seed).ToString(CultureInfo.InvariantCulture)),
                    ("tracereplay_version", typeof(ReplayCommand).Assembly.GetName().Version?.ToString() ?? "0"),
                    .. sources.Select(src => ("capture", src.ToString() ?? string.Empty)),
                    .. inputs.ToInfo(),
                    .. filter is null ? [] : new[] { ("trace", filterText ?? "all") },
                ]);
            }
            progress.Done();
            cost.Stop();
            var o = parse.InvocationConfiguration.Output;
            Write(o, summary, sink, nf, snapshot);
            if (parse.GetValue(counters))
            {
                foreach (var rs in new[] { snapshot.Iptables, snapshot.Ip6tables }.Where(r => r.Tables.Count > 0))
                    o.Write(IptablesPrinter.Print(rs, (t, c, i) => nf.Counters(rs.Family, t.Name, c.Name, i)));
            }
            if (parse.GetValue(stats))
                cost.Write(o, summary);
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    private sealed class BothSinks(IReplaySink a, IReplaySink b) : IReplaySink
    {
        public void Add(in ReplayedSighting sighting, in DecodedPacket packet)
        {
            a.Add(sighting, packet);
            b.Add(sighting, packet);
        }

        public void Decide(long sightingNumber, TraceReplay.Replay.Fidelity.FidelityOutcome outcome)
        {
            a.Decide(sightingNumber, outcome);
            b.Decide(sightingNumber, outcome);
        }
    }

    /// <summary>Collects what the summary shows; holds no packets, and allocates nothing per packet.</summary>
    private sealed class SummarySink : IReplaySink
    {
        // Counted by fate in an array; the order fates were first met is kept, as the summary lists equal counts in it.
        private readonly long[] _fates = new long[256];
        private readonly List<NfFate> _fateOrder = [];

        // One text per drop cause (NfHookResult.DropDescription formats and allocates a string each time).
        private readonly Dictionary<NfDropKey, string> _why = [];

        public Dictionary<NfFate, long> Fates => _fateOrder.ToDictionary(f => f, f => _fates[(int)f]);

        public Dictionary<string, (long Packets, string Example)> Drops { get; } = new(StringComparer.Ordinal);
        public long DependsOnUnknown { get; private set; }

        public void Add(in ReplayedSighting sighting, in DecodedPacket packet)
        {
            if (sighting.Handling != SightingHandling.Simulated)
                return;
            ref readonly var r = ref sighting.Result;
            if (_fates[(int)r.Fate]++ == 0)
                _fateOrder.Add(r.Fate);
            if (r.DependsOnUnknown)
                DependsOnUnknown++;
            if (r.Fate == NfFate.Dropped)
            {
                var key = r.DropKey;
                if (!_why.TryGetValue(key, out string? why))
                    _why.Add(key, why = r.DropDescription());
                ref var drop = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(Drops, why, out _);
                drop = (drop.Packets + 1, drop.Example ?? $"packet {sighting.Sighting.PacketId}: {packet.Src} > {packet.Dst} {L4Protocol.Name(packet.Protocol)}{(packet.DstPort != 0 ? " dport " + packet.DstPort.ToString(CultureInfo.InvariantCulture) : string.Empty)}");
            }
        }
    }

    private static string FateName(NfFate f) => f switch
    {
        NfFate.DeliveredLocally => "delivered locally",
        NfFate.Forwarded => "forwarded",
        NfFate.Sent => "sent by the host",
        NfFate.Dropped => "dropped",
        NfFate.Queued => "queued",
        _ => f.ToString().ToLowerInvariant(),
    };

    private static void Write(TextWriter o, ReplaySummary s, SummarySink sink, NfHost nf, HostSnapshot snapshot)
    {
        static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
        o.WriteLine($"Sightings:   {N(s.Sightings)} = {N(s.Packets)} packets ({N(s.Simulated)} entered the simulated host, {N(s.Observations)} later sightings of them)");
        if (s.Generated > 0)
            o.WriteLine($"Generated:   {N(s.Generated)} packets made by the host (REJECT's RST or ICMP error, its own echo replies and closed-port answers), each a row of its own");
        if (s.NotIp + s.BridgedNotSimulated + s.MadeOnBridgePort + s.UnknownDirection > 0)
            o.WriteLine($"Not simulated: {N(s.NotIp)} not IP, {N(s.BridgedNotSimulated)} bridged between ports, {N(s.MadeOnBridgePort)} made in the bridge path, {N(s.UnknownDirection)} without a direction");
        o.WriteLine("Fates:       " + string.Join(", ", sink.Fates.OrderByDescending(f => f.Value).Select(f => $"{FateName(f.Key)} {N(f.Value)}")));
        if (sink.DependsOnUnknown > 0)
            o.WriteLine($"Unknown:     {N(sink.DependsOnUnknown)} verdicts depend on matches that cannot be evaluated offline");
        o.WriteLine("Drops:" + (sink.Drops.Count == 0 ? "       none" : string.Empty));
        foreach (var (why, (n, example)) in sink.Drops.OrderByDescending(d => d.Value.Packets))
            o.WriteLine($"  {N(n),7}  {why,-36} e.g. {example}");
        o.WriteLine($"NAT:         {N(nf.Nat.MappingsMade)} mappings ({N(nf.Nat.SrcMappingsMade)} source, {N(nf.Nat.DstMappingsMade)} destination)"
            + (nf.Nat.SourcePortsAdopted > 0 ? $"; {N(nf.Nat.SourcePortsAdopted)} SNAT port(s) taken from the capture (the kernel's random pick on a clash)" : string.Empty)
            + (nf.Nat.SourcePortsNotAdopted > 0 ? $"; {N(nf.Nat.SourcePortsNotAdopted)} seen SNAT port(s) not taken (outside the rule's ports, held by another connection, or the connection gone)" : string.Empty));
        foreach (var m in nf.Nat.FirstMappings)
            o.WriteLine($"  {(m.Manip == TraceReplay.Netfilter.Nat.NfNatManipType.Src ? "SNAT" : "DNAT")} {m.Original.Src}:{m.Original.SrcPort} > {m.Original.Dst}:{m.Original.DstPort} via {m.NatAddress}:{m.NatPort}");
        foreach (var rs in new[] { snapshot.Iptables, snapshot.Ip6tables }.Where(r => r.Tables.Count > 0 && r.HasCounters))
        {
            var (differ, compared) = CounterComparison.Compare(nf, rs);
            o.WriteLine($"Counters:    {compared - differ.Count} of {compared} {(rs.Family == IptFamily.IPv6 ? "ip6tables" : "iptables")} rules and policies equal the snapshot's (the host's own iptables-save -c)");
            foreach (var d in differ.Take(20))
                o.WriteLine("  " + d);
        }
        o.Write(s.Fidelity.Format());
    }
}
