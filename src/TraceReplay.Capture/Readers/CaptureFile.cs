using System.Buffers.Binary;

namespace TraceReplay.Capture.Readers;

/// <summary>Opens a capture file with the reader its first bytes call for.</summary>
public static class CaptureFile
{
    /// <exception cref="CaptureFormatException">The file is not a capture this tool reads.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static CaptureReader Open(string path, BadRecordPolicy policy = BadRecordPolicy.Stop)
    {
        Span<byte> head = stackalloc byte[24];
        int n;
        using (var probe = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1))
            n = probe.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        head = head[..n];
        if (n == 0)
            throw new CaptureFormatException(path, 0, 0, "the file is empty") { Fatal = true };
        if (n >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(head) == 0x0A0D0D0A)
            return new PcapNgReader(path, policy);
        if (n >= 4 && PcapMagic(head) is { } format)
        {
            if (n < 24)
                throw new CaptureFormatException(path, 0, 0, $"truncated pcap file header: {n} of 24 bytes") { Fatal = true };
            bool swapped = BinaryPrimitives.ReadUInt32LittleEndian(head) is 0xd4c3b2a1 or 0x4d3cb2a1 or 0x34cdb2a1;
            ushort major = (ushort)(swapped ? BinaryPrimitives.ReadUInt16BigEndian(head[4..]) : BinaryPrimitives.ReadUInt16LittleEndian(head[4..]));
            if (major != 2)
                throw new CaptureFormatException(path, 0, 4, $"unsupported pcap version {major} (only 2.x exists)") { Fatal = true };
            uint snap = U32(head[16..], swapped);
            // The upper bits of the link-type word carry the FCS length (pcap-savefile(5)), not the type.
            var linkType = (LinkType)(U32(head[20..], swapped) & 0xFFFF);
            return new LibpcapReader(path, policy, format, linkType, (int)Math.Min(snap, int.MaxValue));
        }
        string hex = Convert.ToHexString(head[..Math.Min(4, n)]).ToLowerInvariant();
        string hint = n >= 2 && head[0] == 0x1f && head[1] == 0x8b ? " (it is gzip-compressed: decompress it first)" : string.Empty;
        throw new CaptureFormatException(path, 0, 0, $"not a pcap or pcapng file: it starts with 0x{hex}{hint}") { Fatal = true };
    }

    private static uint U32(ReadOnlySpan<byte> b, bool bigEndian) =>
        bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);

    private static CaptureFormat? PcapMagic(ReadOnlySpan<byte> head) => BinaryPrimitives.ReadUInt32LittleEndian(head) switch
    {
        0xa1b2c3d4 or 0xd4c3b2a1 => CaptureFormat.Pcap,
        0xa1b2cd34 or 0x34cdb2a1 => CaptureFormat.Pcap, // Kuznetzov's modified pcap, still read by libpcap
        0xa1b23c4d or 0x4d3cb2a1 => CaptureFormat.PcapNanosecond,
        _ => null,
    };
}
