using System.Runtime.InteropServices;
using TraceReplay.Capture.Decode;

namespace TraceReplay.Store;

/// <summary>
/// The ids of run_text: each distinct text of a <see cref="ColStorage.TextId"/> column (capture points,
/// paths, drop reasons) and each address of a <see cref="ColStorage.AddrKey"/> column gets the next id
/// once, and its (id, text) row goes out to run_text, so a packets row stores integers and
/// DuckDB never hashes, samples or compresses a string per row (README "The run database's cost").
/// Ids are dense from 0, as the views index a list of run_text's texts by id. Bounded like
/// <see cref="AddressText"/>: past <see cref="Limit"/> entries a lookup table starts over and a text
/// seen again gets a new id (run_text then holds it twice), so memory follows the working set.
/// </summary>
internal sealed class TextIds
{
    private const int Limit = 1 << 16;
    private readonly Dictionary<string, uint> _texts = new(StringComparer.Ordinal);
    private readonly Dictionary<IpAddr, uint> _addresses = [];
    private readonly List<(uint Id, string Text)> _pending = [];
    private uint _next;

    /// <summary>New (id, text) pairs not yet written to run_text.</summary>
    public bool HasPending => _pending.Count > 0;

    public uint Text(string s)
    {
        if (_texts.Count >= Limit && !_texts.ContainsKey(s))
            _texts.Clear();
        ref uint slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_texts, s, out bool exists);
        if (!exists)
            slot = Add(s);
        return slot;
    }

    /// <summary>The key of an address: the id of its text as IpAddr prints it (dotted IPv4, .NET's IPv6 form).</summary>
    public uint Key(IpAddr a)
    {
        if (_addresses.Count >= Limit && !_addresses.ContainsKey(a))
            _addresses.Clear();
        ref uint slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_addresses, a, out bool exists);
        if (!exists)
            slot = Add(a.ToString());
        return slot;
    }

    /// <summary>Hands the new pairs to <paramref name="write"/> in id order and forgets them.</summary>
    public void Drain(Action<uint, string> write)
    {
        foreach (var (id, text) in _pending)
            write(id, text);
        _pending.Clear();
    }

    private uint Add(string text)
    {
        uint id = _next++;
        _pending.Add((id, text));
        return id;
    }
}
