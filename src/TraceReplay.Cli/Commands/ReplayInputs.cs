using System.Globalization;
using TraceReplay.Capture.Points;
using TraceReplay.Host;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Replay.Pipeline;
using TraceReplay.Store;

namespace TraceReplay.Cli.Commands;

/// <summary>
/// Everything a replay's outcome depends on, with paths made absolute: recorded in run_info (keys
/// input_*) so `trace` can run the same replay again, deterministically, to trace one packet of a
/// run made without --trace.
/// </summary>
internal sealed record ReplayInputs(string Host, string? Rules, ulong Seed, IReadOnlyList<string> Sysctls, bool InitialConntrack, bool SkipBad, IReadOnlyList<CaptureSource> Captures)
{
    public IEnumerable<(string Key, string Value)> ToInfo()
    {
        yield return ("input_host", Host);
        if (Rules is not null)
            yield return ("input_rules", Rules);
        yield return ("input_seed", Seed.ToString(CultureInfo.InvariantCulture));
        foreach (var s in Sysctls)
            yield return ("input_sysctl", s);
        yield return ("input_initial_conntrack", InitialConntrack ? "true" : "false");
        yield return ("input_skip_bad", SkipBad ? "true" : "false");
        foreach (var c in Captures)
            yield return ("input_capture", c.ToString());
    }

    /// <summary>The inputs a run recorded; null when it predates the input_* keys.</summary>
    public static ReplayInputs? FromRun(RunReader run)
    {
        if (run.Info("input_host") is not { } host || run.Info("input_seed") is not { } seed)
            return null;
        return new ReplayInputs(host, run.Info("input_rules"), ulong.Parse(seed, CultureInfo.InvariantCulture), run.InfoAll("input_sysctl"),
            run.Info("input_initial_conntrack") != "false", run.Info("input_skip_bad") == "true", [.. run.InfoAll("input_capture").Select(CaptureSource.Parse)]);
    }

    /// <summary>What of the inputs is gone (a moved snapshot, a deleted capture); empty when the replay can run again.</summary>
    public IEnumerable<string> Missing()
    {
        if (!Directory.Exists(Host))
            yield return "host snapshot " + Host;
        if (Rules is not null && !File.Exists(Rules))
            yield return "rule file " + Rules;
        foreach (var c in Captures.Where(c => !File.Exists(c.Path)))
            yield return "capture " + c.Path;
    }

    /// <summary>The snapshot with --rules and --sysctl applied, and the simulated host built from it.</summary>
    public (HostSnapshot Snapshot, NfHost Host) Load(INfConntrackEventSink? events)
    {
        var snapshot = HostSnapshot.Load(Host, rulesOverride: Rules);
        foreach (var kv in Sysctls)
        {
            int eq = kv.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
                throw new UsageException($"--sysctl {kv}: expected NAME=VALUE");
            snapshot.Network.Sysctls.Set(kv[..eq].Trim(), kv[(eq + 1)..].Trim());
        }
        var nf = NfHost.Create(snapshot, new NfHostOptions { Seed = Seed, LoadConntrack = InitialConntrack, Events = events });
        return (snapshot, nf);
    }

    public Capture.Readers.BadRecordPolicy Policy => SkipBad ? Capture.Readers.BadRecordPolicy.Skip : Capture.Readers.BadRecordPolicy.Stop;

    /// <summary>A replay job on these inputs.</summary>
    public static ReplayJob Job(HostSnapshot snapshot, NfHost nf, IReplayTraceSink? trace = null, long stopAfter = long.MaxValue, bool receiveThread = false) =>
        new(snapshot, nf) { Trace = trace, StopAfterPacket = stopAfter, ReceiveThread = receiveThread };
}
