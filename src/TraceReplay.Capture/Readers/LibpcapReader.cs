using System.Runtime.InteropServices;
using SharpPcap;
using SharpPcap.LibPcap;

namespace TraceReplay.Capture.Readers;

/// <summary>
/// Classic pcap files through libpcap (SharpPcap's <see cref="CaptureFileReaderDevice"/>), opened with
/// nanosecond precision so both magic numbers keep their full resolution. Records are read with
/// pcap_next_ex into libpcap's own buffer: SharpPcap's GetNextPacket would allocate a header and a
/// timeval object per packet.
/// </summary>
public sealed unsafe partial class LibpcapReader : CaptureReader
{
    private const int PcapHeaderSize = 24;
    private const int RecordHeaderSize = 16;

    private readonly CaptureFileReaderDevice _device;
    private readonly nint _file;
    private readonly int _snapLength;
    private readonly LinkType _linkType;
    private nint _pcap;
    private const int SeekCurrent = 1;
    private byte* _data;
    private long _nextOffset = PcapHeaderSize;
    private long _records;

    internal LibpcapReader(string path, BadRecordPolicy policy, CaptureFormat format, LinkType linkType, int snapLength)
        : base(path, policy)
    {
        Format = format;
        InterfaceList.Add(new CaptureInterface(0, linkType, snapLength, null, null));
        _linkType = linkType;
        _device = new CaptureFileReaderDevice(path);
        try
        {
            _device.Open(new DeviceConfiguration { TimestampResolution = TimestampResolution.Nanosecond });
        }
        catch (PcapException e)
        {
            _device.Dispose();
            throw new CaptureFormatException(path, 0, 0, "libpcap cannot open it: " + e.Message) { Fatal = true };
        }
        // The device owns the pcap_t until Dispose; records are read from it directly (see ReadRecord).
        nint pcap = _pcap = _device.Handle.DangerousGetHandle();
        _file = pcap_file(pcap);
        // libpcap replaces a header snap length of 0 or above its per-link maximum with that maximum.
        _snapLength = pcap_snapshot(pcap);
        if (_file != 0)
        {
            WidenStdioBuffer();
            // glibc's ftell makes an lseek system call until the stream has seeked once; a seek to where
            // the stream already is caches the offset, so the oversized-record check below costs ~30 ns.
            _ = fseek(_file, 0, SeekCurrent);
        }
    }

    /// <summary>
    /// libpcap freads the file through its stdio stream, whose buffer glibc sizes to st_blksize capped at
    /// BUFSIZ (4 KiB on ext4): a read system call per 4 KiB, 650,000 of them for the 2.66 GB bench capture
    /// (`strace -c`), which cost the receive thread about a third of its CPU time. A stream's buffer can only
    /// be chosen by setvbuf, and libpcap has already read the file header by the time SharpPcap hands the
    /// pcap_t over. glibc's setvbuf with a caller's buffer syncs the stream first (_IO_default_setbuf →
    /// _IO_SYNC: the read-ahead is given back with an lseek), frees the buffer it allocated itself and marks
    /// ours as the caller's, which fclose leaves alone. ISO C leaves setvbuf after I/O undefined; this reader
    /// already binds to glibc (libc.so.6). The give-back needs a seekable file: on a pipe glibc's sync would
    /// drop the read-ahead, so a stream that cannot seek keeps its buffer, as does one where setvbuf refuses.
    /// </summary>
    private void WidenStdioBuffer()
    {
        if (lseek(fileno(_file), 0, SeekCurrent) < 0)
            return;
        _stdioBuffer = (byte*)NativeMemory.Alloc(StdioBufferSize);
        if (setvbuf(_file, _stdioBuffer, FullyBuffered, StdioBufferSize) != 0)
        {
            NativeMemory.Free(_stdioBuffer);
            _stdioBuffer = null;
        }
    }

    // 256 KiB: 2,670 reads for the bench capture; 1 MiB measured no better (README "Reading the capture").
    private const int StdioBufferSize = 256 * 1024;
    private const int FullyBuffered = 0; // _IOFBF
    private byte* _stdioBuffer;

    public override CaptureFormat Format { get; }
    public override ReadOnlySpan<byte> Data => new(_data, _current.CapturedLength);

    protected override bool ReadRecord()
    {
        nint header, data;
        _current.RecordNumber = ++_records;
        _current.ByteOffset = _nextOffset;
        // pcap_next_ex straight on SharpPcap's handle: its GetNextPacketPointers wrapper costs ~40 ns a
        // record (a third of libpcap's own cost for header-only captures).
        int status = pcap_next_ex(_pcap, &header, &data);
        if (status == -2)
            return false; // PCAP_ERROR_BREAK: end of file
        if (status != 1)
            throw Bad("libpcap: " + (_device.LastError is { Length: > 0 } err ? err : "read error " + status), fatal: true);

        // struct pcap_pkthdr on LP64 Linux: struct timeval (two longs; tv_usec holds nanoseconds
        // because the file was opened with PCAP_TSTAMP_PRECISION_NANO), caplen, len.
        var h = (long*)header;
        uint caplen = *(uint*)(header + 16);
        uint len = *(uint*)(header + 20);
        _data = (byte*)data;
        _current.TimestampNs = (h[0] * 1_000_000_000L) + h[1];
        _current.CapturedLength = (int)caplen;
        _current.WireLength = (int)len;
        _current.LinkType = _linkType;
        _current.InterfaceIndex = 0;
        _current.Direction = PacketDirection.Unknown;
        _nextOffset += RecordHeaderSize + caplen;

        // libpcap quietly cuts a record longer than the file's snap length to the snap length (and skips
        // the rest). Only then can the record's true size differ from what it returned, so only then
        // ask the stdio stream where libpcap really is.
        if (caplen == _snapLength && _file != 0)
        {
            long position = ftell(_file);
            if (position >= 0 && position != _nextOffset)
            {
                long trueLength = position - _current.ByteOffset - RecordHeaderSize;
                _nextOffset = position;
                throw Bad($"captured length {trueLength} is larger than the snap length {_snapLength}");
            }
        }
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // pcap_close fcloses the stream, which leaves a caller's buffer alone: free it after.
            _device.Dispose();
            if (_stdioBuffer != null)
            {
                NativeMemory.Free(_stdioBuffer);
                _stdioBuffer = null;
            }
        }
        base.Dispose(disposing);
    }

    [LibraryImport("libpcap.so.0.8")]
    private static partial nint pcap_file(nint pcap);

    [LibraryImport("libpcap.so.0.8")]
    private static partial int pcap_next_ex(nint pcap, nint* header, nint* data);

    [LibraryImport("libpcap.so.0.8")]
    private static partial int pcap_snapshot(nint pcap);

    [LibraryImport("libc.so.6")]
    private static partial long ftell(nint stream);

    [LibraryImport("libc.so.6")]
    private static partial int fileno(nint stream);

    [LibraryImport("libc.so.6")]
    private static partial long lseek(int fd, long offset, int whence);

    [LibraryImport("libc.so.6")]
    private static partial int setvbuf(nint stream, byte* buffer, int mode, nuint size);

    [LibraryImport("libc.so.6")]
    private static partial int fseek(nint stream, long offset, int whence);
}
