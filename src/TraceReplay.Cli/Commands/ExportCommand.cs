using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using TraceReplay.Analytics.Export;

namespace TraceReplay.Cli.Commands;

/// <summary>`tracereplay export RUN --parquet DIR`: every table as Parquet, Hive-partitioned by date and capture host.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var run = RunArguments.Run();
        var json = CommonOptions.Json();
        var parquet = new Option<DirectoryInfo>("--parquet") { Required = true, Description = "Folder to write DIR/TABLE/date=YYYY-MM-DD/host=NAME/*.parquet into (created if missing; other hosts' partitions are kept)." };
        var hostName = new Option<string?>("--host-name") { Description = "The capture host's name for the host= partition (default: run_info's hostname, else the run database's file name)." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace this host's partitions if DIR already has them." };
        var command = new Command("export", "Export every table of a run as Parquet, Hive-partitioned by date and capture host, for DuckDB, Spark, Trino or pandas over many hosts' runs.")
        {
            run, json, parquet, hostName, overwrite,
        };
        command.SetAction((parse, _) =>
        {
            string path = parse.GetValue(run)!;
            var dir = parse.GetValue(parquet)!;
            if (File.Exists(dir.FullName))
                throw new UsageException($"--parquet {dir.FullName}: is a file; expected a folder");
            if (dir.Parent is { Exists: false } p)
                throw new UsageException($"--parquet {dir.FullName}: directory {p.FullName} does not exist");
            using var db = RunArguments.Open(path);
            string host = parse.GetValue(hostName) ?? ParquetExport.DefaultHostName(db);
            if (!ParquetExport.IsValidHostName(host))
                throw new UsageException($"--host-name {host}: use letters, digits, '.', '_' and '-' (it becomes a host=NAME folder)");
            var tables = ParquetExport.Export(db, dir.FullName, host, parse.GetValue(overwrite));
            var o = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
            {
                using var buffer = new MemoryStream();
                using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
                {
                    w.WriteStartObject();
                    w.WriteString("run", path);
                    w.WriteString("dir", dir.FullName);
                    w.WriteString("host", host);
                    w.WriteStartArray("tables");
                    foreach (var t in tables)
                    {
                        w.WriteStartObject();
                        w.WriteString("table", t.Table);
                        w.WriteNumber("rows", t.Rows);
                        w.WriteStartArray("files");
                        foreach (string f in t.Files)
                            w.WriteStringValue(Path.GetRelativePath(dir.FullName, f));
                        w.WriteEndArray();
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                o.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
            }
            else
            {
                foreach (var t in tables)
                    o.WriteLine($"{t.Table,-18} {t.Rows.ToString("N0", CultureInfo.InvariantCulture),12} rows  {(t.Files.Count == 0 ? "(empty: no file)" : string.Join(", ", t.Files.Select(f => Path.GetRelativePath(dir.FullName, f))))}");
                o.WriteLine($"exported to {dir.FullName} as host={host}; read back with, e.g.:");
                o.WriteLine($"  SELECT * FROM read_parquet('{Path.Combine(dir.FullName, "packets", "**", "*.parquet")}', hive_partitioning = true)");
            }
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }
}
