using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using TraceReplay.Analytics.Diff;

namespace TraceReplay.Cli.Commands;

/// <summary>
/// `tracereplay diff RUN_A RUN_B [--json] [--limit N] [--force]`: what a rule change would change.
/// Two replays of the same captures (the host's rules, then `replay --rules NEW.rules`) compared
/// packet by packet; the flows whose verdict, NAT or path changed are listed with the deciding
/// rule on each side, after a summary line per kind of change and rule (<see cref="RunDiff"/>).
/// </summary>
internal static class DiffCommand
{
    public static Command Create()
    {
        var runA = new Argument<string>("RUN_A") { Description = "The run before the change (RUN.duckdb, written by tracereplay replay --out)." };
        var runB = new Argument<string>("RUN_B") { Description = "The run after it: the same captures replayed, e.g. with --rules NEW.rules." };
        var json = CommonOptions.Json();
        var limit = new Option<int>("--limit") { DefaultValueFactory = _ => 50, Description = "List at most N flows (the summary counts all)." };
        var force = new Option<bool>("--force") { Description = "Compare runs of different captures anyway (a warning), leaving out packets that are not the same in both." };
        var command = new Command("diff", "List the flows whose verdict, NAT or path differ between two replays of the same captures (what would my rule change break).") { runA, runB, json, limit, force };
        command.SetAction((parse, _) =>
        {
            int n = parse.GetValue(limit);
            if (n < 0)
                throw new UsageException($"--limit {n}: must be 0 or more");
            var result = RunDiff.Compare(parse.GetValue(runA)!, parse.GetValue(runB)!, new RunDiffOptions { Force = parse.GetValue(force), Limit = n });
            var err = parse.InvocationConfiguration.Error;
            foreach (var w in result.Warnings)
                err.WriteLine("warning: " + w);
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
                WriteJson(output, result);
            else
                WriteText(output, result);
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    private static string Kind(DiffKind k) => k switch
    {
        DiffKind.NowDropped => "now dropped",
        DiffKind.NowAccepted => "now accepted",
        DiffKind.Verdict => "verdict",
        DiffKind.Rule => "other rule",
        DiffKind.Nat => "NAT",
        _ => "path",
    };

    private static string JsonKind(DiffKind k) => k switch
    {
        DiffKind.NowDropped => "now_dropped",
        DiffKind.NowAccepted => "now_accepted",
        DiffKind.Verdict => "verdict",
        DiffKind.Rule => "rule",
        DiffKind.Nat => "nat",
        _ => "path",
    };

    private static string Count(long n, string what) => n.ToString(CultureInfo.InvariantCulture) + " " + what + (n == 1 ? string.Empty : "s");

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture);

    private static void WriteText(TextWriter output, RunDiffResult r)
    {
        bool terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!terminal)
            console.Profile.Width = 200;
        console.WriteLine($"A: {r.RunA} ({r.PacketsA} packets)");
        console.WriteLine($"B: {r.RunB} ({r.PacketsB} packets)");
        if (r.FlowsChanged == 0)
        {
            console.WriteLine("No flow changed: every packet has the same verdict, deciding rule, NAT and path in both runs.");
            return;
        }
        console.WriteLine($"{Count(r.PacketsChanged, "packet")} of {Count(r.FlowsChanged, "flow")} changed:");
        foreach (var s in r.Summary)
            console.WriteLine("  " + s.Text);
        if (r.Flows.Count == 0)
            return;
        console.WriteLine();
        var table = new Table { Border = TableBorder.Rounded };
        table.AddColumn("Change");
        table.AddColumn("Flow (as in A)");
        table.AddColumn("First (UTC)");
        table.AddColumn(new TableColumn("Packets").RightAligned());
        table.AddColumn("A");
        table.AddColumn("B");
        foreach (var f in r.Flows)
        {
            table.AddRow(
                new Text(Kind(f.Kind)),
                new Text(f.Tuple + (f.CtIdA is { } ct ? $"\nct {ct}" : string.Empty)),
                new Text(Time(f.FirstTs)),
                new Text(f.Packets.ToString(CultureInfo.InvariantCulture)),
                new Text(Side(f.A, f.Kind)),
                new Text(Side(f.B, f.Kind)));
        }
        table.Caption = new TableTitle(r.Flows.Count < r.FlowsChanged ? $"first {r.Flows.Count} of {r.FlowsChanged} flows (--limit)" : Count(r.FlowsChanged, "flow"));
        console.Write(table);
    }

    /// <summary>One side of a flow: verdict and the deciding rule, and the NAT and path when they are what changed.</summary>
    private static string Side(DiffSide s, DiffKind kind)
    {
        if (s.Verdict is null)
            return "(a later sighting of another packet here)";
        var lines = new List<string> { s.Verdict + " " + s.Decider };
        if (s.Rule is { } rule)
            lines.Add(rule.Line);
        if (kind is DiffKind.Nat or DiffKind.NowAccepted or DiffKind.NowDropped || !s.Nat.IsNone)
            lines.Add("NAT " + s.Nat);
        if (kind == DiffKind.Path && s.Path is not null)
            lines.Add(s.Path);
        if (s.PacketId is { } id)
            lines.Add($"packet {id}");
        return string.Join('\n', lines);
    }

    private static void WriteJson(TextWriter output, RunDiffResult r)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("run_a", r.RunA);
            w.WriteString("run_b", r.RunB);
            w.WriteNumber("packets_a", r.PacketsA);
            w.WriteNumber("packets_b", r.PacketsB);
            w.WriteNumber("packets_changed", r.PacketsChanged);
            w.WriteNumber("flows_changed", r.FlowsChanged);
            w.WriteStartArray("summary");
            foreach (var s in r.Summary)
            {
                w.WriteStartObject();
                w.WriteString("kind", JsonKind(s.Kind));
                w.WriteNumber("flows", s.Flows);
                w.WriteNumber("packets", s.Packets);
                WriteRule(w, "rule", s.Rule);
                w.WriteString("text", s.Text);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("flows");
            foreach (var f in r.Flows)
            {
                w.WriteStartObject();
                w.WriteString("kind", JsonKind(f.Kind));
                w.WriteString("family", f.Family);
                Number(w, "proto", f.Proto);
                w.WriteString("src", f.Src);
                Number(w, "sport", f.Sport);
                w.WriteString("dst", f.Dst);
                Number(w, "dport", f.Dport);
                Number(w, "ct_id_a", f.CtIdA);
                w.WriteString("first_ts", Time(f.FirstTs));
                w.WriteString("last_ts", Time(f.LastTs));
                w.WriteNumber("packets", f.Packets);
                WriteSide(w, "a", f.A);
                WriteSide(w, "b", f.B);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("warnings");
            foreach (var s in r.Warnings)
                w.WriteStringValue(s);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static void WriteSide(Utf8JsonWriter w, string name, DiffSide s)
    {
        w.WriteStartObject(name);
        w.WriteString("verdict", s.Verdict);
        WriteRule(w, "rule", s.Rule);
        w.WriteString("drop_reason", s.DropReason);
        if (s.Nat.IsNone)
        {
            w.WriteNull("nat");
        }
        else
        {
            w.WriteStartObject("nat");
            w.WriteString("src", s.Nat.Src);
            Number(w, "sport", s.Nat.Sport);
            w.WriteString("dst", s.Nat.Dst);
            Number(w, "dport", s.Nat.Dport);
            w.WriteEndObject();
        }
        w.WriteString("path", s.Path);
        Number(w, "packet_id", s.PacketId);
        w.WriteEndObject();
    }

    private static void WriteRule(Utf8JsonWriter w, string name, DiffRule? rule)
    {
        if (rule is null)
        {
            w.WriteNull(name);
            return;
        }
        w.WriteStartObject(name);
        w.WriteString("family", rule.Family);
        w.WriteString("table", rule.Table);
        w.WriteString("chain", rule.Chain);
        w.WriteNumber("position", rule.Position);
        w.WriteBoolean("policy", rule.IsPolicy);
        w.WriteString("text", rule.Text);
        w.WriteString("label", rule.Label);
        w.WriteString("line", rule.Line);
        w.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter w, string name, long? v)
    {
        if (v is { } x)
            w.WriteNumber(name, x);
        else
            w.WriteNull(name);
    }
}
