using System.CommandLine;
using System.Globalization;
using System.Text;
using TraceReplay.Host.Ebtables;
using TraceReplay.Host.Iptables;
using TraceReplay.Store;

namespace TraceReplay.Cli.Commands;

/// <summary>
/// `tracereplay counters RUN [--family ipv4|ipv6|bridge]`: the run's rule set with the simulated
/// counters, exactly as `iptables-save -c` (`ip6tables-save -c`, `ebtables-save -c`) prints it, so
/// it loads with `iptables-restore -c` and compares line for line with the host's own dump. The
/// rules table is read back into the rule model (through the same parser as a snapshot) and
/// printed by the host's printers, so the form is the one `rules show` and `replay --counters` use.
/// </summary>
internal static class CountersCommand
{
    public static Command Create()
    {
        var run = RunArgument.Create();
        var family = new Option<string>("--family") { DefaultValueFactory = _ => "ipv4", Description = "ipv4 (iptables-save -c), ipv6 (ip6tables-save -c) or bridge (ebtables-save -c)." };
        family.AcceptOnlyFromAmong("ipv4", "ipv6", "bridge");
        var command = new Command("counters", "Print the run's rules with the simulated counters, as iptables-save -c (ip6tables-save -c, ebtables-save -c with --family).") { run, family };
        command.SetAction((parse, _) =>
        {
            string path = parse.GetValue(run)!;
            using var reader = RunArgument.Open(path);
            var fam = parse.GetValue(family) switch { "ipv6" => RunFamily.Ipv6, "bridge" => RunFamily.Bridge, _ => RunFamily.Ipv4 };
            var rows = reader.Rules(fam);
            if (rows.Count == 0)
            {
                parse.InvocationConfiguration.Error.WriteLine($"note: {path}: the run has no {Tool(fam)} rules (the snapshot had none of that family)");
                return Task.FromResult(ExitCodes.Success);
            }
            parse.InvocationConfiguration.Output.Write(Print(rows, fam, $"{path} (rules, {RunFamilyName(fam)})"));
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    /// <summary>The save-file form of one family's rows: rebuilt as a restore file, parsed into the model, printed with counters.</summary>
    internal static string Print(IReadOnlyList<RunRule> rows, RunFamily family, string source) =>
        family == RunFamily.Bridge
            ? PrintEbtables(rows, source)
            : IptablesPrinter.Print(IptablesParser.Parse(RestoreText(rows), source, family == RunFamily.Ipv6 ? IptFamily.IPv6 : IptFamily.IPv4), counters: true);

    /// <summary>iptables-restore -c input: per table the chains' lines with their counters, the rules with theirs.</summary>
    private static string RestoreText(IReadOnlyList<RunRule> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        foreach (var table in rows.GroupBy(r => r.Table))
        {
            sb.Append('*').Append(table.Key).Append('\n');
            foreach (var c in table.Where(r => r.Position == 0))
                sb.Append(inv, $":{c.Chain} {(c.IsPolicy ? c.Text : "-")} [{c.Packets}:{c.Bytes}]\n");
            foreach (var r in table.Where(r => r.Position > 0))
                sb.Append(inv, $"[{r.Packets}:{r.Bytes}] -A {r.Chain}{(r.Text.Length > 0 ? " " : string.Empty)}{r.Text}\n");
            sb.Append("COMMIT\n");
        }
        return sb.ToString();
    }

    /// <summary>ebtables rows: position 0 is each chain's policy (ebtables gives user chains one too), text the rule after "-A CHAIN ".</summary>
    private static string PrintEbtables(IReadOnlyList<RunRule> rows, string source)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        foreach (var table in rows.GroupBy(r => r.Table))
        {
            sb.Append('*').Append(table.Key).Append('\n');
            foreach (var c in table.Where(r => r.Position == 0))
                sb.Append(inv, $":{c.Chain} {c.Text}\n");
            foreach (var r in table.Where(r => r.Position > 0))
                sb.Append(inv, $"[{r.Packets}:{r.Bytes}] -A {r.Chain} {r.Text}\n");
        }
        var rs = EbtablesParser.Parse(sb.ToString(), source);
        return EbtablesPrinter.Print(rs, new EbtSaveFormat(rs.NegationStyle, EbtCounterFormat.Bracket));
    }

    private static string Tool(RunFamily f) => f switch { RunFamily.Ipv6 => "ip6tables", RunFamily.Bridge => "ebtables", _ => "iptables" };

    private static string RunFamilyName(RunFamily f) => f switch { RunFamily.Ipv6 => "ipv6", RunFamily.Bridge => "bridge", _ => "ipv4" };
}
