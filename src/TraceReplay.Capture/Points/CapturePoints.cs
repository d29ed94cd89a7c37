using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Readers;

namespace TraceReplay.Capture.Points;

/// <summary>
/// Names the interface and direction of every captured frame, in this order of authority:
/// the `IFACE=FILE` binding; the pcapng interface's if_name; the SLL2 interface index through
/// link.json. Direction: pcapng EPB flags; the SLL/SLL2/NFLOG packet type (4 = outgoing); for plain
/// Ethernet, a source MAC equal to the interface's own MAC (from link.json) means outgoing.
/// Interface names are interned once: per packet this is table look-ups, no allocation.
/// </summary>
public sealed class CapturePoints
{
    /// <summary>Point id 0: the interface is not known.</summary>
    public const int Unknown = 0;

    private readonly InterfaceTable _host;
    private readonly List<string> _names = ["?"];
    private readonly List<MacAddr?> _macs = [null];
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<int, int> _byIfIndex = [];
    private readonly int[] _bound;
    private readonly List<int>[] _pcapngInterfaces;

    public CapturePoints(IReadOnlyList<CaptureSource> sources, InterfaceTable host)
    {
        ArgumentNullException.ThrowIfNull(sources);
        _host = host ?? InterfaceTable.Empty;
        _bound = new int[sources.Count];
        _pcapngInterfaces = new List<int>[sources.Count];
        for (int i = 0; i < sources.Count; i++)
        {
            _bound[i] = sources[i].Interface is { } name ? Intern(name) : -1;
            _pcapngInterfaces[i] = [];
        }
    }

    public IReadOnlyList<string> Names => _names;

    public string Name(int point) => _names[point];

    /// <summary>Resolves the capture point of the current record of source <paramref name="source"/>.</summary>
    public int Resolve(int source, CaptureReader reader, in CaptureRecord record, in DecodedPacket packet, out PacketDirection direction)
    {
        int point = _bound[source];
        if (point < 0)
        {
            if (reader.Format == CaptureFormat.PcapNg)
                point = PcapNgPoint(source, reader, record.InterfaceIndex);
            if (point <= Unknown && packet.LinkType == LinkType.LinuxSll2 && packet.LinkIfIndex != 0)
                point = IfIndexPoint(packet.LinkIfIndex);
            if (point < 0)
                point = Unknown;
        }

        direction = record.Direction;
        if (direction == PacketDirection.Unknown)
        {
            if (packet.LinkPacketType <= 4)
                direction = packet.LinkPacketType == 4 ? PacketDirection.Outgoing : PacketDirection.Incoming;
            else if (packet.LinkType == LinkType.Ethernet && _macs[point] is { } own && (packet.Layers & Layers.Link) != 0)
                direction = packet.SrcMac == own ? PacketDirection.Outgoing : PacketDirection.Incoming;
        }
        return point;
    }

    private int PcapNgPoint(int source, CaptureReader reader, int fileInterface)
    {
        var map = _pcapngInterfaces[source];
        while (map.Count <= fileInterface)
        {
            var described = reader.Interfaces[map.Count];
            map.Add(described.Name is { Length: > 0 } name ? Intern(name) : Unknown);
        }
        return map[fileInterface];
    }

    private int IfIndexPoint(int ifIndex)
    {
        if (!_byIfIndex.TryGetValue(ifIndex, out int point))
        {
            string name = _host.ByIndex(ifIndex)?.Name ?? "ifindex" + ifIndex.ToString(System.Globalization.CultureInfo.InvariantCulture);
            point = Intern(name);
            _byIfIndex[ifIndex] = point;
        }
        return point;
    }

    private int Intern(string name)
    {
        if (!_ids.TryGetValue(name, out int id))
        {
            id = _names.Count;
            _names.Add(name);
            _macs.Add(_host.ByName(name)?.Mac);
            _ids[name] = id;
        }
        return id;
    }
}
