using System.CommandLine;
using System.Text;
using TraceReplay.Analytics.Nat;
using TraceReplay.Analytics.Report;
using TraceReplay.Analytics.Run;

namespace TraceReplay.Cli.Commands;

/// <summary>
/// `tracereplay report RUN --html FILE`: the run summary, fidelity, drops, NAT and conntrack over
/// time, top talkers, rule usage and anomalies as one self-contained HTML page. The page is written
/// to a temporary file next to FILE and renamed over it at the end, so a failed report never leaves
/// half a page (or clobbers the previous one); the output is checked writable before the analysis,
/// so a typo in the path costs no minutes of queries.
/// </summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var run = RunArguments.Run();
        var html = new Option<FileInfo>("--html") { Description = "Write the report to this HTML file (self-contained: no network, no script).", Required = true };
        var bucket = new Option<string>("--bucket") { Description = "Time bucket of the NAT and conntrack plots and the anomaly windows: a number and s, m or h.", DefaultValueFactory = _ => "10s" };
        var top = new Option<int>("--top") { Description = "Rows of the top lists (hottest rules, talkers, anomalies).", DefaultValueFactory = _ => 10 };
        var noAnomalies = new Option<bool>("--no-anomalies") { Description = "Leave the anomaly section out: on a large run it takes most of the report's time." };
        var command = new Command("report", "One self-contained HTML report of a run: summary, fidelity, drops, NAT usage and conntrack fill over time, top talkers, rule usage, anomalies.")
        {
            run, html, bucket, top, noAnomalies,
        };
        command.SetAction((parse, _) =>
        {
            string b = parse.GetValue(bucket)!;
            long bucketUs = NatBuckets.Parse(b) ?? throw new UsageException($"--bucket {b}: not a time bucket; expected a number and s, m or h, such as 1s, 10s or 1m");
            int n = parse.GetValue(top);
            if (n < 1)
                throw new UsageException($"--top {n}: expected at least 1");
            string path = parse.GetValue(run)!;
            // A missing or wrong RUN is bad input (exit 1), as the brief of `report` asks, with the file named.
            if (Directory.Exists(path))
                throw new InvalidDataException($"{path}: is a directory; expected a run database file (RUN.duckdb)");
            if (!File.Exists(path))
                throw new FileNotFoundException($"{path}: no such file", path);
            var output = parse.GetValue(html)!;
            using var tmp = CreateOutput(output);
            try
            {
                RunReport report;
                using (var db = RunDatabase.Open(path))
                    report = RunReports.Build(db, new ReportOptions { BucketUs = bucketUs, AnomalyBucket = TimeSpan.FromTicks(bucketUs * 10), Top = n, Anomalies = !parse.GetValue(noAnomalies) });
                using (var w = new StreamWriter(tmp.Stream, new UTF8Encoding(false), leaveOpen: true))
                    HtmlReport.Write(report, w);
                tmp.Stream.Dispose();
                File.Move(tmp.Path, output.FullName, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (e is RunDatabaseException)
                    throw;
                throw new IOException($"{output.FullName}: cannot write the report ({e.Message})", e);
            }
            parse.InvocationConfiguration.Output.WriteLine($"wrote {output.FullName}");
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    /// <summary>The temporary file the page is written to; deleted on dispose unless it was renamed into place.</summary>
    private sealed class TempOutput(string path, FileStream stream) : IDisposable
    {
        public string Path { get; } = path;

        public FileStream Stream { get; } = stream;

        public void Dispose()
        {
            Stream.Dispose();
            if (File.Exists(Path))
                File.Delete(Path);
        }
    }

    private static TempOutput CreateOutput(FileInfo output)
    {
        if (Directory.Exists(output.FullName))
            throw new IOException($"--html {output.FullName}: is a directory; give a file name such as report.html");
        string dir = output.DirectoryName ?? ".";
        if (!Directory.Exists(dir))
            throw new IOException($"--html {output.FullName}: directory {dir} does not exist");
        string tmp = System.IO.Path.Combine(dir, $".{output.Name}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            return new TempOutput(tmp, new FileStream(tmp, FileMode.CreateNew, FileAccess.Write));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"--html {output.FullName}: cannot write there ({e.Message})", e);
        }
    }
}
