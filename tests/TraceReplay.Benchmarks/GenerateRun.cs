using System.Diagnostics;
using System.Globalization;

namespace TraceReplay.Benchmarks;

/// <summary>
/// `generate --packets N --snaplen S --out FILE`: writes the large capture `make bench` (scripts/bench.sh)
/// replays with the real `tracereplay replay` and reads with tcpdump, tshark and argus — the same
/// docker-host traffic as the `replay` benchmark (<see cref="DockerHostTraffic"/>), kept as a file so
/// every tool times the very same bytes. N counts sightings (records in the file); each forwarded packet
/// is three of them, as `tcpdump -i any` on the docker-host records it.
/// </summary>
internal static class GenerateRun
{
    private const string Usage = "usage: generate --out FILE [--packets N] [--snaplen S] [--flows N] [--rate PPS] [--seed N]";

    public static int Run(string[] args)
    {
        long packets = 10_000_000;
        int snapLength = 262144, flows = 20_000, rate = 50_000, seed = 1;
        string? output = null;
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
        return 0;
    }
}
