using System.Buffers.Binary;
using System.Text;

namespace TraceReplay.Capture.Readers;

/// <summary>
/// A managed pcapng block reader. libpcap reads pcapng too, but hides what a host capture needs: the
/// interface each packet was captured on (it rejects files whose interfaces differ in link type and
/// never exposes the EPB interface id) and the EPB direction flags. Sections of either byte order,
/// every interface's if_tsresol and if_tsoffset, SPBs and obsolete PBs are handled; unknown block
/// types are skipped as the format requires.
/// </summary>
public sealed class PcapNgReader : CaptureReader
{
    private const uint SectionHeaderBlock = 0x0A0D0D0A;
    private const uint InterfaceDescriptionBlock = 1;
    private const uint ObsoletePacketBlock = 2;
    private const uint SimplePacketBlock = 3;
    private const uint EnhancedPacketBlock = 6;
    private const uint ByteOrderMagic = 0x1A2B3C4D;
    /// <summary>Far above any real block (snap lengths stop at 256 KiB); a larger length means a corrupt file.</summary>
    private const int MaxBlockLength = 16 << 20;

    private readonly FileStream _stream;
    private readonly List<InterfaceClock> _clocks = [];
    private readonly List<int> _sectionInterfaces = [];
    private byte[] _buffer = new byte[1 << 20];
    private long _bufferFileOffset;
    private int _bufferLength;
    private int _position;
    private int _dataOffset;
    private bool _bigEndian;
    private bool _inSection;
    private long _blocks;

    /// <summary>How to turn an interface's timestamp units into nanoseconds.</summary>
    private readonly record struct InterfaceClock(bool Binary, int Exponent, long OffsetSeconds);

    internal PcapNgReader(string path, BadRecordPolicy policy) : base(path, policy)
    {
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
    }

    public override CaptureFormat Format => CaptureFormat.PcapNg;
    public override ReadOnlySpan<byte> Data => _buffer.AsSpan(_dataOffset, _current.CapturedLength);

    /// <summary>Sections seen so far (SHBs).</summary>
    public int Sections { get; private set; }

    protected override bool ReadRecord()
    {
        while (true)
        {
            int available = Fill(8);
            long blockOffset = _bufferFileOffset + _position;
            _current.RecordNumber = ++_blocks;
            _current.ByteOffset = blockOffset;
            if (available == 0)
            {
                _blocks--;
                return false;
            }
            if (available < 8)
                throw Bad($"truncated block header: {available} bytes left at the end of the file", fatal: true);

            uint type = ReadU32(0);
            if (type == SectionHeaderBlock)
            {
                if (Fill(12) < 12)
                    throw Bad("truncated section header block", fatal: true);
                uint magic = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_position + 8));
                if (magic == ByteOrderMagic)
                    _bigEndian = false;
                else if (BinaryPrimitives.ReverseEndianness(magic) == ByteOrderMagic)
                    _bigEndian = true;
                else
                    throw Bad($"section header block has byte-order magic 0x{magic:x8}, not 0x1a2b3c4d", fatal: true);
            }
            else if (!_inSection)
            {
                throw Bad(blockOffset == 0
                    ? $"not a pcapng file: the first block has type 0x{type:x8}, not a section header (0x0a0d0d0a)"
                    : $"block type 0x{type:x8} outside a section", fatal: true);
            }

            uint totalLength = ReadU32(4);
            if (totalLength < 12 || totalLength % 4 != 0 || totalLength > MaxBlockLength)
                throw Bad($"block of type 0x{type:x8} has an invalid total length {totalLength} (must be a multiple of 4, at least 12, at most {MaxBlockLength})", fatal: true);
            int length = (int)totalLength;
            int got = Fill(length);
            if (got < length)
                throw Bad($"truncated block: type 0x{type:x8} declares {length} bytes, only {got} remain in the file", fatal: true);
            uint trailer = ReadU32(length - 4);
            if (trailer != totalLength)
                throw Bad($"block of type 0x{type:x8}: trailing length {trailer} differs from leading length {totalLength}", fatal: true);

