using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace TraceReplay.Cli.Commands;

/// <summary>`tracereplay fidelity RUN [--json]`: observed egress against the simulation's prediction, as `replay` printed it (issue 6).</summary>
internal static class FidelityCommand
{
    public static Command Create()
    {
        var run = RunArgument.Create();
        var json = CommonOptions.Json();
        var command = new Command("fidelity", "How much of what the capture saw leaving the host the simulation explains: explained, unexplained, predicted egress never seen, NAT differences (port choice apart), with packets to trace.")
        {
            run, json,
        };
        command.SetAction((parse, _) =>
        {
            string path = parse.GetValue(run)!;
            using var db = RunArgument.Open(path);
            var rows = db.Fidelity();
            if (rows.Count == 0)
                throw new InvalidDataException($"{path}: no fidelity table (the run was made before the fidelity check; replay it again with --out)");
            var o = parse.InvocationConfiguration.Output;
            long Get(string m) => rows.FirstOrDefault(r => r.Metric == m)?.Packets ?? 0;
            long observed = Get("observed_egress"), explained = Get("explained");
            if (parse.GetValue(json))
            {
                var doc = new Dictionary<string, object?>
                {
                    ["run"] = path,
                    ["explained_share"] = observed == 0 ? 1.0 : (double)explained / observed,
                };
                foreach (var r in rows)
                    doc[r.Metric] = r.Packets;
                doc["examples"] = rows.Where(r => r.Detail is not null).ToDictionary(r => r.Metric, r => r.Detail!.Split(" | "));
                o.WriteLine(JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
                return Task.FromResult(ExitCodes.Success);
            }
            string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
            double share = observed == 0 ? 100 : 100.0 * explained / observed;
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Fidelity of {path}: {N(explained)} of {N(observed)} packets seen leaving the host explained ({share:0.###}%)"));
            foreach (var r in rows.Skip(1))
            {
                o.WriteLine($"  {N(r.Packets),7}  {r.Metric}");
                foreach (var d in (r.Detail ?? string.Empty).Split(" | ", StringSplitOptions.RemoveEmptyEntries))
                    o.WriteLine("           e.g. packet " + d);
            }
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }
}
