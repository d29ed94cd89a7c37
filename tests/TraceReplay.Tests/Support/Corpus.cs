namespace TraceReplay.Tests.Support;

/// <summary>
/// The shared datasets beside the repository (../shared/datasets/external). They are read in place,
/// never copied into the repo (several carry non-commercial licences); tests that need them skip with
/// a message saying where they were looked for.
/// </summary>
public static class Corpus
{
    private static readonly Lazy<string> RepoRoot = new(() =>
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "TraceReplay.sln")))
                return d.FullName;
        }
        throw new InvalidOperationException("TraceReplay.sln not found above " + AppContext.BaseDirectory);
    });

    public static string Root => RepoRoot.Value;

    public static string External => Path.GetFullPath(Path.Combine(Root, "..", "shared", "datasets", "external"));

    public static string Pcaps => Path.Combine(External, "pcaps");

    /// <summary>Skips the calling test when the shared captures are absent.</summary>
    public static string RequirePcaps()
    {
        if (!Directory.Exists(Pcaps))
            Assert.Skip($"shared captures not found at {Pcaps} (clone ../shared beside the repository to run this test)");
        return Pcaps;
    }

    public static string Pcap(string relative) => Path.Combine(RequirePcaps(), relative);

    /// <summary>Every pcap and pcapng file of the shared corpus, relative to <see cref="Pcaps"/>.</summary>
    public static IEnumerable<string> AllCaptureFiles() => !Directory.Exists(Pcaps)
        ? []
        : Directory.EnumerateFiles(Pcaps, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".pcap", StringComparison.Ordinal) || f.EndsWith(".pcapng", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(Pcaps, f))
            .Order(StringComparer.Ordinal);

    public static TheoryData<string> CaptureFiles()
    {
        var data = new TheoryData<string>();
        foreach (var f in AllCaptureFiles())
            data.Add(f);
        if (data.Count == 0)
            data.Add("(shared corpus absent)");
        return data;
    }
}
