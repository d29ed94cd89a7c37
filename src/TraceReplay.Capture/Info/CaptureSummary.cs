using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;

namespace TraceReplay.Capture.Info;

/// <summary>What `tracereplay capinfo` reports about one file, in the spirit of Wireshark's capinfos.</summary>
public sealed class CaptureSummary
{
    private readonly SortedDictionary<string, long> _protocols = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, long> _issues = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, InterfaceCount> _interfaces = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _linkTypes = new(StringComparer.Ordinal);

    public required string Path { get; init; }
    public string Format { get; private set; } = "";
    public long FileBytes { get; init; }
    public long Packets { get; private set; }
    public long CapturedBytes { get; private set; }
    public long WireBytes { get; private set; }
    public long FirstNs { get; private set; } = long.MaxValue;
    public long LastNs { get; private set; } = long.MinValue;
    public long Truncated { get; private set; }
    public long Malformed { get; private set; }
    public long Incoming { get; private set; }
    public long Outgoing { get; private set; }
    public long UnknownDirection { get; private set; }
    public long SkippedRecords { get; private set; }
    public long TimestampsBackwards { get; private set; }
    public bool EndedEarly { get; private set; }
    public IReadOnlyList<string> Problems { get; private set; } = [];
    public IReadOnlyCollection<string> LinkTypes => _linkTypes;
    public IReadOnlyDictionary<string, long> Protocols => _protocols;
    public IReadOnlyDictionary<string, long> MalformedReasons => _issues;
    public IReadOnlyDictionary<string, InterfaceCount> Interfaces => _interfaces;

    public sealed class InterfaceCount
    {
        public long Packets { get; internal set; }
        public long Incoming { get; internal set; }
        public long Outgoing { get; internal set; }
    }

    /// <summary>Reads the whole of one capture file.</summary>
    /// <exception cref="CaptureFormatException">A bad record under <see cref="BadRecordPolicy.Stop"/>.</exception>
    public static CaptureSummary Inspect(CaptureSource source, InterfaceTable? host = null, BadRecordPolicy policy = BadRecordPolicy.Stop)
    {
        ArgumentNullException.ThrowIfNull(source);
        using var stream = new PacketStream([source], host, policy);
        var reader = stream.Readers[0];
        var summary = new CaptureSummary { Path = source.Path, FileBytes = new FileInfo(source.Path).Length };
        summary.Format = CaptureFormats.Name(reader.Format);
        while (stream.MoveNext())
            summary.Add(stream.Record, stream.Packet, stream.Direction, stream.Points.Name(stream.Point));
        foreach (var i in reader.Interfaces)
        {
            summary._linkTypes.Add(Capture.LinkTypes.Name(i.LinkType));
            if (reader.Format == CaptureFormat.PcapNg && i.Name is { Length: > 0 } name && !summary._interfaces.ContainsKey(name))
                summary._interfaces[name] = new InterfaceCount();
        }
        if (reader.Format == CaptureFormat.PcapNg && reader is PcapNgReader ng)
            summary.Format += ng.Sections > 1 ? $" ({ng.Sections} sections)" : string.Empty;
        summary.SkippedRecords = reader.Problems.SkippedRecords;
        summary.TimestampsBackwards = reader.Problems.TimestampsBackwards;
        summary.EndedEarly = reader.Problems.EndedEarly;
        summary.Problems = reader.Problems.Messages;
        return summary;
    }

    private void Add(in CaptureRecord r, in DecodedPacket p, PacketDirection direction, string point)
    {
        Packets++;
        CapturedBytes += r.CapturedLength;
        WireBytes += r.WireLength;
        FirstNs = Math.Min(FirstNs, r.TimestampNs);
        LastNs = Math.Max(LastNs, r.TimestampNs);
        if (p.IsTruncated)
            Truncated++;
        if (p.IsMalformed)
        {
            Malformed++;
            Count(_issues, p.Issue.ToString());
        }
        switch (direction)
        {
            case PacketDirection.Incoming:
                Incoming++;
                break;
            case PacketDirection.Outgoing:
                Outgoing++;
                break;
            default:
                UnknownDirection++;
                break;
        }
        if (!_interfaces.TryGetValue(point, out var ic))
            _interfaces[point] = ic = new InterfaceCount();
        ic.Packets++;
        if (direction == PacketDirection.Incoming)
            ic.Incoming++;
        else if (direction == PacketDirection.Outgoing)
            ic.Outgoing++;

        if ((p.Layers & Layers.Vlan) != 0)
            Count(_protocols, p.VlanCount > 1 ? "vlan (qinq)" : "vlan");
        if ((p.Layers & Layers.Arp) != 0)
            Count(_protocols, "arp");
        if (p.HasIp)
        {
            Count(_protocols, p.IsIpv4 ? "ipv4" : "ipv6");
            if ((p.Flags & PacketFlags.Fragment) != 0)
                Count(_protocols, p.IsIpv4 ? "ipv4 fragment" : "ipv6 fragment");
            if (p.FragmentOffset == 0) // later fragments carry no transport header
                Count(_protocols, L4Protocol.Name(p.Protocol));
        }
        else if ((p.Layers & Layers.Arp) == 0)
        {
            Count(_protocols, "other (non-IP)");
        }
    }

    private static void Count(SortedDictionary<string, long> d, string key) =>
        d[key] = d.GetValueOrDefault(key) + 1;
}
