using System.CommandLine;
using System.Text.Json;
using TraceReplay.Host;
using TraceReplay.Host.Iptables;

namespace TraceReplay.Cli.Commands;

/// <summary>`tracereplay rules check|show`: validate a snapshot's rule files as the kernel would at load time, and print them canonically.</summary>
internal static class RulesCommand
{
    public static Command Create()
    {
        var rules = new Command("rules", "Rule sets of a host snapshot: check them as the kernel would at load time, or print them in canonical form.");
        rules.Subcommands.Add(CreateCheck());
        rules.Subcommands.Add(CreateShow());
        rules.Subcommands.Add(RulesUsageCommand.Create());
        return rules;
    }

    private static Argument<string[]> Paths() => new("PATH")
    {
        Arity = ArgumentArity.OneOrMore,
        Description = "A snapshot folder (its iptables.rules, ip6tables.rules, ebtables.rules, ipset.save) or rule files (iptables-save, ip6tables-save, ebtables-save, ipset save output, or iptables-restore input).",
    };

    private static Option<bool> Strict() => new("--strict") { Description = "Treat a module or target this build does not know as an error, not a warning." };

    private static Command CreateCheck()
    {
        var paths = Paths();
        var json = CommonOptions.Json();
        var strict = Strict();
        var command = new Command("check", "Validate rule files as iptables-restore and the kernel would: jumps to missing chains, targets outside their table or chain, loops, missing sets. Summarises tables, chains, rules and modules. Exit code 1 when anything would be refused.")
        {
            paths, json, strict,
        };
        command.SetAction((parse, _) =>
        {
            var reports = LoadAll(parse.GetValue(paths)!, parse.GetValue(strict));
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
                WriteJson(output, reports);
            else
                WriteText(output, reports);
            return Task.FromResult(reports.Any(r => r.Problems.Count > 0) ? ExitCodes.BadInput : ExitCodes.Success);
        });
        return command;
    }

