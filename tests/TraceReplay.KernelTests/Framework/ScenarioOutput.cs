namespace TraceReplay.KernelTests.Framework;

/// <summary>
/// Where a live run writes its recording: with TRACEREPLAY_RECORD=1 into the repository's
/// datasets/&lt;scenario&gt;/ (what the ordinary tests replay; commit it), otherwise into a scratch folder
/// removed afterwards unless TRACEREPLAY_KEEP=1.
/// </summary>
public sealed class ScenarioOutput : IDisposable
{
    public ScenarioOutput(string scenario)
    {
        Record = Environment.GetEnvironmentVariable("TRACEREPLAY_RECORD") == "1";
        Directory = Record
            ? Path.Combine(RepoRoot(), "datasets", scenario)
            : System.IO.Directory.CreateTempSubdirectory("tracereplay-kernel-" + scenario + "-").FullName;
    }

    public bool Record { get; }
    public string Directory { get; }

    public void Dispose()
    {
        if (!Record && Environment.GetEnvironmentVariable("TRACEREPLAY_KEEP") != "1" && System.IO.Directory.Exists(Directory))
            System.IO.Directory.Delete(Directory, recursive: true);
    }

    public static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "TraceReplay.sln")))
                return d.FullName;
        }
        throw new InvalidOperationException("TraceReplay.sln not found above " + AppContext.BaseDirectory);
    }
}
