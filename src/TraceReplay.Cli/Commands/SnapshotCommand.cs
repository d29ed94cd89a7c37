using System.CommandLine;
using TraceReplay.Host.Snapshot;

namespace TraceReplay.Cli.Commands;

/// <summary>`tracereplay snapshot --out DIR`: capture the live host's rules and network configuration in the folder layout of DESIGN.md.</summary>
internal static class SnapshotCommand
{
    public static Command Create()
    {
        var outDir = new Option<DirectoryInfo>("--out") { Required = true, Description = "The folder to write the snapshot into (created if missing)." };
        var netns = new Option<string?>("--netns") { Description = "Take the snapshot of a network namespace (ip netns exec NAME …) instead of the host's own." };
        var command = new Command("snapshot", "Write this host's rules (iptables-save -c, ip6tables-save -c, ebtables-save -c, ipset save), addresses, links, routes, policy rules, net.* sysctls, conntrack table and listening sockets into a snapshot folder. Missing tools are skipped and noted in snapshot.txt.")
        {
            outDir, netns,
        };
        command.SetAction((parse, _) =>
        {
            var dir = parse.GetValue(outDir)!;
            string? ns = parse.GetValue(netns);
            if (ns is not null && (ns.Length == 0 || ns.Contains('/', StringComparison.Ordinal)))
                throw new UsageException($"--netns '{ns}': not a namespace name");
            var results = SnapshotTaker.Take(dir.FullName, ns);
            var o = parse.InvocationConfiguration.Output;
            foreach (var r in results)
                o.WriteLine($"{(r.Written ? "wrote  " : "skipped")} {r.Item.File,-16} {(r.Written ? $"{r.Bytes,9:N0} bytes" : string.Empty),-15} {r.Item.CommandLine}{(r.Note == "ok" ? string.Empty : "  (" + r.Note + ")")}");
            o.WriteLine($"{results.Count(r => r.Written)} of {results.Count} files written to {dir.FullName}; notes in {SnapshotTaker.NotesFile}");
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }
}
