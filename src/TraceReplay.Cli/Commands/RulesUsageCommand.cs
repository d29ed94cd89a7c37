using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using TraceReplay.Analytics.Rules;

namespace TraceReplay.Cli.Commands;

/// <summary>`tracereplay rules usage RUN`: rules never matched, shadowed, hottest, and the host's own counters beside the simulated ones.</summary>
internal static class RulesUsageCommand
{
    public static Command Create()
    {
        var run = RunArguments.Run();
        var json = CommonOptions.Json();
        var host = new Option<DirectoryInfo?>("--host") { Description = "The host snapshot folder whose iptables-save -c counters to compare with (default: the one run_info names)." };
        var top = new Option<int>("--top") { Description = "How many hottest rules to list.", DefaultValueFactory = _ => 10 };
        var command = new Command("usage", "Rule usage in a replayed run: rules this traffic never matched, rules it never reached because earlier ones decided every packet (needs replay --trace), the hottest rules, and the simulated counters against the host's own.")
        {
            run, json, host, top,
        };
        command.SetAction((parse, _) =>
        {
            if (parse.GetValue(top) < 1)
                throw new UsageException("--top must be at least 1");
            var hostDir = parse.GetValue(host);
            if (hostDir is not null && !hostDir.Exists)
                throw new UsageException($"--host {hostDir.FullName}: no such directory");
            string path = parse.GetValue(run)!;
            using var db = RunArguments.Open(path);
            var report = RuleUsageReports.Build(db, hostDir?.FullName, parse.GetValue(top));
            var o = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
                WriteJson(o, report);
            else
                WriteText(o, report, path);
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    private static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string Line(RuleUsage r) => $"{r.Name,-40} {(r.IsPolicy ? "policy " : string.Empty)}{r.Text}";

    private static void WriteText(TextWriter o, RuleUsageReport r, string path)
    {
        int rules = r.Rules.Count(x => !x.IsPolicy);
        o.WriteLine($"Rule usage in {path}: {N(rules)} rules and {N(r.Rules.Count - rules)} policies");
        o.WriteLine();
        o.WriteLine($"Never matched by this traffic: {N(r.NeverMatched.Count)} of {N(rules)} rules");
        foreach (var x in r.NeverMatched)
            o.WriteLine($"  {Line(x)}{(x.Reached is { } reached ? $"   (reached by {N(reached)} packets)" : string.Empty)}");
        o.WriteLine();
        if (r.Shadowed is { } shadowed)
        {
            o.WriteLine($"Shadowed (packets entered the chain, none reached the rule): {N(shadowed.Count)}");
            foreach (var s in shadowed)
            {
                o.WriteLine($"  {Line(s.Rule)}");
                o.WriteLine($"      {N(s.ChainPackets)} packets entered {s.Rule.Chain}; decided before it by: {(s.Before.Count == 0 ? "-" : string.Join(", ", s.Before.Select(b => $"{b.Name} ({N(b.Matched ?? 0)})")))}");
            }
        }
        else
        {
            o.WriteLine("Shadowed: unknown. " + r.ShadowNote);
        }
        o.WriteLine();
        o.WriteLine("Hottest rules (simulated packets, bytes):");
        foreach (var x in r.Hottest)
            o.WriteLine($"  {N(x.Packets),10} {N(x.Bytes),12}  {Line(x)}");
        o.WriteLine();
        var h = r.Host;
        if (h.Compared > 0)
        {
            o.WriteLine($"Host counters ({h.Snapshot}): {N(h.Equal)} of {N(h.Compared)} rules and policies equal the simulated counters");
            foreach (var x in h.Differ)
                o.WriteLine($"  {Line(x)}   host [{x.HostPackets}:{x.HostBytes}] simulated [{x.Packets}:{x.Bytes}]");
            if (h.Differ.Count > 0)
                o.WriteLine("  (the host's counters run from when the rules were loaded; a capture that started later or missed an interface sees less)");
        }
        if (h.Note is not null)
            o.WriteLine($"Host counters: {h.Note}");
    }

    private static void WriteJson(TextWriter o, RuleUsageReport r)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("run", r.Run);
            w.WriteBoolean("traced", r.Shadowed is not null);
            Rules(w, "rules", r.Rules);
            Rules(w, "never_matched", r.NeverMatched);
            if (r.ReachedNeverMatched is { } rn)
                Rules(w, "reached_never_matched", rn);
            if (r.Shadowed is { } shadowed)
            {
                w.WriteStartArray("shadowed");
                foreach (var s in shadowed)
                {
                    w.WriteStartObject();
                    w.WriteString("rule", s.Rule.Name);
                    w.WriteNumber("id", s.Rule.Id);
                    w.WriteString("text", s.Rule.Text);
                    w.WriteNumber("chain_packets", s.ChainPackets);
                    w.WriteStartArray("decided_before_by");
                    foreach (var b in s.Before)
                        w.WriteStringValue(b.Name);
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            else
            {
                w.WriteNull("shadowed");
                w.WriteString("shadowed_note", r.ShadowNote);
            }
            Rules(w, "hottest", r.Hottest);
            w.WriteStartObject("host_counters");
            w.WriteString("snapshot", r.Host.Snapshot);
            w.WriteString("note", r.Host.Note);
            w.WriteNumber("compared", r.Host.Compared);
            w.WriteNumber("equal", r.Host.Equal);
            Rules(w, "differ", r.Host.Differ);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        o.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static void Rules(Utf8JsonWriter w, string name, IReadOnlyList<RuleUsage> rules)
    {
        w.WriteStartArray(name);
        foreach (var x in rules)
        {
            w.WriteStartObject();
            w.WriteNumber("id", x.Id);
            w.WriteString("name", x.Name);
            w.WriteString("family", x.Family);
            w.WriteString("table", x.Table);
            w.WriteString("chain", x.Chain);
            w.WriteNumber("position", x.Position);
            w.WriteBoolean("is_policy", x.IsPolicy);
            w.WriteString("text", x.Text);
            w.WriteNumber("packets", x.Packets);
            w.WriteNumber("bytes", x.Bytes);
            w.WriteNumber("dropped", x.Dropped);
            Nullable(w, "reached", x.Reached);
            Nullable(w, "matched", x.Matched);
            Nullable(w, "host_packets", x.HostPackets);
            Nullable(w, "host_bytes", x.HostBytes);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void Nullable(Utf8JsonWriter w, string name, long? v)
    {
        if (v is { } x)
            w.WriteNumber(name, x);
        else
            w.WriteNull(name);
    }
}
