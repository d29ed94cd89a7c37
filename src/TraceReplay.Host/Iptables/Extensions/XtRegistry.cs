using System.Reflection;

namespace TraceReplay.Host.Iptables.Extensions;

/// <summary>
/// Every match and target extension this build knows, by name — the userspace side of x_tables'
/// xt_find_match / xt_find_target. Extensions are discovered from their attributes, so adding a
/// module is adding one file.
/// </summary>
public static class XtRegistry
{
    private sealed record Entry(Type Type, IptFamily Family);

    private static readonly Lazy<(Dictionary<string, List<Entry>> Matches, Dictionary<string, List<Entry>> Targets)> Tables = new(Discover);

    private static (Dictionary<string, List<Entry>>, Dictionary<string, List<Entry>>) Discover()
    {
        var matches = new Dictionary<string, List<Entry>>(StringComparer.Ordinal);
        var targets = new Dictionary<string, List<Entry>>(StringComparer.Ordinal);
        foreach (var type in typeof(XtRegistry).Assembly.GetTypes())
        {
            foreach (var a in type.GetCustomAttributes<XtMatchAttribute>())
                Add(matches, a.Name, new Entry(type, a.Family));
            foreach (var a in type.GetCustomAttributes<XtTargetAttribute>())
                Add(targets, a.Name, new Entry(type, a.Family));
        }
        return (matches, targets);
    }

    private static void Add(Dictionary<string, List<Entry>> into, string name, Entry e)
    {
        if (!into.TryGetValue(name, out var list))
            into[name] = list = [];
        list.Add(e);
    }

    private static Type? Find(Dictionary<string, List<Entry>> table, string name, IptFamily family)
    {
        if (!table.TryGetValue(name, out var list))
            return null;
        // A family-specific extension (libipt_/libip6t_) wins over a libxt_ one of the same name.
        return (list.Find(e => e.Family == family) ?? list.Find(e => (byte)e.Family == 255))?.Type;
    }

    public static XtMatch? CreateMatch(string name, IptFamily family) =>
        Find(Tables.Value.Matches, name, family) is { } t ? (XtMatch)Activator.CreateInstance(t)! : null;

    public static XtTarget? CreateTarget(string name, IptFamily family) =>
        Find(Tables.Value.Targets, name, family) is { } t ? (XtTarget)Activator.CreateInstance(t)! : null;

    public static IEnumerable<string> MatchNames => Tables.Value.Matches.Keys.Order(StringComparer.Ordinal);

    public static IEnumerable<string> TargetNames => Tables.Value.Targets.Keys.Order(StringComparer.Ordinal);
}