    private static Command CreateShow()
    {
        var paths = Paths();
        var counters = new Option<bool>("--counters") { Description = "Print [packets:bytes] counters as iptables-save -c does." };
        var strict = Strict();
        var command = new Command("show", "Print rule files in canonical iptables-save form (what the simulator will run).") { paths, counters, strict };
        command.SetAction((parse, _) =>
        {
            var output = parse.InvocationConfiguration.Output;
            foreach (var (path, kind, text) in Files(parse.GetValue(paths)!))
            {
                switch (kind)
                {
                    case RuleFileKind.Iptables or RuleFileKind.Ip6tables:
                        var rs = IptablesParser.Parse(text, path, kind == RuleFileKind.Ip6tables ? IptFamily.IPv6 : IptFamily.IPv4, parse.GetValue(strict));
                        foreach (var w in rs.Warnings)
                            parse.InvocationConfiguration.Error.WriteLine(w.ToString());
                        output.Write(IptablesPrinter.Print(rs, parse.GetValue(counters)));
                        break;
                    case RuleFileKind.Ebtables:
                        var eb = TraceReplay.Host.Ebtables.EbtablesParser.Parse(text, path, parse.GetValue(strict));
                        foreach (var w in eb.Warnings)
                            parse.InvocationConfiguration.Error.WriteLine(w.ToString());
                        output.Write(TraceReplay.Host.Ebtables.EbtablesPrinter.Print(eb));
                        break;
                    default:
                        var sets = TraceReplay.Host.Ipset.IpsetRegistry.Parse(text, path);
                        foreach (var w in sets.Warnings)
                            parse.InvocationConfiguration.Error.WriteLine(w.ToString());
                        output.Write(sets.Save());
                        break;
                }
            }
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    /// <summary>The files to read: a folder gives its snapshot rule files that exist; a file is taken as it is.</summary>
    private static List<(string Path, RuleFileKind Kind, string Text)> Files(IEnumerable<string> paths)
    {
        var files = new List<(string, RuleFileKind, string)>();
        foreach (var p in paths)
        {
            if (Directory.Exists(p))
            {
                int before = files.Count;
                foreach (var (file, kind) in RuleFiles.SnapshotFiles)
                {
                    string f = Path.Combine(p, file);
                    if (File.Exists(f))
                        files.Add((f, kind, File.ReadAllText(f)));
                }
                if (files.Count == before)
                    throw new UsageException($"{p}: no rule files in this folder (looked for {string.Join(", ", RuleFiles.SnapshotFiles.Select(s => s.File))})");
            }
            else if (File.Exists(p))
            {
                string text = File.ReadAllText(p);
                files.Add((p, RuleFiles.Detect(p, text), text));
            }
            else
            {
                throw new UsageException($"{p}: no such file or folder");
            }
        }
        return files;
    }

    /// <summary>
    /// Parses every file, then checks them: `-m set` / `-j SET` names are looked up in the ipset file
    /// given alongside (a folder's ipset.save); without one, set names are not checked.
    /// </summary>
    private static List<RuleFileReport> LoadAll(IEnumerable<string> paths, bool strict)
    {
        var files = Files(paths);
        var reports = new RuleFileReport?[files.Count];
        TraceReplay.Host.Ipset.IpsetRegistry? sets = null;
        for (int i = 0; i < files.Count; i++)
        {
            var (path, kind, text) = files[i];
            if (kind == RuleFileKind.Ipset)
            {
                var registry = TraceReplay.Host.Ipset.IpsetRegistry.Parse(text, path);
                sets ??= registry;
                reports[i] = RuleFiles.Report(path, registry);
            }
        }
        for (int i = 0; i < files.Count; i++)
        {
            var (path, kind, text) = files[i];
            switch (kind)
            {
                case RuleFileKind.Iptables or RuleFileKind.Ip6tables:
                    var rs = IptablesParser.Parse(text, path, kind == RuleFileKind.Ip6tables ? IptFamily.IPv6 : IptFamily.IPv4, strict);
                    var known = sets;
                    Func<string, bool>? setExists = known is null ? null : name => known.TryGet(name, out _);
                    reports[i] = RuleFiles.Report(path, rs, setExists);
                    break;
                case RuleFileKind.Ebtables:
                    reports[i] = RuleFiles.Report(path, TraceReplay.Host.Ebtables.EbtablesParser.Parse(text, path, strict));
                    break;
                default:
                    break;
            }
        }
        return [.. reports.Select(r => r!)];
    }

    private static void WriteText(TextWriter o, List<RuleFileReport> reports)
    {
        foreach (var r in reports)
        {
            if (r.Sets is { } sets)
            {
                o.WriteLine($"{r.Path} (ipset): {Plural(sets.Count, "set")}, {Plural(sets.Sum(s => s.Entries), "entry", "entries")}");
                foreach (var s in sets)
                    o.WriteLine($"  {s.Name,-24} {s.Type,-18} {(s.IsV6 ? "inet6" : "inet"),-6} {s.Entries,8} entries");
                WriteWarnings(o, r.Warnings);
                o.WriteLine();
                continue;
            }
            o.WriteLine($"{r.Path} ({Kind(r.Kind)}): {Plural(r.Tables.Count, "table")}, {Plural(r.Tables.Sum(t => t.Chains), "chain")}, {Plural(r.Rules, "rule")}");
            foreach (var t in r.Tables)
                o.WriteLine($"  {t.Name,-10} {t.Chains,5} chains {t.Rules,7} rules");
            o.WriteLine("  matches:     " + (r.Matches.Count == 0 ? "-" : string.Join(", ", r.Matches.Select(m => $"{m.Key} {m.Value}"))));
            o.WriteLine("  targets:     " + (r.Targets.Count == 0 ? "-" : string.Join(", ", r.Targets.Select(m => $"{m.Key} {m.Value}"))));
            o.WriteLine("  unsupported: " + (r.Unsupported.Count == 0 ? "none" : string.Join(", ", r.Unsupported) + " (kept, evaluated as unknown)"));
            WriteWarnings(o, r.Warnings);
            if (r.Problems.Count == 0)
            {
                o.WriteLine("  check:       ok (the kernel would load it)");
            }
            else
            {
                o.WriteLine($"  check:       {r.Problems.Count} problem{(r.Problems.Count == 1 ? string.Empty : "s")} the kernel would refuse:");
                foreach (var p in r.Problems)
                    o.WriteLine("    " + p);
            }
            o.WriteLine();
        }
    }

    /// <summary>
    /// Warnings in file order; the same message repeated (an anonymised dump warns on every rule) is
    /// shown three times and then counted, so the rest of the report stays readable. --json lists all.
    /// </summary>
    private static void WriteWarnings(TextWriter o, IReadOnlyList<TraceReplay.Host.Parsing.ParseWarning> warnings)
    {
        const int Shown = 3;
        var counts = warnings.GroupBy(w => w.Message).ToDictionary(g => g.Key, g => g.Count());
        var printed = new Dictionary<string, int>();
        foreach (var w in warnings)
        {
            int n = printed[w.Message] = printed.GetValueOrDefault(w.Message) + 1;
            if (n <= Shown)
                o.WriteLine("  " + w);
            else if (n == Shown + 1)
                o.WriteLine($"  ... and {counts[w.Message] - Shown:N0} more warnings like the last one (--json lists them all)");
        }
    }

    private static string Plural(int n, string one, string? many = null) => $"{n:N0} {(n == 1 ? one : many ?? one + "s")}";

    private static string Kind(RuleFileKind k) => k switch
    {
        RuleFileKind.Iptables => "iptables",
        RuleFileKind.Ip6tables => "ip6tables",
        RuleFileKind.Ebtables => "ebtables",
        _ => "ipset",
    };

    private static void WriteJson(TextWriter output, List<RuleFileReport> reports)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteBoolean("ok", reports.All(r => r.Problems.Count == 0));
            w.WriteStartArray("files");
            foreach (var r in reports)
            {
                w.WriteStartObject();
                w.WriteString("path", r.Path);
                w.WriteString("kind", Kind(r.Kind));
                w.WriteNumber("rules", r.Rules);
                w.WriteStartArray("tables");
                foreach (var t in r.Tables)
                {
                    w.WriteStartObject();
                    w.WriteString("name", t.Name);
                    w.WriteNumber("chains", t.Chains);
                    w.WriteNumber("rules", t.Rules);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                if (r.Sets is { } sets)
                {
                    w.WriteStartArray("sets");
                    foreach (var s in sets)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", s.Name);
                        w.WriteString("type", s.Type);
                        w.WriteString("family", s.IsV6 ? "inet6" : "inet");
                        w.WriteNumber("entries", s.Entries);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }
                Counts(w, "matches", r.Matches);
                Counts(w, "targets", r.Targets);
                w.WriteStartArray("unsupported");
                foreach (var u in r.Unsupported)
                    w.WriteStringValue(u);
                w.WriteEndArray();
                w.WriteStartArray("warnings");
                foreach (var x in r.Warnings)
                {
                    w.WriteStartObject();
                    w.WriteString("file", x.Location.File);
                    w.WriteNumber("line", x.Location.Line);
                    w.WriteNumber("column", x.Location.Column);
                    w.WriteString("message", x.Message);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteStartArray("problems");
                foreach (var p in r.Problems)
                {
                    w.WriteStartObject();
                    w.WriteString("file", p.Location.File);
                    w.WriteNumber("line", p.Location.Line);
                    w.WriteNumber("column", p.Location.Column);
                    w.WriteString("table", p.Table);
                    w.WriteString("chain", p.Chain);
                    w.WriteString("message", p.Message);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static void Counts(Utf8JsonWriter w, string name, IReadOnlyDictionary<string, int> counts)
    {
        w.WriteStartObject(name);
        foreach (var (k, v) in counts)
            w.WriteNumber(k, v);
        w.WriteEndObject();
    }
}
