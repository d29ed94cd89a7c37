using System.Text;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Ipset;

/// <summary>
/// All sets of a host by name, in creation order — the kernel's per-netns ip_set_list array
/// (ip_set_core.c). Built from the snapshot's `ipset.save`; the simulator resolves `--match-set NAME`
/// once per rule with <see cref="TryGet"/> and calls <see cref="IpSet.Test(in SetKey, SetDirections, long)"/> per packet.
/// </summary>
public sealed class IpsetRegistry
{
    // Index order with holes: ip_set_create takes the first free index, so a set created after a
    // destroy takes the destroyed one's place in `ipset save` output.
    private readonly List<IpSet?> _sets = [];
    private readonly Dictionary<string, IpSet> _byName = new(StringComparer.Ordinal);
    private readonly List<ParseWarning> _warnings = [];
    private long _snapshotTimeUs;

    public IReadOnlyList<IpSet> Sets => [.. _sets.Where(s => s is not null).Select(s => s!)];

    public IReadOnlyList<ParseWarning> Warnings => _warnings;

    public IpSet this[string name] => _byName.TryGetValue(name, out var s) ? s : throw new KeyNotFoundException($"no ipset named '{name}'");

    /// <summary>When the snapshot was taken (UTC µs on the capture clock); entry timeouts count from here.</summary>
    public long SnapshotTimeUs
    {
        get => _snapshotTimeUs;
        set
        {
            _snapshotTimeUs = value;
            foreach (var s in _byName.Values)
                s.SnapshotTimeUs = value;
        }
    }

    public bool TryGet(string name, out IpSet set) => _byName.TryGetValue(name, out set!);

    /// <summary>Reads a snapshot's `ipset.save` (or any `ipset restore` input).</summary>
    /// <param name="exist">As `ipset -exist restore`: re-adding an element or re-creating a set is not an error.</param>
    public static IpsetRegistry Load(string path, bool exist = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        var registry = new IpsetRegistry();
        using var reader = new StreamReader(path, Encoding.UTF8);
        new IpsetParser(registry, path, exist).Parse(reader);
        return registry;
    }

    public static IpsetRegistry Parse(string text, string fileName, bool exist = false)
    {
        var registry = new IpsetRegistry();
        registry.Restore(text, fileName, exist);
        return registry;
    }

    /// <summary>Applies more `ipset restore` input to these sets, as a second `ipset restore` would.</summary>
    public void Restore(string text, string fileName, bool exist = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(fileName);
        using var reader = new StringReader(text);
        new IpsetParser(this, fileName, exist).Parse(reader);
    }

    /// <summary>The sets in `ipset save` form.</summary>
    public string Save()
    {
        var sb = new StringBuilder();
        using var w = new StringWriter(sb, System.Globalization.CultureInfo.InvariantCulture) { NewLine = "\n" };
        IpsetPrinter.Save(this, w);
        return sb.ToString();
    }

    internal void AddWarning(ParseWarning warning) => _warnings.Add(warning);

    internal void AddSet(IpSet set)
    {
        set.SnapshotTimeUs = _snapshotTimeUs;
        int free = _sets.IndexOf(null);
        if (free < 0)
            _sets.Add(set);
        else
            _sets[free] = set;
        _byName.Add(set.Name, set);
    }

    internal void Remove(IpSet set)
    {
        _sets[_sets.IndexOf(set)] = null;
        _byName.Remove(set.Name);
    }

    internal bool IsReferenced(IpSet set) =>
        _byName.Values.Any(l => l.Type.Method == IpsetMethod.List && l.Members.Exists(e => e.Member == set));

    internal void Rename(IpSet set, string name)
    {
        _byName.Remove(set.Name);
        set.Name = name;
        _byName.Add(name, set);
    }

    /// <summary>
    /// ip_set_swap exchanges the two sets' places and names, so whatever referred to a name (a
    /// list:set member, an iptables rule) now sees the other set's contents.
    /// </summary>
    internal void Swap(IpSet a, IpSet b)
    {
        int ia = _sets.IndexOf(a), ib = _sets.IndexOf(b);
        (_sets[ia], _sets[ib]) = (b, a);
        (a.Name, b.Name) = (b.Name, a.Name);
        _byName[a.Name] = a;
        _byName[b.Name] = b;
        foreach (var l in _byName.Values)
        {
            if (l.Type.Method != IpsetMethod.List)
                continue;
            foreach (var e in l.Members)
                e.Member = e.Member == a ? b : e.Member == b ? a : e.Member;
        }
    }
}
