using TraceReplay.Capture;
using TraceReplay.Capture.Info;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;

namespace TraceReplay.Tests.Support;

/// <summary>
/// Mutation fuzzing of the capture stage: real capture files with bytes flipped, lengths overwritten
/// with edge values, chunks cut, duplicated or removed, then read end to end (open, merge, decode,
/// summarise) under both bad-record policies. The only acceptable failure is a
/// <see cref="CaptureFormatException"/> naming the file; anything else is a bug, kept with the seed
/// and case that reproduce it. Shared by the test suite (thousands of cases) and the benchmarks
/// project's long run (100,000+).
/// </summary>
public sealed class CaptureFuzzer(IReadOnlyList<byte[]> seeds, string workDirectory, int seed)
{
    private static readonly uint[] Interesting = [0, 1, 3, 4, 7, 8, 12, 16, 20, 24, 28, 32, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 0x40000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF];

    public sealed record Failure(int Case, string Exception);

    public sealed class Result
    {
        public int Cases { get; internal set; }
        public int ReadToEnd { get; internal set; }
        public int Rejected { get; internal set; }
        public long Packets { get; internal set; }
        public List<Failure> Failures { get; } = [];
        public List<string> RejectionsWithoutFileName { get; } = [];
    }

    public Result Run(int cases)
    {
        Directory.CreateDirectory(workDirectory);
        var result = new Result();
        for (int c = 0; c < cases; c++)
        {
            var rng = new Random(HashCode.Combine(seed, c));
            byte[] input = Mutate(seeds[rng.Next(seeds.Count)], rng);
            // A pcap and a pcapng mutant must not share a path: the reader is chosen by content anyway.
            string path = Path.Combine(workDirectory, $"case{c % 64}.cap");
            File.WriteAllBytes(path, input);
            var policy = (c & 1) == 0 ? BadRecordPolicy.Stop : BadRecordPolicy.Skip;
            result.Cases++;
            try
            {
                using (var stream = new PacketStream([new CaptureSource(path, null)], null, policy))
                {
                    while (stream.MoveNext())
                        result.Packets++;
                }
                _ = CaptureSummary.Inspect(new CaptureSource(path, null), null, policy);
                result.ReadToEnd++;
            }
            catch (CaptureFormatException e)
            {
                result.Rejected++;
                if (!e.Message.StartsWith(path, StringComparison.Ordinal))
                    result.RejectionsWithoutFileName.Add(e.Message);
            }
#pragma warning disable CA1031 // the point is to catch whatever escapes
            catch (Exception e)
#pragma warning restore CA1031
            {
                result.Failures.Add(new Failure(c, e.ToString()));
            }
        }
        return result;
    }

    private static byte[] Mutate(byte[] original, Random rng)
    {
        var data = new List<byte>(original);
        int mutations = 1 + rng.Next(4);
        for (int m = 0; m < mutations && data.Count > 0; m++)
        {
            int at = rng.Next(data.Count);
            switch (rng.Next(7))
            {
                case 0: // flip a bit
                    data[at] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1: // a random byte
                    data[at] = (byte)rng.Next(256);
                    break;
                case 2: // an edge value over a 16- or 32-bit field (lengths, counts, offsets)
                    uint v = Interesting[rng.Next(Interesting.Length)];
                    int width = rng.Next(2) == 0 ? 2 : 4;
                    bool big = rng.Next(2) == 0;
                    for (int i = 0; i < width && at + i < data.Count; i++)
                        data[at + i] = (byte)(v >> (8 * (big ? width - 1 - i : i)));
                    break;
                case 3: // truncate
                    data.RemoveRange(at, data.Count - at);
                    break;
                case 4: // remove a chunk
                    data.RemoveRange(at, Math.Min(data.Count - at, 1 + rng.Next(64)));
                    break;
                case 5: // duplicate a chunk in place
                    int len = Math.Min(data.Count - at, 1 + rng.Next(64));
                    data.InsertRange(at, data.GetRange(at, len));
                    break;
                default: // overwrite with a chunk from elsewhere in the file
                    int from = rng.Next(data.Count);
                    int n = Math.Min(Math.Min(data.Count - from, data.Count - at), 1 + rng.Next(32));
                    var chunk = data.GetRange(from, n);
                    for (int i = 0; i < n; i++)
                        data[at + i] = chunk[i];
                    break;
            }
        }
        return [.. data];
    }
}
