using System.Text.Json;
using TraceReplay.Capture.Decode;

namespace TraceReplay.Capture.Points;

/// <summary>An interface of the captured host, as `ip -j -d link` describes it.</summary>
public sealed record HostInterface(int IfIndex, string Name, MacAddr? Mac, string? Master, string? Kind);

/// <summary>
/// The host's interfaces by index and name, from the snapshot's link.json. Captures need it to name
/// SLL2 interface indexes and to tell an Ethernet frame's direction by its source MAC.
/// </summary>
public sealed class InterfaceTable
{
    private readonly Dictionary<int, HostInterface> _byIndex = [];
    private readonly Dictionary<string, HostInterface> _byName = new(StringComparer.Ordinal);

    public static InterfaceTable Empty { get; } = new([]);

    public InterfaceTable(IEnumerable<HostInterface> interfaces)
    {
        ArgumentNullException.ThrowIfNull(interfaces);
        foreach (var i in interfaces)
        {
            _byIndex[i.IfIndex] = i;
            _byName[i.Name] = i;
        }
    }

    public IReadOnlyCollection<HostInterface> All => _byIndex.Values;

    public HostInterface? ByIndex(int ifIndex) => _byIndex.GetValueOrDefault(ifIndex);

    public HostInterface? ByName(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Reads `ip -j -d link` output.</summary>
    /// <exception cref="InvalidDataException">The file is not that JSON; the message names the file and line.</exception>
    public static InterfaceTable Load(string path)
    {
        string text = File.ReadAllText(path);
        return Parse(text, path);
    }

    public static InterfaceTable Parse(string json, string source)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: line {(e.LineNumber ?? 0) + 1}: not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{source}: expected the array `ip -j -d link` prints, found a JSON {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}");
            var list = new List<HostInterface>();
            int position = 0;
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                position++;
                if (e.ValueKind != JsonValueKind.Object
                    || !e.TryGetProperty("ifindex", out var idx) || idx.ValueKind != JsonValueKind.Number || !idx.TryGetInt32(out int ifIndex)
                    || !e.TryGetProperty("ifname", out var name) || name.ValueKind != JsonValueKind.String)
                {
                    throw new InvalidDataException($"{source}: interface #{position}: needs a numeric \"ifindex\" and a string \"ifname\"");
                }
                MacAddr? mac = null;
                if (e.TryGetProperty("address", out var address) && address.ValueKind == JsonValueKind.String
                    && MacAddr.TryParse(address.GetString(), out var parsed))
                {
                    mac = parsed;
                }
                string? master = e.TryGetProperty("master", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                string? kind = e.TryGetProperty("linkinfo", out var li) && li.ValueKind == JsonValueKind.Object
                    && li.TryGetProperty("info_kind", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null;
                list.Add(new HostInterface(ifIndex, name.GetString()!, mac, master, kind));
            }
            return new InterfaceTable(list);
        }
    }
}
