using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using TraceReplay.Capture.Points;
using TraceReplay.Host;
using TraceReplay.Host.Ebtables;
using TraceReplay.Host.Iptables;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Replay.Pipeline;

namespace TraceReplay.KernelTests.Framework;

/// <summary>
/// What a scenario's replay showed against the kernel's own results: counters of every rule and
/// policy (IPv4 and IPv6) and the conntrack table. Compiled into both the kernel suite (live recordings)
/// and TraceReplay.Tests (the saved datasets), so both judge by the same rules.
/// </summary>
public sealed class ScenarioReport
{
    public required string Name { get; init; }
    public required NfHost Host { get; init; }
    public required IptRuleset KernelV4 { get; init; }
    public required IptRuleset KernelV6 { get; init; }
    public required ReplaySummary Summary { get; init; }
    public required int Compared { get; init; }

    /// <summary>The simulation's random seed (`-m statistic --mode random`, NAT port randomisation).</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>When the seed was searched for: how many were tried, and whether one reproduced the kernel's random choices.</summary>
    public int SeedsTried { get; init; }
    public bool RandomReproduced { get; init; } = true;

    /// <summary>"table:chain:rule:N host [p:b] simulated [p:b]" (IPv6 ones prefixed "ip6:", ebtables ones "eb:").</summary>
    public required IReadOnlyList<string> CounterDiffs { get; init; }

    public required int ConntrackKernel { get; init; }
    public required int ConntrackSimulated { get; init; }

    /// <summary>Kernel entries the simulation lacks, and simulated entries the kernel lacks (timeouts left out).</summary>
    public required IReadOnlyList<string> ConntrackMissing { get; init; }
    public required IReadOnlyList<string> ConntrackExtra { get; init; }

    /// <summary>Pairs that are the same connection apart from the NAT port of the reply tuple: the kernel searched for a free one.</summary>
    public required IReadOnlyList<string> PortSearched { get; init; }

    /// <summary>The comparison key of a counter difference: "table:chain:rule:N" or "table:chain:policy".</summary>
    public static string Key(string diff) => diff[..diff.IndexOf(" host ", StringComparison.Ordinal)];

    public string Format()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"scenario {Name}: {Summary.Sightings} sightings, {Summary.Packets} packets, {Summary.Simulated} simulated\n");
        if (SeedsTried > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  random choices: {(RandomReproduced ? $"the kernel's reproduced by seed {Seed}" : "the kernel's not reproduced")} ({SeedsTried} seeds tried)\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"  counters: {Compared - CounterDiffs.Count} of {Compared} rules and policies equal the kernel's\n");
        foreach (var d in CounterDiffs)
            sb.Append("    differs: ").Append(d).Append('\n');
        sb.Append(CultureInfo.InvariantCulture, $"  conntrack: kernel {ConntrackKernel} entries, simulated {ConntrackSimulated}; {ConntrackMissing.Count} missing, {ConntrackExtra.Count} extra, {PortSearched.Count} differ only in a searched NAT port\n");
        foreach (var m in ConntrackMissing)
            sb.Append("    kernel only:    ").Append(m).Append('\n');
        foreach (var m in ConntrackExtra)
            sb.Append("    simulated only: ").Append(m).Append('\n');
        foreach (var m in PortSearched)
            sb.Append("    port searched:  ").Append(m).Append('\n');
        return sb.ToString();
    }
}

public static class ScenarioReplay
{
    /// <summary>
    /// Replays a recorded scenario (<see cref="ScenarioRecorder"/>'s layout) through the simulated host
    /// built from its start snapshot and compares with the kernel's end results.
    /// <paramref name="mask"/> rewrites both conntrack listings before they are compared, for what a
    /// scenario cannot reproduce (an endpoint the kernel picked at random); a line it maps to "" is left out.
    /// </summary>
    public static ScenarioReport Run(string name, string dir, Func<string, string>? mask = null, ulong seed = 1)
    {
        var snapshot = HostSnapshot.Load(Path.Combine(dir, "snapshot"));
        var host = NfHost.Create(snapshot, new NfHostOptions { Seed = seed });
        var sink = new LastTime();
        var summary = new ReplayJob(snapshot, host).Run([CaptureSource.Parse(Path.Combine(dir, "captures", "any.pcap"))], sink);

        var v4 = IptablesParser.Load(Path.Combine(dir, "kernel", "iptables.rules"), IptFamily.IPv4);
        var v6 = IptablesParser.Load(Path.Combine(dir, "kernel", "ip6tables.rules"), IptFamily.IPv6);
        var (d4, c4) = CounterComparison.Compare(host, v4);
        var (d6, c6) = CounterComparison.Compare(host, v6);
        string ebFile = Path.Combine(dir, "kernel", "ebtables.rules");
        var (deb, ceb) = File.Exists(ebFile) ? EbtCounterComparison.Compare(host, EbtablesParser.ParseFile(ebFile)) : ([], 0);

        // The kernel listed its table a little after the last packet: compare the simulated table at that
        // moment, without the entries that expired in between (ctnetlink's dump skips nf_ct_is_expired ones).
        string listedAtFile = Path.Combine(dir, "kernel", "conntrack-listed-at.txt");
        long now = File.Exists(listedAtFile) ? long.Parse(File.ReadAllText(listedAtFile).Trim(), CultureInfo.InvariantCulture) : sink.TimeNs;
        var simulatedText = new StringWriter();
        ConntrackList.Dump(host.Conntrack, now, simulatedText);
        var entries = host.Conntrack.ConfirmedEntries().ToList();
        var lines = simulatedText.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var live = string.Join('\n', lines.Where((_, k) => k >= entries.Count || host.Conntrack[entries[k]].Timeout > now));
        var kernel = Normalise(File.ReadAllText(Path.Combine(dir, "kernel", "conntrack.txt")), mask);
        var simulated = Normalise(live, mask);
        var missing = Minus(kernel, simulated);
        var extra = Minus(simulated, kernel);
        var searched = new List<string>();
        foreach (var m in missing.ToList())
        {
            int j = extra.FindIndex(x => WithoutReplyPorts(x) == WithoutReplyPorts(m));
            if (j < 0)
                continue;
            searched.Add($"{m}  <>  {extra[j]}");
            missing.Remove(m);
            extra.RemoveAt(j);
        }
        return new ScenarioReport
        {
            Name = name,
            Host = host,
            KernelV4 = v4,
            KernelV6 = v6,
            Summary = summary,
            Compared = c4 + c6 + ceb,
            Seed = seed,
            CounterDiffs = [.. d4, .. d6.Select(d => "ip6:" + d), .. deb.Select(d => "eb:" + d)],
            ConntrackKernel = kernel.Count,
            ConntrackSimulated = simulated.Count,
            ConntrackMissing = missing,
            ConntrackExtra = extra,
            PortSearched = searched,
        };
    }

