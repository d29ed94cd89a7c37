using TraceReplay.Cli;

namespace TraceReplay.Tests.Cli;

/// <summary>What every command-line test needs: a scratch folder removed afterwards, and the command run in-process with its output captured.</summary>
public abstract class CliTestBase : IDisposable
{
    protected string Dir { get; } = Directory.CreateTempSubdirectory("tracereplay-cli-").FullName;

    public void Dispose()
    {
        Directory.Delete(Dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    protected static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLine.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>Writes <paramref name="text"/> to a file of the scratch folder and returns its path.</summary>
    protected string Write(string name, string text)
    {
        string p = Path.Combine(Dir, name);
        File.WriteAllText(p, text);
        return p;
    }
}
