using TraceReplay.Host.Ipset;
using TraceReplay.Host.Parsing;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Host.Ipset;

/// <summary>
/// ipset's own test data (ipset 7.21, see the corpus SOURCES.md): every file in save/restore form must
/// load, and what we print must load back to the same text.
/// </summary>
public sealed class IpsetCorpusTests
{
    internal static string Folder => Path.Combine(Corpus.External, "ipset", "tests");

    /// <summary>The files SOURCES.md lists as "ipset save/restore format".</summary>
    internal static readonly string[] SaveFormFiles =
    [
        "big_sort.saved", "iphash.t.large", "iphash.t.restore", "iphash.t.restore.old", "iphash.t.restore.sorted",
        "restore.t.destroy", "restore.t.multi", "restore.t.multi.saved", "restore.t.restore",
        "setlist.t.before", "setlist.t.restore",
    ];

    /// <summary>
    /// Files that are restore input only in combination with sets made by earlier steps of their .t
    /// script: restore.t.destroy destroys sets "a" and "b" that restore.t.restore made.
    /// </summary>
    private static readonly Dictionary<string, string> Prerequisites = new(StringComparer.Ordinal)
    {
        ["restore.t.destroy"] = "restore.t.restore",
    };

    internal static string? Prerequisite(string file) => Prerequisites.GetValueOrDefault(file);

    internal static string Require(string file)
    {
        string path = Path.Combine(Folder, file);
        if (!File.Exists(path))
            Assert.Skip($"ipset corpus not found at {Folder} (clone ../shared beside the repository to run this test)");
        return path;
    }

    public static TheoryData<string> Files() => [.. SaveFormFiles];

    internal static IpsetRegistry LoadWithPrerequisites(string file)
    {
        string path = Require(file);
        var registry = new IpsetRegistry();
        if (Prerequisites.TryGetValue(file, out var before))
            registry.Restore(File.ReadAllText(Require(before)), before);
        registry.Restore(File.ReadAllText(path), file);
        return registry;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_save_form_file_loads_and_round_trips(string file)
    {
        var registry = LoadWithPrerequisites(file);
        string printed = registry.Save();
        var again = IpsetRegistry.Parse(printed, file + " (printed)");
        Assert.Equal(printed, again.Save());
        Assert.Equal(
            registry.Sets.Select(s => (s.Name, s.Count)).OrderBy(s => s.Name, StringComparer.Ordinal),
            again.Sets.Select(s => (s.Name, s.Count)).OrderBy(s => s.Name, StringComparer.Ordinal));
    }
}
