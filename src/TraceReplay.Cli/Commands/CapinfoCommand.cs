using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using TraceReplay.Capture.Info;
using TraceReplay.Capture.Readers;

namespace TraceReplay.Cli.Commands;

/// <summary>`tracereplay capinfo`: what is in capture files, like Wireshark's capinfos, plus what the replay will see.</summary>
internal static class CapinfoCommand
{
    public static Command Create()
    {
        var captures = CommonOptions.Captures();
        var host = CommonOptions.Host();
        var json = CommonOptions.Json();
        var skipBad = CommonOptions.SkipBad();
        var command = new Command("capinfo", "Describe capture files: format, link types, interfaces, packets, bytes, time range, protocols, truncated and malformed records.")
        {
            captures, host, json, skipBad,
        };
        command.SetAction((parse, _) =>
        {
            var interfaces = CommonOptions.LoadInterfaces(parse.GetValue(host));
            var sources = CommonOptions.ParseCaptures(parse.GetValue(captures)!);
            var policy = parse.GetValue(skipBad) ? BadRecordPolicy.Skip : BadRecordPolicy.Stop;
            var summaries = sources.Select(s => CaptureSummary.Inspect(s, interfaces, policy)).ToList();
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
                WriteJson(output, summaries);
            else
                WriteText(output, summaries);
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    internal static string Time(long ns) => ns is long.MaxValue or long.MinValue ? "-" : CaptureReader.FormatNs(ns);

    private static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static void WriteText(TextWriter output, List<CaptureSummary> summaries)
    {
        foreach (var s in summaries)
        {
            void Row(string k, string v) => output.WriteLine($"{k,-14}{v}");
            Row("File:", s.Path);
            Row("Format:", s.Format);
            Row("Link types:", string.Join(", ", s.LinkTypes));
            Row("Packets:", N(s.Packets));
            Row("Bytes:", $"{N(s.CapturedBytes)} captured, {N(s.WireBytes)} on the wire (file {N(s.FileBytes)} bytes)");
            Row("First packet:", Time(s.FirstNs));
            Row("Last packet:", Time(s.LastNs));
            Row("Duration:", s.Packets > 0 ? ((s.LastNs - s.FirstNs) / 1e9).ToString("0.000000", CultureInfo.InvariantCulture) + " s" : "-");
            Row("Interfaces:", s.Interfaces.Count == 0 ? "-" : string.Join(", ", s.Interfaces.Select(i => $"{i.Key} ({N(i.Value.Packets)}: {N(i.Value.Incoming)} in, {N(i.Value.Outgoing)} out)")));
            Row("Directions:", $"{N(s.Incoming)} in, {N(s.Outgoing)} out, {N(s.UnknownDirection)} unknown");
            Row("Protocols:", s.Protocols.Count == 0 ? "-" : string.Join(", ", s.Protocols.Select(p => $"{p.Key} {N(p.Value)}")));
            Row("Truncated:", N(s.Truncated) + " (cut by the snap length)");
            Row("Malformed:", N(s.Malformed) + (s.MalformedReasons.Count > 0 ? " (" + string.Join(", ", s.MalformedReasons.Select(r => $"{r.Key} {N(r.Value)}")) + ")" : string.Empty));
            if (s.SkippedRecords > 0 || s.TimestampsBackwards > 0 || s.EndedEarly)
            {
                Row("Bad records:", $"{N(s.SkippedRecords)} skipped, {N(s.TimestampsBackwards)} with time going backwards (kept){(s.EndedEarly ? ", file unreadable past the last one" : string.Empty)}");
                foreach (var m in s.Problems)
                    Row(string.Empty, m);
            }
            output.WriteLine();
        }
    }

    private static void WriteJson(TextWriter output, List<CaptureSummary> summaries)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartArray();
            foreach (var s in summaries)
            {
                w.WriteStartObject();
                w.WriteString("path", s.Path);
                w.WriteString("format", s.Format);
                w.WriteNumber("file_bytes", s.FileBytes);
                w.WriteStartArray("link_types");
                foreach (var l in s.LinkTypes)
                    w.WriteStringValue(l);
                w.WriteEndArray();
                w.WriteNumber("packets", s.Packets);
                w.WriteNumber("captured_bytes", s.CapturedBytes);
                w.WriteNumber("wire_bytes", s.WireBytes);
                if (s.Packets > 0)
                {
                    w.WriteString("first_ts", Time(s.FirstNs));
                    w.WriteString("last_ts", Time(s.LastNs));
                    w.WriteNumber("first_ts_us", s.FirstNs / 1000);
                    w.WriteNumber("last_ts_us", s.LastNs / 1000);
                    w.WriteNumber("duration_s", (s.LastNs - s.FirstNs) / 1e9);
                }
                w.WriteStartObject("interfaces");
                foreach (var (name, c) in s.Interfaces)
                {
                    w.WriteStartObject(name);
                    w.WriteNumber("packets", c.Packets);
                    w.WriteNumber("incoming", c.Incoming);
                    w.WriteNumber("outgoing", c.Outgoing);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
                w.WriteStartObject("directions");
                w.WriteNumber("incoming", s.Incoming);
                w.WriteNumber("outgoing", s.Outgoing);
                w.WriteNumber("unknown", s.UnknownDirection);
                w.WriteEndObject();
                w.WriteStartObject("protocols");
                foreach (var (k, v) in s.Protocols)
                    w.WriteNumber(k, v);
                w.WriteEndObject();
                w.WriteNumber("truncated", s.Truncated);
                w.WriteNumber("malformed", s.Malformed);
                w.WriteStartObject("malformed_reasons");
                foreach (var (k, v) in s.MalformedReasons)
                    w.WriteNumber(k, v);
                w.WriteEndObject();
                w.WriteNumber("skipped_records", s.SkippedRecords);
                w.WriteNumber("timestamps_backwards", s.TimestampsBackwards);
                w.WriteBoolean("ended_early", s.EndedEarly);
                w.WriteStartArray("problems");
                foreach (var m in s.Problems)
                    w.WriteStringValue(m);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
