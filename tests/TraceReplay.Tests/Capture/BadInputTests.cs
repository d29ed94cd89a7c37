using System.Buffers.Binary;
using TraceReplay.Capture;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;
using TraceReplay.Capture.Writers;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Capture;

/// <summary>
/// Damaged captures: each stops with a message naming the file, the record and the byte offset, or
/// under --skip-bad is counted and read past when the framing allows. Offsets are computed here from
/// the pcap layout (24-byte file header, 16-byte record headers) and the pcapng block lengths.
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-bad-").FullName;
    private static readonly byte[] Frame = Frames.UdpV4("10.0.0.1", 1000, "10.0.0.2", 53, payload: 100);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WritePcap(string name, Action<PcapWriter> write, int snap = 65535, LinkType linkType = LinkType.Ethernet)
    {
        string path = Path.Combine(_dir, name);
        using (var w = PcapWriter.Create(path, linkType, snap))
            write(w);
        return path;
    }

    private static (long Read, CaptureFormatException? Error, CaptureProblems Problems) ReadAll(string path, BadRecordPolicy policy)
    {
        long n = 0;
        CaptureReader? reader = null;
        try
        {
            reader = CaptureFile.Open(path, policy);
            while (reader.MoveNext())
                n++;
            return (n, null, reader.Problems);
        }
        catch (CaptureFormatException e)
        {
            return (n, e, reader?.Problems ?? new CaptureProblems());
        }
        finally
        {
            reader?.Dispose();
        }
    }

    [Fact]
    public void Truncated_last_record_names_record_and_offset()
    {
        string path = WritePcap("cut.pcap", w =>
        {
            for (int i = 0; i < 3; i++)
                w.Write(1_000_000_000L * (i + 1), Frame);
        });
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..^5]);
        long thirdRecord = 24 + (2 * (16 + Frame.Length));

        var (read, error, _) = ReadAll(path, BadRecordPolicy.Stop);
        Assert.Equal(2, read);
        Assert.NotNull(error);
        Assert.Equal(3, error.RecordNumber);
        Assert.Equal(thirdRecord, error.ByteOffset);
        Assert.StartsWith($"{path}: record 3 at byte offset {thirdRecord}: libpcap: truncated dump file", error.Message, StringComparison.Ordinal);

        var (kept, skipError, problems) = ReadAll(path, BadRecordPolicy.Skip);
        Assert.Null(skipError);
        Assert.Equal(2, kept);
        Assert.Equal(1, problems.SkippedRecords);
        Assert.True(problems.EndedEarly);
    }

    [Theory]
    [InlineData(new byte[] { 0x47, 0x45, 0x54, 0x20, 0x2F, 0x20 }, "not a pcap or pcapng file: it starts with 0x47455420")]
    [InlineData(new byte[] { 0x1f, 0x8b, 0x08, 0x00 }, "gzip-compressed")]
    [InlineData(new byte[] { 0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00 }, "truncated pcap file header: 6 of 24 bytes")]
    [InlineData(new byte[0], "the file is empty")]
    public void Garbage_header_is_rejected_with_the_reason(byte[] content, string reason)
    {
        string path = Path.Combine(_dir, "garbage.pcap");
        File.WriteAllBytes(path, content);
        var e = Assert.Throws<CaptureFormatException>(() => CaptureFile.Open(path));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.StartsWith(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_link_type_is_refused_per_record()
    {
        string path = WritePcap("dlt147.pcap", w => w.Write(1, Frame), linkType: (LinkType)147);
        var (_, error, _) = ReadAll(path, BadRecordPolicy.Stop);
        Assert.NotNull(error);
        Assert.Contains("link type 147 (LINKTYPE_147) is not one this tool decodes", error.Message, StringComparison.Ordinal);
        Assert.Equal(24, error.ByteOffset);

        var (read, _, problems) = ReadAll(path, BadRecordPolicy.Skip);
        Assert.Equal(0, read);
        Assert.Equal(1, problems.SkippedRecords);
    }

    [Fact]
    public void Record_longer_than_the_snap_length_is_caught_although_libpcap_cuts_it_quietly()
    {
        // The file says snaplen 64 but its second record holds the whole frame.
        string path = WritePcap("snap.pcap", w =>
        {
            w.Write(1, Frame.AsSpan(0, 64), Frame.Length);
            w.Write(2, Frame);
            w.Write(3, Frame.AsSpan(0, 64), Frame.Length);
        }, snap: 64);
        long second = 24 + 16 + 64;
        var (_, error, _) = ReadAll(path, BadRecordPolicy.Stop);
        Assert.NotNull(error);
        Assert.Equal(2, error.RecordNumber);
        Assert.Equal(second, error.ByteOffset);
        Assert.Contains($"captured length {Frame.Length} is larger than the snap length 64", error.Message, StringComparison.Ordinal);

        // The framing is intact, so the third record is still read.
        var (read, _, problems) = ReadAll(path, BadRecordPolicy.Skip);
        Assert.Equal(2, read);
        Assert.Equal(1, problems.SkippedRecords);
        Assert.False(problems.EndedEarly);
    }

    [Fact]
    public void Zero_length_record_is_bad_but_the_next_one_is_read()
    {
        string path = WritePcap("zero.pcap", w =>
        {
            w.Write(1, Frame);
            w.Write(2, ReadOnlySpan<byte>.Empty, 60);
            w.Write(3, Frame);
        });
        var (_, error, _) = ReadAll(path, BadRecordPolicy.Stop);
        Assert.NotNull(error);
        Assert.Equal(2, error.RecordNumber);
        Assert.Equal(24 + 16 + Frame.Length, error.ByteOffset);
        Assert.Contains("zero-length record", error.Message, StringComparison.Ordinal);
        var (read, _, problems) = ReadAll(path, BadRecordPolicy.Skip);
        Assert.Equal(2, read);
        Assert.Equal(1, problems.SkippedRecords);
    }

    [Fact]
    public void Captured_length_above_original_length_is_bad()
    {
        string path = WritePcap("longer.pcap", w => w.Write(1, Frame, wireLength: 20));
        var (_, error, _) = ReadAll(path, BadRecordPolicy.Stop);
        Assert.NotNull(error);
        Assert.Contains($"captured length {Frame.Length} is larger than the original length 20", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Timestamps_going_backwards_are_kept_counted_and_named()
    {
        string path = WritePcap("back.pcap", w =>
        {
            w.Write(3_000, Frame);
            w.Write(1_000, Frame);
            w.Write(4_000, Frame);
        });
        var (read, error, problems) = ReadAll(path, BadRecordPolicy.Stop);
        Assert.Null(error);
        Assert.Equal(3, read);
        Assert.Equal(1, problems.TimestampsBackwards);
        Assert.Contains($"{path}: record 2 at byte offset {24 + 16 + Frame.Length}: timestamp", problems.Messages.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void Pcapng_block_with_inconsistent_lengths_names_the_block()
    {
        string path = Path.Combine(_dir, "bad.pcapng");
        var file = new List<byte>();
        file.AddRange(Block(0x0A0D0D0A, [0x4D, 0x3C, 0x2B, 0x1A, 1, 0, 0, 0, .. new byte[8]]));
        file.AddRange(Block(1, [1, 0, 0, 0, 0, 0, 4, 0]));
        int epbAt = file.Count;
        var epb = Block(6, [.. new byte[4], .. new byte[8], .. U32(Frame.Length), .. U32(Frame.Length), .. Frame, .. new byte[(4 - (Frame.Length % 4)) % 4]]);
        BinaryPrimitives.WriteUInt32LittleEndian(epb.AsSpan(epb.Length - 4), 8); // trailer disagrees with the leading length
        file.AddRange(epb);
        File.WriteAllBytes(path, [.. file]);

        var (_, error, _) = ReadAll(path, BadRecordPolicy.Stop);
        Assert.NotNull(error);
        Assert.Equal(3, error.RecordNumber);
        Assert.Equal(epbAt, error.ByteOffset);
        Assert.Contains("trailing length 8 differs from leading length", error.Message, StringComparison.Ordinal);
        Assert.True(error.Fatal);
    }

    [Fact]
    public void Pcapng_packet_naming_a_missing_interface_is_skipped_under_skip_bad()
    {
        string path = Path.Combine(_dir, "iface.pcapng");
        var file = new List<byte>();
        file.AddRange(Block(0x0A0D0D0A, [0x4D, 0x3C, 0x2B, 0x1A, 1, 0, 0, 0, .. new byte[8]]));
        file.AddRange(Block(1, [1, 0, 0, 0, 0, 0, 4, 0]));
        byte[] body = [.. new byte[8], .. U32(Frame.Length), .. U32(Frame.Length), .. Frame, .. new byte[(4 - (Frame.Length % 4)) % 4]];
        file.AddRange(Block(6, [.. U32(5), .. body]));
        file.AddRange(Block(6, [.. U32(0), .. body]));
        File.WriteAllBytes(path, [.. file]);

        var (_, error, _) = ReadAll(path, BadRecordPolicy.Stop);
        Assert.NotNull(error);
        Assert.Contains("packet names interface 5, but its section describes 1 interface(s)", error.Message, StringComparison.Ordinal);
        var (read, _, problems) = ReadAll(path, BadRecordPolicy.Skip);
        Assert.Equal(1, read);
        Assert.Equal(1, problems.SkippedRecords);
    }

    [Fact]
    public void Fuzzed_corpus_captures_never_escape_as_anything_but_a_named_format_error()
    {
        string pcaps = Corpus.RequirePcaps();
        var seeds = Corpus.AllCaptureFiles()
            .Select(f => File.ReadAllBytes(Path.Combine(pcaps, f)))
            .Where(b => b.Length <= 64 * 1024)
            .ToList();
        // 3,000 cases keep the suite fast; `make fuzz` (the benchmarks project) runs 100,000+.
        var result = new CaptureFuzzer(seeds, Path.Combine(_dir, "fuzz"), seed: 20261125).Run(3000);
        Assert.Empty(result.Failures);
        Assert.Empty(result.RejectionsWithoutFileName);
        Assert.Equal(3000, result.Cases);
        // Both outcomes must occur, or the mutations are not reaching the readers' checks.
        Assert.InRange(result.Rejected, 100, 2900);
        Assert.InRange(result.ReadToEnd, 100, 2900);
    }

    private static byte[] U32(int v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, v);
        return b;
    }

    private static byte[] Block(uint type, byte[] body)
    {
        int total = 12 + body.Length;
        var b = new byte[total];
        BinaryPrimitives.WriteUInt32LittleEndian(b, type);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), total);
        body.CopyTo(b, 8);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(total - 4), total);
        return b;
    }
}
