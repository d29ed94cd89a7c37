namespace TraceReplay.Netfilter.Hooks;

/// <summary>
/// What a lookup by device name gave, remembered by reference for the last eight names: capture points
/// and routes hand the same string instances packet after packet, so a reference compare saves the
/// name's hash and dictionary lookup (a docker host's bridged and routed packets name more than two
/// devices, which thrashed a two-entry memo). A miss asks <paramref name="lookup"/>, which must depend
/// on the name alone.
/// </summary>
internal sealed class NfNameMemo<T>(Func<string, T> lookup)
{
    private readonly string?[] _names = new string?[8];
    private readonly T[] _values = new T[8];
    private int _next;

    public T this[string name]
    {
        get
        {
            var names = _names;
            for (int i = 0; i < names.Length; i++)
            {
                if (ReferenceEquals(names[i], name))
                    return _values[i];
            }
            T value = lookup(name);
            _names[_next] = name;
            _values[_next] = value;
            _next = (_next + 1) & (names.Length - 1);
            return value;
        }
    }
}
