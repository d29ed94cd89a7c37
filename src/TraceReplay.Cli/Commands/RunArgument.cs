using System.CommandLine;
using TraceReplay.Store;

namespace TraceReplay.Cli.Commands;

/// <summary>The RUN argument of the report commands: a run database written by `replay --out`.</summary>
internal static class RunArgument
{
    public static Argument<string> Create() => new("RUN") { Description = "A run database (RUN.duckdb, written by tracereplay replay --out)." };

    /// <summary>Opens RUN; a missing file or anything that is not a run database is bad input (exit 1) with a message naming it.</summary>
    public static RunReader Open(string path)
    {
        try
        {
            return RunReader.Open(path);
        }
        catch (FileNotFoundException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }
}
