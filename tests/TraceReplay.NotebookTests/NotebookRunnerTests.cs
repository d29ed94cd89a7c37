using System.Text.Json.Nodes;

namespace TraceReplay.NotebookTests;

/// <summary>
/// The runner itself: a notebook test is only worth something if a failing cell fails it. Small
/// notebooks written here in the Polyglot .ipynb form (cell metadata as VS Code writes it).
/// </summary>
public sealed class NotebookRunnerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-nbrunner-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Notebook(params (string Kind, string Source)[] cells)
    {
        var arr = new JsonArray();
        foreach (var (kind, source) in cells)
        {
            var cell = new JsonObject { ["cell_type"] = kind, ["metadata"] = new JsonObject(), ["source"] = source };
            if (kind == "code")
            {
                cell["metadata"] = new JsonObject { ["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" } };
                cell["execution_count"] = null;
                cell["outputs"] = new JsonArray();
            }
            arr.Add(cell);
        }
        var nb = new JsonObject
        {
            ["cells"] = arr,
            ["metadata"] = new JsonObject
            {
                ["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp" },
                ["polyglot_notebook"] = new JsonObject { ["kernelInfo"] = new JsonObject { ["defaultKernelName"] = "csharp" } },
            },
            ["nbformat"] = 4,
            ["nbformat_minor"] = 5,
        };
        string path = Path.Combine(_dir, "t.ipynb");
        File.WriteAllText(path, nb.ToJsonString());
        return path;
    }

    [Fact]
    public async Task CellsShareStateAndTheParametersOverrideFollowsTheFirstCodeCell()
    {
        string path = Notebook(("markdown", "# title"), ("code", "int X = 1;"), ("code", "Console.Write(X * 10);"), ("code", "X + 1"));
        var cells = await NotebookRunner.RunAsync(path, "X = 4;", TestContext.Current.CancellationToken);
        Assert.All(cells, c => Assert.Null(c.Error));
        // The override replaced the parameter before the next cell, as typing it into the first cell would.
        Assert.Equal("40", cells.Single(c => c.Index == 3).StandardOutput);
        Assert.Contains("5", cells.Single(c => c.Index == 4).Displayed.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AThrowingCellIsReportedAndStopsTheRun()
    {
        string path = Notebook(("code", "int X = 1;"), ("code", "throw new InvalidOperationException(\"boom\");"), ("code", "Console.Write(\"never\");"));
        var cells = await NotebookRunner.RunAsync(path, "", TestContext.Current.CancellationToken);
        var failed = Assert.Single(cells, c => c.Error is not null);
        Assert.Equal(2, failed.Index);
        Assert.Contains("boom", failed.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(cells, c => c.Index == 3);
    }

    [Fact]
    public async Task ACellThatDoesNotCompileIsReported()
    {
        string path = Notebook(("code", "int X = 1;"), ("code", "X = \"not an int\";"));
        var cells = await NotebookRunner.RunAsync(path, "", TestContext.Current.CancellationToken);
        var failed = Assert.Single(cells, c => c.Error is not null);
        Assert.Contains("CS0029", failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AParameterOverrideThatFailsStopsTheRun()
    {
        string path = Notebook(("code", "int X = 1;"), ("code", "Console.Write(X);"));
        var cells = await NotebookRunner.RunAsync(path, "Y = 2;", TestContext.Current.CancellationToken);
        var failed = Assert.Single(cells, c => c.Error is not null);
        Assert.StartsWith("parameter override: ", failed.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(cells, c => c.Index == 2);
    }
}
