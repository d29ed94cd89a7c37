namespace TraceReplay.Capture.Readers;

/// <summary>Which way a frame crossed the interface it was captured on.</summary>
public enum PacketDirection : byte
{
    Unknown = 0,
    Incoming = 1,
    Outgoing = 2,
}

/// <summary>The container's facts about one captured frame (the bytes are <see cref="CaptureReader.Data"/>).</summary>
public struct CaptureRecord
{
    /// <summary>Nanoseconds since the Unix epoch, UTC.</summary>
    public long TimestampNs;
    public int CapturedLength;
    public int WireLength;
    public LinkType LinkType;
    /// <summary>Index into the reader's <see cref="CaptureReader.Interfaces"/> (pcapng: across all sections).</summary>
    public int InterfaceIndex;
    /// <summary>From the pcapng EPB flags; Unknown for classic pcap (the link layer may still say).</summary>
    public PacketDirection Direction;
    /// <summary>1-based position among the file's records (pcapng: blocks), for messages.</summary>
    public long RecordNumber;
    /// <summary>File offset of the record's header (pcapng: of its block).</summary>
    public long ByteOffset;
}

/// <summary>An interface a capture file describes: one per pcapng IDB, a single one for classic pcap.</summary>
public sealed record CaptureInterface(int Index, LinkType LinkType, int SnapLength, string? Name, string? Description)
{
    /// <summary>Whether the decoder understands <see cref="LinkType"/>; decided once, not per record.</summary>
    public bool Decodable { get; } = LinkTypes.IsSupported(LinkType);
}

public enum CaptureFormat
{
    Pcap,
    PcapNanosecond,
    PcapNg,
}

public static class CaptureFormats
{
    public static string Name(CaptureFormat f) => f switch
    {
        CaptureFormat.Pcap => "pcap (microsecond)",
        CaptureFormat.PcapNanosecond => "pcap (nanosecond)",
        _ => "pcapng",
    };
}