    /// <summary>
    /// For a rule set that chooses at random (kube-proxy's `-m statistic --mode random` endpoints): the
    /// kernel's choices are not in the snapshot, only their outcome — which endpoint each connection
    /// reached, in the capture and in the kernel's conntrack table. Seeds are tried until the replay's
    /// conntrack table (the endpoint in each reply tuple) equals the kernel's; every counter is then
    /// comparable. Without such a seed the first seed's report comes back, marked not reproduced.
    /// </summary>
    public static ScenarioReport RunMatchingRandom(string name, string dir, Func<string, string>? mask = null, int maxSeeds = 256)
    {
        ScenarioReport? first = null;
        for (ulong seed = 1; seed <= (ulong)maxSeeds; seed++)
        {
            var r = Run(name, dir, mask, seed);
            first ??= r;
            if (r.ConntrackMissing.Count == 0 && r.ConntrackExtra.Count == 0)
                return new ScenarioReport
                {
                    Name = r.Name, Host = r.Host, KernelV4 = r.KernelV4, KernelV6 = r.KernelV6, Summary = r.Summary, Compared = r.Compared,
                    CounterDiffs = r.CounterDiffs, ConntrackKernel = r.ConntrackKernel, ConntrackSimulated = r.ConntrackSimulated,
                    ConntrackMissing = r.ConntrackMissing, ConntrackExtra = r.ConntrackExtra, PortSearched = r.PortSearched,
                    Seed = seed, SeedsTried = (int)seed, RandomReproduced = true,
                };
        }
        return new ScenarioReport
        {
            Name = first!.Name, Host = first.Host, KernelV4 = first.KernelV4, KernelV6 = first.KernelV6, Summary = first.Summary, Compared = first.Compared,
            CounterDiffs = first.CounterDiffs, ConntrackKernel = first.ConntrackKernel, ConntrackSimulated = first.ConntrackSimulated,
            ConntrackMissing = first.ConntrackMissing, ConntrackExtra = first.ConntrackExtra, PortSearched = first.PortSearched,
            Seed = 1, SeedsTried = maxSeeds, RandomReproduced = false,
        };
    }

    /// <summary>Listing lines without the seconds left (they depend on when each listing was made), sorted.</summary>
    private static List<string> Normalise(string listing, Func<string, string>? mask) =>
        [.. listing.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => !l.StartsWith("conntrack v", StringComparison.Ordinal))
            .Select(l => Regex.Replace(l.Trim(), @"^(\S+\s+\d+\s+\S+\s+\d+)\s+\d+", "$1 N"))
            .Select(l => mask is null ? l : mask(l))
            .Where(l => l.Length > 0)
            .Order(StringComparer.Ordinal)];

    private static List<string> Minus(List<string> a, List<string> b)
    {
        var rest = new List<string>(b);
        var result = new List<string>();
        foreach (var x in a)
        {
            if (!rest.Remove(x))
                result.Add(x);
        }
        return result;
    }

    /// <summary>The line with the ports of its reply tuple (the second src=) blanked: where NAT's port search shows.</summary>
    private static string WithoutReplyPorts(string line)
    {
        int first = line.IndexOf(" src=", StringComparison.Ordinal);
        int second = first < 0 ? -1 : line.IndexOf(" src=", first + 1, StringComparison.Ordinal);
        return second < 0 ? line : line[..second] + Regex.Replace(line[second..], @"(sport|dport)=\d+", "$1=*");
    }

    private sealed class LastTime : IReplaySink
    {
        public long TimeNs { get; private set; }

        public void Add(in ReplayedSighting sighting, in TraceReplay.Capture.Decode.DecodedPacket packet) => TimeNs = Math.Max(TimeNs, sighting.TimeNs);
    }
}
