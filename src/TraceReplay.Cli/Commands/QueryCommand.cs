using System.CommandLine;
using System.Globalization;
using TraceReplay.Analytics.Query;
using TraceReplay.Analytics.Run;

namespace TraceReplay.Cli.Commands;

/// <summary>`tracereplay query RUN "SQL"`: read-only SQL over a run database, as a table, CSV or JSON.</summary>
internal static class QueryCommand
{
    public static Command Create()
    {
        var run = RunArguments.Run();
        var sql = new Argument<string>("SQL") { Description = "SQL to run: SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN, reporting PRAGMAs. Anything that writes, attaches, loads or reads other files is refused." };
        var format = new Option<string>("--format") { Description = "Output: table, csv or json.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "csv", "json");
        var command = new Command("query", "Run read-only SQL over a run database (its tables, views and the analytics views; see README).") { run, sql, format };
        command.SetAction((parse, _) =>
        {
            using var db = RunArguments.Open(parse.GetValue(run)!);
            var result = ReadOnlyQuery.Run(db, parse.GetValue(sql)!);
            ResultFormat.Write(parse.InvocationConfiguration.Output, result, parse.GetValue(format));
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }
}

/// <summary>The RUN argument and the options the report commands share.</summary>
internal static class RunArguments
{
    public static Argument<string> Run() => new("RUN") { Description = "A run database written by `tracereplay replay --out RUN.duckdb`." };

    /// <summary>Opens the run read-only; a missing file is a usage error (exit 2), a file that is not a run database bad input (exit 1).</summary>
    public static RunDatabase Open(string path)
    {
        if (Directory.Exists(path))
            throw new UsageException($"{path}: is a directory; expected a run database file (RUN.duckdb)");
        if (!File.Exists(path))
            throw new UsageException($"{path}: no such file");
        return RunDatabase.Open(path);
    }

    public static Option<string> Time(string name, string what) => new(name) { Description = $"{what}: ISO 8601 (2026-11-25T17:58:01.5Z) or seconds since the epoch." };

    /// <summary>DESIGN.md's times: ISO 8601 (UTC unless it says otherwise) or seconds since the epoch; returns UTC microseconds.</summary>
    public static long? ParseTime(string option, string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return null;
        if (decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal seconds))
            return (long)(seconds * 1_000_000m);
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
            return (t.UtcTicks - DateTime.UnixEpoch.Ticks) / 10;
        throw new UsageException($"{option} {text}: not a time; expected ISO 8601 (2026-11-25T17:58:01.5Z) or seconds since the epoch");
    }

    public static string FormatTime(long us) => ResultFormat.Text(DateTime.UnixEpoch.AddTicks(us * 10));
}
