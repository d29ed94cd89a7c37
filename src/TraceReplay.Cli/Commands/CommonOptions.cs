using System.CommandLine;
using TraceReplay.Capture.Points;

namespace TraceReplay.Cli.Commands;

/// <summary>Options shared by commands, created per command (System.CommandLine symbols have one parent).</summary>
internal static class CommonOptions
{
    public static Option<bool> Json() => new("--json") { Description = "Write JSON for scripts instead of text." };

    public static Option<bool> SkipBad() => new("--skip-bad")
    {
        Description = "Count bad capture records, report them and go on (default: stop at the first with exit code 1).",
    };

    public static Option<DirectoryInfo> Host() => new("--host")
    {
        Description = "Host snapshot directory (see `tracereplay snapshot`); its link.json names SLL2 interface indexes and interface MACs.",
    };

    public static Argument<string[]> Captures() => new("CAPTURE")
    {
        Arity = ArgumentArity.OneOrMore,
        Description = "A capture file (pcap or pcapng), or IFACE=FILE to say which interface it was taken on.",
    };

    /// <summary>The snapshot's interfaces, or none when no snapshot (or no link.json in it) was given.</summary>
    public static InterfaceTable LoadInterfaces(DirectoryInfo? host)
    {
        if (host is null)
            return InterfaceTable.Empty;
        if (!host.Exists)
            throw new UsageException($"--host {host.FullName}: no such directory");
        string link = Path.Combine(host.FullName, "link.json");
        return File.Exists(link) ? InterfaceTable.Load(link) : InterfaceTable.Empty;
    }

    public static IReadOnlyList<CaptureSource> ParseCaptures(IEnumerable<string> arguments)
    {
        var sources = arguments.Select(CaptureSource.Parse).ToList();
        foreach (var s in sources)
        {
            if (!File.Exists(s.Path))
                throw new UsageException($"capture file {s.Path}: no such file");
        }
        return sources;
    }
}
