using System.CommandLine;

namespace TraceReplay.Cli.Commands;

/// <summary>
/// `replay --threads 1|2|3`: which stages of the pipeline get a thread of their own besides the
/// simulation (README "Both cores"). 1: everything on one thread. 2: the run writer's thread
/// (DuckDB and Arrow storage), or without --out the receive thread. 3: both the receive thread
/// (read, decode, merge) and the writer thread. The rows are the same whichever is chosen.
/// </summary>
internal readonly record struct ReplayThreads(bool Receive, bool Writer)
{
    /// <summary>All stages on threads of their own when there is a second core; the one-thread loop otherwise.</summary>
    public static int Default => Environment.ProcessorCount >= 2 ? 3 : 1;

    public static Option<int> Option() => new("--threads")
    {
        DefaultValueFactory = _ => Default,
        Description = "Threads for the pipeline's stages: 1 (one thread), 2 (storage on its own thread), 3 (reading and decoding too). Default: 3 with two or more cores, else 1. Same rows either way.",
    };

    public static ReplayThreads Parse(int threads, bool outFile) => threads switch
    {
        1 => new(false, false),
        2 => outFile ? new(false, true) : new(true, false),
        3 => new(true, outFile),
        _ => throw new UsageException($"--threads {threads}: 1, 2 or 3"),
    };
}