            int start = _position;
            _position += length; // the framing is sound: whatever is wrong inside, the next block is here
            switch (type)
            {
                case SectionHeaderBlock:
                    ReadSectionHeader(start, length);
                    break;
                case InterfaceDescriptionBlock:
                    ReadInterface(start, length);
                    break;
                case EnhancedPacketBlock:
                    ReadEnhancedPacket(start, length);
                    return true;
                case SimplePacketBlock:
                    ReadSimplePacket(start, length);
                    return true;
                case ObsoletePacketBlock:
                    ReadObsoletePacket(start, length);
                    return true;
                default:
                    break; // NRB, ISB, DSB, custom and unknown blocks carry nothing a replay uses
            }
        }
    }

    private void ReadSectionHeader(int start, int length)
    {
        if (length < 28)
            throw Bad($"section header block is {length} bytes, less than the 28 it needs", fatal: true);
        ushort major = ReadU16At(start + 12);
        if (major != 1)
            throw Bad($"unsupported pcapng version {major}.{ReadU16At(start + 14)}", fatal: true);
        _inSection = true;
        _sectionInterfaces.Clear();
        Sections++;
    }

    private void ReadInterface(int start, int length)
    {
        if (length < 20)
            throw Bad($"interface description block is {length} bytes, less than the 20 it needs");
        var linkType = (LinkType)ReadU16At(start + 8);
        int snap = (int)Math.Min(ReadU32At(start + 12), int.MaxValue);
        string? name = null, description = null;
        bool binary = false;
        int exponent = 6;
        long offsetSeconds = 0;
        foreach (var option in Options(start + 16, start + length - 4))
        {
            var value = option.Value;
            switch (option.Code)
            {
                case 2:
                    name = Utf8(value);
                    break;
                case 3:
                    description = Utf8(value);
                    break;
                case 9 when value.Length >= 1:
                    binary = (value[0] & 0x80) != 0;
                    exponent = value[0] & 0x7F;
                    if (!binary && exponent > 18)
                        throw Bad($"if_tsresol 10^-{exponent} is beyond nanoseconds' range");
                    break;
                case 14 when value.Length >= 8:
                    offsetSeconds = _bigEndian ? BinaryPrimitives.ReadInt64BigEndian(value) : BinaryPrimitives.ReadInt64LittleEndian(value);
                    break;
            }
        }
        _sectionInterfaces.Add(InterfaceList.Count);
        InterfaceList.Add(new CaptureInterface(InterfaceList.Count, linkType, snap, name, description));
        _clocks.Add(new InterfaceClock(binary, exponent, offsetSeconds));
    }

    private int GlobalInterface(uint localId)
    {
        if (localId >= (uint)_sectionInterfaces.Count)
            throw Bad($"packet names interface {localId}, but its section describes {_sectionInterfaces.Count} interface(s)");
        return _sectionInterfaces[(int)localId];
    }

    private void ReadEnhancedPacket(int start, int length)
    {
        if (length < 32)
            throw Bad($"enhanced packet block is {length} bytes, less than the 32 it needs");
        int iface = GlobalInterface(ReadU32At(start + 8));
        ulong ticks = ((ulong)ReadU32At(start + 12) << 32) | ReadU32At(start + 16);
        uint caplen = ReadU32At(start + 20);
        uint wirelen = ReadU32At(start + 24);
        int room = length - 32;
        if (caplen > room)
            throw Bad($"captured length {caplen} exceeds the {room} bytes its block holds");
        SetPacket(iface, ticks, (int)caplen, wirelen, start + 28);
        int optionsAt = start + 28 + (((int)caplen + 3) & ~3);
        foreach (var option in Options(optionsAt, start + length - 4))
        {
            var value = option.Value;
            if (option.Code == 2 && value.Length >= 4)
            {
                uint flags = _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(value) : BinaryPrimitives.ReadUInt32LittleEndian(value);
                _current.Direction = (flags & 3) switch
                {
                    1 => PacketDirection.Incoming,
                    2 => PacketDirection.Outgoing,
                    _ => PacketDirection.Unknown,
                };
            }
        }
    }

    private void ReadSimplePacket(int start, int length)
    {
        if (length < 16)
            throw Bad($"simple packet block is {length} bytes, less than the 16 it needs");
        int iface = GlobalInterface(0);
        uint wirelen = ReadU32At(start + 8);
        // An SPB has no captured length: it is what fits, bounded by the original length and the snap length.
        long caplen = Math.Min(wirelen, (uint)(length - 16));
        int snap = InterfaceList[iface].SnapLength;
        if (snap > 0)
            caplen = Math.Min(caplen, snap);
        // SPBs carry no timestamp: keep the file's clock where it was so the merge order is unchanged.
        long keep = _current.TimestampNs;
        SetPacket(iface, 0, (int)caplen, wirelen, start + 12);
        _current.TimestampNs = keep;
    }

    private void ReadObsoletePacket(int start, int length)
    {
        if (length < 32)
            throw Bad($"packet block is {length} bytes, less than the 32 it needs");
        int iface = GlobalInterface(ReadU16At(start + 8));
        ulong ticks = ((ulong)ReadU32At(start + 12) << 32) | ReadU32At(start + 16);
        uint caplen = ReadU32At(start + 20);
        uint wirelen = ReadU32At(start + 24);
        if (caplen > length - 32)
            throw Bad($"captured length {caplen} exceeds the {length - 32} bytes its block holds");
        SetPacket(iface, ticks, (int)caplen, wirelen, start + 28);
    }

    private void SetPacket(int iface, ulong ticks, int caplen, uint wirelen, int dataAt)
    {
        _current.InterfaceIndex = iface;
        _current.LinkType = InterfaceList[iface].LinkType;
        _current.CapturedLength = caplen;
        _current.WireLength = (int)Math.Min(wirelen, int.MaxValue);
        _current.Direction = PacketDirection.Unknown;
        _current.TimestampNs = ToNanoseconds(_clocks[iface], ticks);
        _dataOffset = dataAt;
    }

    private static long ToNanoseconds(InterfaceClock clock, ulong ticks)
    {
        UInt128 ns;
        if (clock.Binary)
            ns = ((UInt128)ticks * 1_000_000_000UL) >> clock.Exponent;
        else if (clock.Exponent <= 9)
            ns = (UInt128)ticks * Pow10(9 - clock.Exponent);
        else
            ns = ticks / Pow10(clock.Exponent - 9);
        long result = ns > long.MaxValue ? long.MaxValue : (long)ns;
        return result + (clock.OffsetSeconds * 1_000_000_000L);
    }

    private static ulong Pow10(int e)
    {
        ulong v = 1;
        for (int i = 0; i < e; i++)
            v *= 10;
        return v;
    }

    private OptionEnumerator Options(int from, int to) => new(this, from, to);

    private ref struct OptionEnumerator(PcapNgReader reader, int from, int to)
    {
        private int _at = from;

        public Option Current { get; private set; }

        public readonly OptionEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_at + 4 > to)
                return false;
            ushort code = reader.ReadU16At(_at);
            ushort len = reader.ReadU16At(_at + 2);
            if (code == 0 || _at + 4 + len > to)
                return false; // opt_endofopt, or an option running past its block: stop reading options
            Current = new Option(code, reader._buffer.AsSpan(_at + 4, len));
            _at += 4 + ((len + 3) & ~3);
            return true;
        }
    }

    private readonly ref struct Option(ushort code, ReadOnlySpan<byte> value)
    {
        public ushort Code { get; } = code;
        public ReadOnlySpan<byte> Value { get; } = value;
    }

    private static string Utf8(ReadOnlySpan<byte> value)
    {
        int nul = value.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul >= 0 ? value[..nul] : value);
    }

    private uint ReadU32(int relative) => ReadU32At(_position + relative);

    private uint ReadU32At(int at) => _bigEndian
        ? BinaryPrimitives.ReadUInt32BigEndian(_buffer.AsSpan(at))
        : BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(at));

    private ushort ReadU16At(int at) => _bigEndian
        ? BinaryPrimitives.ReadUInt16BigEndian(_buffer.AsSpan(at))
        : BinaryPrimitives.ReadUInt16LittleEndian(_buffer.AsSpan(at));

    /// <summary>Makes at least <paramref name="wanted"/> bytes from the current position available if the file has them; returns how many are.</summary>
    private int Fill(int wanted)
    {
        int have = _bufferLength - _position;
        if (have >= wanted)
            return have;
        if (_position > 0)
        {
            Buffer.BlockCopy(_buffer, _position, _buffer, 0, have);
            _bufferFileOffset += _position;
            _bufferLength = have;
            _position = 0;
        }
        if (wanted > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(wanted, _buffer.Length * 2));
        while (_bufferLength < wanted)
        {
            int n = _stream.Read(_buffer, _bufferLength, _buffer.Length - _bufferLength);
            if (n == 0)
                break;
            _bufferLength += n;
        }
        return _bufferLength;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _stream.Dispose();
        base.Dispose(disposing);
    }
}
