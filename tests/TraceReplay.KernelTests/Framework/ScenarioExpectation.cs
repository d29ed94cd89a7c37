using System.Text.RegularExpressions;

namespace TraceReplay.KernelTests.Framework;

/// <summary>A comparison the simulation is known not to reproduce, and why (from the kernel source or the scenario's nature).</summary>
/// <param name="Key">A counter key ("table:chain:rule:N", "ip6:" for IPv6) or a regular expression over one (when <paramref name="Pattern"/>).</param>
/// <param name="Pattern">The key is a pattern: it may match no difference (a random choice that happened to agree).</param>
public sealed record KnownDifference(string Key, string Reason, bool Pattern = false)
{
    public bool Matches(string key) => Pattern ? Regex.IsMatch(key, "^" + Key + "$") : key == Key;
}

/// <summary>
/// What one scenario must show against the kernel: every counter equal apart from the listed known
/// differences, and the conntrack tables equal (after the scenario's mask) apart from NAT ports the
/// kernel searched for. An exact known difference that no longer differs fails too, so a fix in the
/// simulator is noticed and its entry removed.
/// </summary>
public sealed record ScenarioExpectation(string Name, IReadOnlyList<KnownDifference> Counters, Func<string, string>? ConntrackMask = null)
{
    /// <summary>The rule set chooses at random: the replay searches the seed that reproduces the kernel's choices.</summary>
    public bool Random { get; init; }

    /// <summary>Replays a recorded scenario and compares it, as this expectation needs (<see cref="Random"/>).</summary>
    public ScenarioReport Replay(string dir) =>
        Random ? ScenarioReplay.RunMatchingRandom(Name, dir, ConntrackMask) : ScenarioReplay.Run(Name, dir, ConntrackMask);

    public void Check(ScenarioReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var unexplained = report.CounterDiffs.Where(d => !Counters.Any(k => k.Matches(ScenarioReport.Key(d)))).ToList();
        var gone = Counters.Where(k => !k.Pattern && !report.CounterDiffs.Any(d => ScenarioReport.Key(d) == k.Key)).Select(k => k.Key).ToList();
        var problems = new List<string>();
        if (unexplained.Count > 0)
            problems.Add("counters differ: " + string.Join("; ", unexplained));
        if (gone.Count > 0)
            problems.Add("known differences that no longer differ (remove them): " + string.Join(", ", gone));
        if (report.ConntrackMissing.Count > 0 || report.ConntrackExtra.Count > 0)
            problems.Add("conntrack tables differ");
        if (!report.RandomReproduced)
            problems.Add("no seed reproduced the kernel's random choices");
        Assert.True(problems.Count == 0, string.Join("\n", problems) + "\n" + report.Format());
    }
}
