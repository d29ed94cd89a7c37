using System.Globalization;
using TraceReplay.Capture;
using TraceReplay.Capture.Readers;
using TraceReplay.Capture.Writers;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Capture;

/// <summary>
/// LibpcapReader swaps the stdio buffer of libpcap's stream for a 256 KiB one after libpcap has read the
/// file header (setvbuf must then give the read-ahead back). These check that nothing read before or across
/// the switch is lost, shifted or cut, and that the wider buffer is really in use.
/// </summary>
public sealed class LibpcapReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-libpcap-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Record i's frame: a UDP datagram whose length cycles through 0..1400 bytes of payload, so records straddle every buffer boundary at varying offsets.</summary>
    private static byte[] FrameOf(int i)
    {
        var frame = Frames.UdpV4("10.0.0.1", (ushort)(1000 + (i % 5000)), "10.0.0.2", 53, payload: (i * 337) % 1401);
        // The payload's first bytes name the record, so a record read from the wrong place shows.
        if (frame.Length >= 42 + 4)
            BitConverter.TryWriteBytes(frame.AsSpan(42), i);
        return frame;
    }

    private string Write(string name, int records, int snap = 65535, Func<int, bool>? oversized = null)
    {
        string path = Path.Combine(_dir, name);
        using var w = PcapWriter.Create(path, LinkType.Ethernet, snap);
        for (int i = 0; i < records; i++)
        {
            var frame = FrameOf(i);
            if (oversized?.Invoke(i) != true && frame.Length > snap)
                w.Write(1_000_000_000L + i, frame.AsSpan(0, snap), frame.Length);
            else
                w.Write(1_000_000_000L + i, frame);
        }
        return path;
    }

    [Fact]
    public void Every_record_is_read_whole_and_in_place_across_the_stdio_buffer()
    {
        // 4,000 records of 42-1,442 bytes: ~3.0 MB, twelve 256 KiB buffer fills, the first one right after
        // the switch. Offsets follow from the layout: 24-byte file header, 16-byte record headers.
        const int records = 4000;
        string path = Write("many.pcap", records);
        using var reader = CaptureFile.Open(path, BadRecordPolicy.Stop);
        long offset = 24;
        int n = 0;
        while (reader.MoveNext())
        {
            var expected = FrameOf(n);
            ref readonly var r = ref reader.Current;
            Assert.Equal(n + 1, r.RecordNumber);
            Assert.Equal(offset, r.ByteOffset);
            Assert.Equal(1_000_000_000L + n, r.TimestampNs);
            Assert.Equal(expected.Length, r.WireLength);
            Assert.True(expected.AsSpan().SequenceEqual(reader.Data), string.Create(CultureInfo.InvariantCulture, $"record {n + 1}: bytes differ"));
            offset += 16 + expected.Length;
            n++;
        }
        Assert.Equal(records, n);
        Assert.Equal(new FileInfo(path).Length, offset);
    }

    [Fact]
    public void A_record_over_the_snap_length_deep_in_the_file_is_still_caught_at_its_offset()
    {
        // The oversized-record check asks the stream where libpcap is (ftell), which must still be right
        // after the buffer switch and many refills. Snap length 600: record 3,001 holds its whole frame.
        const int bad = 3000;
        string path = Write("snap.pcap", 3100, snap: 600, oversized: i => i == bad);
        long offset = 24;
        for (int i = 0; i < bad; i++)
            offset += 16 + Math.Min(600, FrameOf(i).Length);
        Assert.True(FrameOf(bad).Length > 600, "the test needs record 3,001 to be longer than the snap length");

        using var reader = CaptureFile.Open(path, BadRecordPolicy.Stop);
        var e = Assert.Throws<CaptureFormatException>(() =>
        {
            while (reader.MoveNext())
            {
            }
        });
        Assert.Equal(bad + 1, e.RecordNumber);
        Assert.Equal(offset, e.ByteOffset);
        Assert.Contains($"captured length {FrameOf(bad).Length} is larger than the snap length 600", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reading_takes_one_read_system_call_per_256_KiB_not_per_4_KiB()
    {
        // ~3.0 MB: glibc's default buffer (st_blksize capped at 8 KiB: 4 KiB on ext4 and tmpfs) takes ~740
        // read(2)s (743 measured without the wider buffer), the 256 KiB one 12 plus the one that finds the
        // end; the bound leaves room for a few reads the runtime might make on this thread meanwhile.
        // /proc/thread-self/io counts this thread's own system calls, so the test's neighbours do not count.
        if (!File.Exists("/proc/thread-self/io"))
            Assert.Skip("/proc/thread-self/io is not available here (per-thread I/O accounting)");
        string path = Write("count.pcap", 4000);
        long bytes = new FileInfo(path).Length;
        using var reader = CaptureFile.Open(path, BadRecordPolicy.Stop);
        long before = ReadSyscalls();
        while (reader.MoveNext())
        {
        }
        long calls = ReadSyscalls() - before;
        Assert.InRange(calls, 1, (bytes / (256 * 1024)) + 10);
    }

    private static long ReadSyscalls()
    {
        foreach (var line in File.ReadLines("/proc/thread-self/io"))
        {
            if (line.StartsWith("syscr:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(6).Trim(), CultureInfo.InvariantCulture);
        }
        throw new InvalidOperationException("/proc/thread-self/io has no syscr line");
    }
}
