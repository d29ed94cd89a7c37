using System.CommandLine;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Cli.Commands;

/// <summary>
/// `tracereplay conntrack`: a connection table in `conntrack -L -o extended` form. Given a snapshot
/// folder (or a conntrack.txt), the starting table the replay will begin with, read and printed back
/// through the simulated table — so a bad line is found before a replay, with its file:line:column.
/// Given a run database (told apart by its DuckDB header, whatever its name), the table at the end
/// of the run or `--at TIME` (RunConntrack).
/// </summary>
internal static class ConntrackCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("PATH") { Description = "A run database (RUN.duckdb), a snapshot folder (its conntrack.txt and sysctl.conf) or a conntrack -L -o extended file." };
        var at = RunConntrack.AtOption();
        var command = new Command("conntrack", "Print a connection table in conntrack -L -o extended form: a run's at its end or --at TIME, or a snapshot's starting table, as the simulated conntrack holds it.") { path, at };
        command.SetAction((parse, _) =>
        {
            string p = parse.GetValue(path)!;
            if (File.Exists(p) && TraceReplay.Store.RunReader.LooksLikeDuckDb(p))
                return Task.FromResult(RunConntrack.Print(p, parse.GetValue(at), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
            if (parse.GetValue(at) is not null)
                throw new UsageException($"--at: {p} is not a run database; --at picks a time within a run (RUN.duckdb from tracereplay replay --out)");
            string file = Directory.Exists(p) ? Path.Combine(p, "conntrack.txt") : p;
            if (!File.Exists(file))
                throw new UsageException(Directory.Exists(p) ? $"{p}: the snapshot has no conntrack.txt" : $"{p}: no such file or folder");
            string? sysctl = Directory.Exists(p) ? Path.Combine(p, NetworkConfig.SysctlFile) : null;
            var settings = sysctl is not null && File.Exists(sysctl)
                ? NfConntrackSettings.FromSysctls(Sysctls.Parse(File.ReadAllText(sysctl), sysctl))
                : new NfConntrackSettings();
            var entries = ConntrackList.Parse(File.ReadAllText(file), file);
            var table = new NfConntrackTable(settings);
            table.LoadInitial(entries);
            table.Start(0);
            var o = parse.InvocationConfiguration.Output;
            ConntrackList.Dump(table, 0, o);
            // conntrack-tools writes its summary to stderr, so pipes see only the table.
            parse.InvocationConfiguration.Error.WriteLine($"conntrack (tracereplay): {table.Count} flow entries have been shown.");
            if (table.Count != entries.Count)
                parse.InvocationConfiguration.Error.WriteLine($"note: {entries.Count - table.Count} of {entries.Count} lines repeat a tuple already in the table (the kernel cannot hold both) and were left out");
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }
}
