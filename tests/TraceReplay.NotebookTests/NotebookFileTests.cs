using System.Text.Json.Nodes;

namespace TraceReplay.NotebookTests;

/// <summary>
/// The committed .ipynb files as Jupyter and VS Code read them (nbformat 4.5): C# only, a parameters
/// cell first, every cell with an id, and saved without outputs so diffs show changes to the analysis,
/// not to its last results.
/// </summary>
public sealed class NotebookFileTests
{
    public static TheoryData<string> Notebooks()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(Path.Combine(Repo.Root, "notebooks"), "*.ipynb").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void IsACleanCSharpNotebookWithAParametersCell(string name)
    {
        var nb = JsonNode.Parse(File.ReadAllText(Repo.Notebook(name)))!.AsObject();
        Assert.Equal(4, (int)nb["nbformat"]!);
        Assert.True((int)nb["nbformat_minor"]! >= 5, "nbformat 4.5 or later: cells carry ids");
        Assert.Equal(".net-csharp", (string?)nb["metadata"]!["kernelspec"]!["name"]);
        Assert.Equal("csharp", (string?)nb["metadata"]!["polyglot_notebook"]!["kernelInfo"]!["defaultKernelName"]);

        var cells = nb["cells"]!.AsArray().Select(c => c!.AsObject()).ToList();
        var ids = cells.Select(c => (string?)c["id"]).ToList();
        Assert.All(ids, id => Assert.False(string.IsNullOrEmpty(id)));
        Assert.Equal(ids.Count, ids.Distinct().Count());

        // Opens with prose saying what it answers, then the parameters.
        Assert.Equal("markdown", (string?)cells[0]["cell_type"]);
        var code = cells.Where(c => (string?)c["cell_type"] == "code").ToList();
        var parameters = code[0];
        Assert.Contains("parameters", parameters["metadata"]!["tags"]!.AsArray().Select(t => (string?)t));
        Assert.Contains("string? RunDb = null;", Source(parameters), StringComparison.Ordinal);

        foreach (var c in code)
        {
            Assert.Equal("csharp", (string?)c["metadata"]!["polyglot_notebook"]!["kernelName"]);
            Assert.Empty(c["outputs"]!.AsArray());
            Assert.Null(c["execution_count"]);
        }
    }

    private static string Source(JsonObject cell) => cell["source"] switch
    {
        JsonArray lines => string.Concat(lines.Select(l => (string?)l)),
        var s => (string?)s ?? "",
    };
}
