using System.CommandLine;
using TraceReplay.Analytics.Fleet;
using TraceReplay.Analytics.Query;

namespace TraceReplay.Cli.Commands;

/// <summary>
/// `tracereplay fleet query DIR "SQL"` and `tracereplay fleet drops DIR`: many hosts' exported runs
/// (`tracereplay export RUN --parquet DIR --host-name NAME`) read together, each table a view over
/// DIR/TABLE/**/*.parquet with the `host` and `date` partition columns (FleetDatabase).
/// </summary>
internal static class FleetCommand
{
    public static Command Create()
    {
        var command = new Command("fleet", "Query many hosts' runs together: the Parquet tree `tracereplay export --parquet DIR --host-name NAME` writes, one host= partition per host.");
        command.Subcommands.Add(Query());
        command.Subcommands.Add(Drops());
        return command;
    }

    private static Argument<string> Dir() => new("DIR") { Description = "A folder `tracereplay export RUN --parquet DIR --host-name NAME` wrote into (TABLE/date=YYYY-MM-DD/host=NAME/*.parquet)." };

    private static Option<string> Format()
    {
        var format = new Option<string>("--format") { Description = "Output: table, csv or json.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "csv", "json");
        return format;
    }

    private static Command Query()
    {
        var dir = Dir();
        var sql = new Argument<string>("SQL") { Description = "Read-only SQL, as for `tracereplay query`, over the views packets, rules, connections, nat_mappings, conntrack_events, conntrack_start, rule_trace, captures, run_info (each with host and date columns) and v_drops, v_drops_by_rule, v_hosts." };
        var format = Format();
        var command = new Command("query", "Run read-only SQL over every host's exported tables at once (e.g. SELECT host, count(*) FROM packets WHERE verdict = 'DROP' GROUP BY host).") { dir, sql, format };
        command.SetAction((parse, _) =>
        {
            string path = CheckDir(parse.GetValue(dir)!);
            ResultFormat.Write(parse.InvocationConfiguration.Output, FleetDatabase.Query(path, parse.GetValue(sql)!), parse.GetValue(format));
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    private static Command Drops()
    {
        var dir = Dir();
        var format = Format();
        var json = CommonOptions.Json();
        var command = new Command("drops", "Per host, every rule or reason that dropped or rejected traffic: real packets and sightings, verdicts, first and last time (the fleet view v_drops_by_rule).") { dir, format, json };
        command.SetAction((parse, _) =>
        {
            string path = CheckDir(parse.GetValue(dir)!);
            ResultFormat.Write(parse.InvocationConfiguration.Output, FleetDatabase.Drops(path), parse.GetValue(json) ? "json" : parse.GetValue(format));
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    /// <summary>A missing folder is a usage error (exit 2), as a missing run file is for `query`; a file where a folder should be too.</summary>
    private static string CheckDir(string path)
    {
        if (File.Exists(path))
            throw new UsageException($"{path}: is a file; expected the folder `tracereplay export --parquet DIR` wrote");
        if (!Directory.Exists(path))
            throw new UsageException($"{path}: no such directory");
        return path;
    }
}
