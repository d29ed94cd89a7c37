using TraceReplay.Cli;

namespace TraceReplay.NotebookTests;

/// <summary>
/// The run database the notebooks analyse: the bundled docker-host dataset replayed once, in-process,
/// exactly as the README's command line does, into a scratch folder removed at the end.
/// </summary>
public sealed class NotebookFixture : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("tracereplay-notebooks-").FullName;

    public string RunDb { get; }

    public NotebookFixture()
    {
        RunDb = Path.Combine(Dir, "docker-host.duckdb");
        string ds = Path.Combine(Repo.Root, "datasets", "docker-host");
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLine.Run(
            ["replay", "--host", Path.Combine(ds, "snapshot"), Path.Combine(ds, "captures", "any.pcap"), "--no-initial-conntrack", "--out", RunDb], o, e);
        if (code != 0)
            throw new InvalidOperationException($"replay of the bundled dataset failed ({code}): {e}");
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

/// <summary>The repository root (where TraceReplay.sln is), found from the test's own folder.</summary>
public static class Repo
{
    private static readonly Lazy<string> RootValue = new(() =>
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "TraceReplay.sln")))
                return d.FullName;
        }
        throw new InvalidOperationException("TraceReplay.sln not found above " + AppContext.BaseDirectory);
    });

    public static string Root => RootValue.Value;

    public static string Notebook(string name) => Path.Combine(Root, "notebooks", name);
}
