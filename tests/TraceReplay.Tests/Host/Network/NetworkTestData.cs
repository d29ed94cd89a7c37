using TraceReplay.Host.Network;
using TraceReplay.Host.Parsing;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Host.Network;

/// <summary>Where the network inputs the tests read live: the bundled docker-host snapshot and the shared corpus's `ip` text dumps.</summary>
internal static class NetworkTestData
{
    public static string DockerSnapshot => Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot");

    public static string NetNetwork => Path.Combine(Corpus.External, "iptables-save", "net-network");

    public enum Kind
    {
        Addr,
        Route,
        Rule,
    }

    /// <summary>The corpus's pasted `ip` outputs, by file name as the task and SOURCES.md list them.</summary>
    public static IEnumerable<(string Relative, Kind Kind, bool V6)> TextFiles()
    {
        if (!Directory.Exists(NetNetwork))
            yield break;
        foreach (var f in Directory.EnumerateFiles(NetNetwork, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(f);
            bool ip = name.StartsWith("ip-", StringComparison.Ordinal) || name.StartsWith("ip6-", StringComparison.Ordinal)
                || name.StartsWith("ip_", StringComparison.Ordinal) || name.StartsWith("ip.4as", StringComparison.Ordinal)
                || name.EndsWith("_ip-addr", StringComparison.Ordinal);
            if (!ip)
                continue;
            var kind = name.Contains("rule", StringComparison.Ordinal) ? Kind.Rule
                : name.Contains("route", StringComparison.Ordinal) ? Kind.Route : Kind.Addr;
            yield return (Path.GetRelativePath(NetNetwork, f), kind, name.StartsWith("ip6", StringComparison.Ordinal));
        }
    }

    public static TheoryData<string> TextFileNames()
    {
        var data = new TheoryData<string>();
        foreach (var (rel, _, _) in TextFiles())
            data.Add(rel);
        if (data.Count == 0)
            data.Add("(shared corpus absent)");
        return data;
    }

    public static string RequireNetNetwork()
    {
        if (!Directory.Exists(NetNetwork))
            Assert.Skip($"shared corpus not found at {NetNetwork} (clone ../shared beside the repository to run this test)");
        return NetNetwork;
    }

    /// <summary>Parses one corpus file by its kind; returns the number of items and the warnings.</summary>
    public static (int Count, List<ParseWarning> Warnings) ParseCorpusFile(string relative, string? overrideText = null)
    {
        var (_, kind, v6) = TextFiles().Single(f => f.Relative == relative);
        string path = Path.Combine(NetNetwork, relative);
        string text = overrideText ?? File.ReadAllText(path);
        var warnings = new List<ParseWarning>();
        int count = kind switch
        {
            Kind.Addr => DeviceParser.ParseText(text, path, warnings).Count,
            Kind.Route => RouteParser.ParseText(text, path, v6, warnings).Count,
            _ => RuleParser.ParseText(text, path, v6, warnings).Count,
        };
        return (count, warnings);
    }
}
