using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Host.Iptables;

/// <summary>
/// iptables' own extension test vectors: every OK line of a supported module must parse, pass the
/// load-time check and print exactly the expected save form; every FAIL line must be refused.
/// </summary>
public sealed class TestVectorTests(ITestOutputHelper output)
{
    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        if (Directory.Exists(IptablesTestVectors.Folder))
        {
            foreach (var f in Directory.EnumerateFiles(IptablesTestVectors.Folder, "*.t").Select(Path.GetFileName).Order(StringComparer.Ordinal))
            {
                if (IptablesTestVectors.FamilyOf(f!) is not null)
                    data.Add(f!);
            }
        }
        if (data.Count == 0)
            data.Add("(iptables test vectors absent)");
        return data;
    }

    /// <summary>The extension a vector file tests: libxt_tcp.t → match tcp; libxt_MARK.t → target MARK; *_standard.t and iptables.t → the core.</summary>
    public static (string Name, bool IsTarget)? ModuleOf(string file)
    {
        string stem = Path.GetFileNameWithoutExtension(file);
        if (stem == "iptables" || stem.EndsWith("_standard", StringComparison.Ordinal))
            return null;
        string name = stem[(stem.IndexOf('_', StringComparison.Ordinal) + 1)..];
        bool target = name.Any(char.IsAsciiLetterUpper) && name.All(c => !char.IsAsciiLetterLower(c));
        return (name, target);
    }

    public static bool Supported(string file)
    {
        var family = IptablesTestVectors.FamilyOf(file) ?? IptFamily.IPv4;
        if (ModuleOf(file) is not { } module)
            return true;
        return module.IsTarget ? XtRegistry.CreateTarget(module.Name, family) is not null : XtRegistry.CreateMatch(module.Name, family) is not null;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_line_of_a_supported_module_behaves_as_iptables(string file)
    {
        string folder = IptablesTestVectors.RequireFolder();
        if (!Supported(file))
            Assert.Skip($"{file}: module {ModuleOf(file)?.Name} is not implemented; its rules load as unknown");
        var results = IptablesTestVectors.Run(Path.Combine(folder, file));
        var failed = results.Where(r => !r.Passed).ToList();
        foreach (var f in failed)
            output.WriteLine($"{f.File}:{f.Line} [{f.Table}/{f.Chain}] {(f.ExpectOk ? "OK" : "FAIL")} '{f.Rule}' expected '{f.Expected}': {f.Detail}");
        Assert.True(results.Count > 0, file + " has no vector lines");
        Assert.Empty(failed.Select(f => $"{f.File}:{f.Line} {f.Chain} '{f.Rule}': {f.Detail}"));
    }
}
