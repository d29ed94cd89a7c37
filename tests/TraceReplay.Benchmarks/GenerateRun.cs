using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using TraceReplay.Capture;
using TraceReplay.Capture.Writers;

namespace TraceReplay.Benchmarks;

/// <summary>
/// `generate --packets N --snaplen S --out FILE`: writes the large capture `make bench` (scripts/bench.sh)
/// replays with the real `tracereplay replay` and reads with tcpdump, tshark and argus — the same
/// docker-host traffic as the `replay` benchmark (<see cref="DockerHostTraffic"/>), kept as a file so
/// every tool times the very same bytes. N counts sightings (records in the file); each forwarded packet
/// is three of them, as `tcpdump -i any` on the docker-host records it. `--sll1 FILE2` also writes the
/// same records as LINUX_SLL (v1) for tools that cannot read SLL2: argus 3.0.8 stops with
/// "unsupported device type 276" (and exits 0).
/// </summary>
internal static class GenerateRun
{
    private const string Usage = "usage: generate --out FILE [--packets N] [--snaplen S] [--flows N] [--rate PPS] [--seed N] [--sll1 FILE2]";

    public static int Run(string[] args)
    {
        long packets = 10_000_000;
        int snapLength = 262144, flows = 20_000, rate = 50_000, seed = 1;
        string? output = null, sll1 = null;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string? next = i + 1 < args.Length ? args[i + 1] : null;
                switch (args[i])
                {
                    case "--packets" when next is not null: packets = long.Parse(next, CultureInfo.InvariantCulture); i++; break;
                    case "--snaplen" when next is not null: snapLength = int.Parse(next, CultureInfo.InvariantCulture); i++; break;
                    case "--flows" when next is not null: flows = int.Parse(next, CultureInfo.InvariantCulture); i++; break;
                    case "--rate" when next is not null: rate = int.Parse(next, CultureInfo.InvariantCulture); i++; break;
                    case "--seed" when next is not null: seed = int.Parse(next, CultureInfo.InvariantCulture); i++; break;
                    case "--out" when next is not null: output = next; i++; break;
                    case "--sll1" when next is not null: sll1 = next; i++; break;
                    default:
                        Console.Error.WriteLine($"generate: unexpected argument '{args[i]}'\n{Usage}");
                        return 2;
                }
            }
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            Console.Error.WriteLine($"generate: {e.Message}\n{Usage}");
            return 2;
        }
        if (output is null || packets < 1 || flows < 1 || snapLength < 64 || rate is < 1 or > 250_000)
        {
            Console.Error.WriteLine($"generate: --out is required; --packets at least 1, --flows at least 1, --snaplen at least 64, --rate 1 to 250000\n{Usage}");
            return 2;
        }
        string? parent = Path.GetDirectoryName(Path.GetFullPath(output));
        if (parent is not null)
            Directory.CreateDirectory(parent);
        var watch = Stopwatch.StartNew();
        var traffic = DockerHostTraffic.Write(output, packets, flows, snapLength, seed, rate);
        watch.Stop();
        Console.WriteLine($"file: {Path.GetFullPath(output)}");
        Console.WriteLine($"sightings: {traffic.Sightings.ToString(CultureInfo.InvariantCulture)}");
        Console.WriteLine($"real_packets: {traffic.RealPackets.ToString(CultureInfo.InvariantCulture)}");
        Console.WriteLine($"flows: {traffic.Flows.ToString(CultureInfo.InvariantCulture)}");
        Console.WriteLine($"snaplen: {snapLength.ToString(CultureInfo.InvariantCulture)}");
        Console.WriteLine($"file_mb: {(new FileInfo(output).Length / 1e6).ToString("F1", CultureInfo.InvariantCulture)}");
        Console.WriteLine($"generate_seconds: {watch.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)}");
        if (sll1 is not null)
        {
            ToSll1(output, sll1, snapLength);
            Console.WriteLine($"sll1_file: {Path.GetFullPath(sll1)}");
        }
        return 0;
    }

    /// <summary>
    /// The SLL2 records of <paramref name="input"/> (as PcapWriter writes them: little-endian, nanosecond)
    /// rewritten as LINUX_SLL: packet type, ARPHRD, address length, 8 address bytes, protocol (16 bytes
    /// instead of 20; the interface index has no place in v1).
    /// </summary>
    private static void ToSll1(string input, string output, int snapLength)
    {
        const int Sll2 = 20, Sll = 16;
        using var src = new BufferedStream(File.OpenRead(input), 1 << 20);
        using var w = PcapWriter.Create(output, LinkType.LinuxSll, snapLength);
        Span<byte> global = stackalloc byte[24];
        src.ReadExactly(global);
        if (BinaryPrimitives.ReadUInt32LittleEndian(global) != 0xa1b23c4du || BinaryPrimitives.ReadUInt32LittleEndian(global[20..]) != (uint)LinkType.LinuxSll2)
            throw new InvalidDataException($"{input}: not a little-endian nanosecond LINUX_SLL2 pcap as generate writes");
        Span<byte> header = stackalloc byte[16];
        byte[] frame = new byte[Math.Max(snapLength, 64) + Sll2];
        while (src.Read(header[..1]) == 1)
        {
            src.ReadExactly(header[1..]);
            long ns = BinaryPrimitives.ReadUInt32LittleEndian(header) * 1_000_000_000L + BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            int caplen = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
            int wire = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
            src.ReadExactly(frame.AsSpan(0, caplen));
            var f = frame.AsSpan(0, caplen);
            ushort protocol = BinaryPrimitives.ReadUInt16BigEndian(f);
            ushort hatype = BinaryPrimitives.ReadUInt16BigEndian(f[8..]);
            byte packetType = f[10], halen = f[11];
            Span<byte> v1 = frame.AsSpan(Sll2 - Sll, caplen - (Sll2 - Sll));
            f[12..20].CopyTo(v1[6..14]); // the address first: the new header overlaps the old one's tail
            BinaryPrimitives.WriteUInt16BigEndian(v1, packetType);
            BinaryPrimitives.WriteUInt16BigEndian(v1[2..], hatype);
            BinaryPrimitives.WriteUInt16BigEndian(v1[4..], halen);
            BinaryPrimitives.WriteUInt16BigEndian(v1[14..], protocol);
            w.Write(ns, v1, wire - (Sll2 - Sll));
        }
    }
}
