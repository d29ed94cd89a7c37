using System.Buffers.Binary;

namespace TraceReplay.Capture.Writers;

/// <summary>
/// Writes classic little-endian pcap (nanosecond magic by default). For generated datasets, benchmark
/// inputs and packets the simulated host makes; reading always goes through libpcap.
/// </summary>
public sealed class PcapWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _nanosecond;
    private readonly byte[] _header = new byte[16];

    public PcapWriter(Stream stream, LinkType linkType, int snapLength = 262144, bool nanosecond = true)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _nanosecond = nanosecond;
        Span<byte> h = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(h, nanosecond ? 0xa1b23c4du : 0xa1b2c3d4u);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], (uint)snapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], (ushort)linkType);
        _stream.Write(h);
    }

    public static PcapWriter Create(string path, LinkType linkType, int snapLength = 262144, bool nanosecond = true) =>
        new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16), linkType, snapLength, nanosecond);

    /// <param name="timestampNs">Nanoseconds since the Unix epoch.</param>
    /// <param name="wireLength">The original length; defaults to the bytes written.</param>
    public void Write(long timestampNs, ReadOnlySpan<byte> frame, int wireLength = -1)
    {
        long seconds = Math.DivRem(timestampNs, 1_000_000_000L, out long fraction);
        if (!_nanosecond)
            fraction /= 1000;
        BinaryPrimitives.WriteUInt32LittleEndian(_header, (uint)seconds);
        BinaryPrimitives.WriteUInt32LittleEndian(_header.AsSpan(4), (uint)fraction);
        BinaryPrimitives.WriteUInt32LittleEndian(_header.AsSpan(8), (uint)frame.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(_header.AsSpan(12), (uint)(wireLength < 0 ? frame.Length : wireLength));
        _stream.Write(_header);
        _stream.Write(frame);
    }

    public void Dispose() => _stream.Dispose();
}
