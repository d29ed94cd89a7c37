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

    /// <summary>
    /// The same capture replayed against a rule set that accepts everything and has no nat table: a
    /// run with no drops and no NAT bindings, the empty answers every notebook must also handle.
    /// </summary>
    public string QuietRunDb { get; }

    public NotebookFixture()
    {
        string ds = Path.Combine(Repo.Root, "datasets", "docker-host");
        string[] replay = ["replay", "--host", Path.Combine(ds, "snapshot"), Path.Combine(ds, "captures", "any.pcap")];
        RunDb = Replay(replay, "docker-host.duckdb");
        string open = Path.Combine(Dir, "accept-all.rules");
        File.WriteAllText(open, "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n");
        QuietRunDb = Replay([.. replay, "--rules", open], "accept-all.duckdb");
    }

    private string Replay(string[] args, string name)
    {
        string db = Path.Combine(Dir, name);
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLine.Run([.. args, "--out", db], o, e);
        if (code != 0)
            throw new InvalidOperationException($"{string.Join(' ', args)} failed ({code}): {e}");
        return db;
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
