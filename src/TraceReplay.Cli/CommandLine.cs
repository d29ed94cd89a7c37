using System.CommandLine;
using TraceReplay.Capture.Readers;

namespace TraceReplay.Cli;

/// <summary>Exit codes of the contract in DESIGN.md, and the one place exceptions become messages.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int BadInput = 1;
    public const int Usage = 2;
}

/// <summary>A user error the command found after parsing (a bad value, a missing file): exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message)
{
    public UsageException() : this("usage error")
    {
    }

    public UsageException(string message, Exception inner) : this(message + ": " + inner.Message)
    {
    }
}

public static class CommandLine
{
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("TraceReplay: replay packet captures through a simulation of a Linux host's netfilter, offline.");
        root.Subcommands.Add(Commands.CapinfoCommand.Create());
        root.Subcommands.Add(Commands.RulesCommand.Create());
        root.Subcommands.Add(Commands.SnapshotCommand.Create());
        root.Subcommands.Add(Commands.ConntrackCommand.Create());
        root.Subcommands.Add(Commands.ReplayCommand.Create());
        root.Subcommands.Add(Commands.CountersCommand.Create());
        root.Subcommands.Add(Commands.TraceCommand.Create());
        root.Subcommands.Add(Commands.AnomaliesCommand.Create());
        root.Subcommands.Add(Commands.QueryCommand.Create());
        root.Subcommands.Add(Commands.DropsCommand.Create());
        root.Subcommands.Add(Commands.NatCommand.Create());
        root.Subcommands.Add(Commands.ExportCommand.Create());
        root.Subcommands.Add(Commands.DiffCommand.Create());
        root.Subcommands.Add(Commands.ReportCommand.Create());
        root.Subcommands.Add(Commands.FidelityCommand.Create());
        root.Subcommands.Add(Commands.FleetCommand.Create());
        return root;
    }

    /// <summary>Runs the command line with the default root.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Run(CreateRoot(), args, stdout, stderr);

    public static int Run(RootCommand root, string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(root);
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors)
                stderr.WriteLine("error: " + e.Message);
            stderr.WriteLine($"Try '{root.Name} {string.Join(' ', CommandPath(parsed))} --help'.".Replace("  ", " ", StringComparison.Ordinal));
            return ExitCodes.Usage;
        }
        try
        {
            return parsed.Invoke(config);
        }
        catch (UsageException e)
        {
            stderr.WriteLine("error: " + e.Message);
            return ExitCodes.Usage;
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine("error: " + e.Message);
            return ExitCodes.Usage;
        }
        catch (CaptureFormatException e)
        {
            stderr.WriteLine("error: " + e.Message);
            stderr.WriteLine("(use --skip-bad to count bad records and go on)");
            return ExitCodes.BadInput;
        }
        catch (TraceReplay.Host.Parsing.HostParseException e)
        {
            stderr.WriteLine("error: " + e.Message);
            return ExitCodes.BadInput;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            stderr.WriteLine("error: " + e.Message);
            return ExitCodes.BadInput;
        }
    }

    private static IEnumerable<string> CommandPath(ParseResult parsed)
    {
        var names = new List<string>();
        for (var r = parsed.CommandResult; r is not null && r.Parent is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, r.Command.Name);
        return names;
    }
}
