using System.Text;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Documents.Jupyter;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.PackageManagement;

namespace TraceReplay.NotebookTests;

/// <summary>What one code cell did: its source, what it displayed or returned, what it wrote, and its error.</summary>
public sealed record CellResult(int Index, string Code, IReadOnlyList<string> Displayed, string StandardOutput, string? Error);

/// <summary>
/// Runs a notebook's C# cells in order in one in-process .NET Interactive kernel, the way VS Code
/// Polyglot Notebooks ("Run All") would: same kernel, same <c>#r "nuget:…"</c> directive, state
/// carried from cell to cell. Markdown cells are skipped; a cell in another language is an error,
/// since the notebooks promise C# only.
/// </summary>
public static class NotebookRunner
{
    private static readonly System.Collections.Concurrent.ConcurrentBag<Kernel> Kept = [];

    /// <param name="parameters">
    /// C# statements submitted right after the notebook's parameters cell (the first code cell, tagged
    /// "parameters" as papermill does), e.g. <c>RunDb = @"/tmp/x.duckdb";</c>: what a user would type
    /// there, without editing the file.
    /// </param>
    public static async Task<IReadOnlyList<CellResult>> RunAsync(string path, string parameters, CancellationToken ct)
    {
        var kernels = new KernelInfoCollection { new("csharp", languageName: "C#", aliases: ["c#", "C#"]), new("markdown", languageName: "Markdown", aliases: ["md"]) };
        InteractiveDocument doc;
        await using (var s = File.OpenRead(path))
            doc = Notebook.Read(s, kernels);

        var kernel = new CSharpKernel()
            .UseNugetDirective((k, resolved) =>
            {
                // What dotnet-interactive's own host does: the restored packages' assemblies become
                // references of the script; native libraries are found through the probing paths the
                // restore registered.
                k.AddAssemblyReferences(resolved.SelectMany(r => r.AssemblyPaths));
                return Task.CompletedTask;
            })
            .UseKernelHelpers()
            .UseValueSharing();
        // Never disposed: native libraries of #r "nuget:" packages (libduckdb, libSkiaSharp) are found
        // through the kernel's resolver, and SkiaSharp's finalizers bind new P/Invokes after the
        // notebook has finished; with the resolver gone, that fails on the finalizer thread and
        // takes the test process down. A kernel per notebook, kept until the process ends.
        Kept.Add(kernel);
        var results = new List<CellResult>();
        int index = 0;
        bool parametersDone = false;
        foreach (var cell in doc.Elements)
        {
            index++;
            if (cell.KernelName is "markdown" or "md")
                continue;
            if (cell.KernelName is not ("csharp" or "C#" or "c#"))
                throw new InvalidDataException($"{path}: cell {index} is in '{cell.KernelName}', not C#");
            ct.ThrowIfCancellationRequested();
            var result = await kernel.SendAsync(new SubmitCode(cell.Contents), ct);
            var displayed = new List<string>();
            var stdout = new StringBuilder();
            string? error = null;
            foreach (var e in result.Events)
            {
                switch (e)
                {
                    case DisplayEvent d:
                        if (d is StandardOutputValueProduced)
                            stdout.Append(string.Concat(d.FormattedValues.Where(v => v.MimeType == "text/plain").Select(v => v.Value)));
                        else if (d is StandardErrorValueProduced)
                            stdout.Append(string.Concat(d.FormattedValues.Select(v => v.Value)));
                        else
                            displayed.Add(string.Join("\n", d.FormattedValues.Select(v => v.Value)));
                        break;
                    case CommandFailed f:
                        error = f.Message + (f.Exception is null ? "" : "\n" + f.Exception);
                        break;
                    case DiagnosticsProduced dp when dp.Diagnostics.Any(x => x.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error):
                        error ??= string.Join("\n", dp.Diagnostics.Select(x => x.ToString()));
                        break;
                }
            }
            results.Add(new CellResult(index, cell.Contents, displayed, stdout.ToString(), error));
            if (error is not null)
                break;
            if (!parametersDone)
            {
                parametersDone = true;
                var p = await kernel.SendAsync(new SubmitCode(parameters), ct);
                if (p.Events.OfType<CommandFailed>().FirstOrDefault() is { } failed)
                {
                    // Running on with the notebook's defaults would analyse some other run: stop.
                    results.Add(new CellResult(0, parameters, [], "", "parameter override: " + failed.Message));
                    break;
                }
            }
        }
        return results;
    }
}
