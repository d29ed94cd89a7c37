using System.Diagnostics;
using System.Globalization;
using TraceReplay.Tests.Support;

namespace TraceReplay.Benchmarks;

/// <summary>The long fuzzing run the test suite is too short for, seeded from the shared capture corpus.</summary>
internal static class FuzzRun
{
    /// <summary>Each case rewrites and rereads its whole seed: big seeds would cut the case rate by orders of magnitude.</summary>
    private const long MaxSeedBytes = 256 * 1024;

    private const int FailuresShown = 5;

    public static int Run(string[] args)
    {
        int cases = 100_000, seed = 1;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--cases" when i + 1 < args.Length:
                    cases = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--seed" when i + 1 < args.Length:
                    seed = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    Console.Error.WriteLine($"fuzz: unexpected argument '{args[i]}' (usage: fuzz [--cases N] [--seed S])");
                    return 2;
            }
        }

        string? root = FindRepositoryRoot();
        if (root is null)
        {
            Console.Error.WriteLine($"fuzz: no TraceReplay.sln above {AppContext.BaseDirectory}");
            return 2;
        }
        string corpus = Path.GetFullPath(Path.Combine(root, "..", "shared", "datasets", "external", "pcaps"));
        if (!Directory.Exists(corpus))
        {
            Console.WriteLine($"fuzz: the shared capture corpus {corpus} is absent; nothing to fuzz");
            return 0;
        }
        var files = Directory.EnumerateFiles(corpus, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".pcap", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".pcapng", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .ToList();
        var seeds = files.Where(f => new FileInfo(f).Length <= MaxSeedBytes).Select(File.ReadAllBytes).ToList();
        if (seeds.Count == 0)
        {
            Console.WriteLine($"fuzz: no capture of at most {MaxSeedBytes / 1024} KiB under {corpus}; nothing to fuzz");
            return 0;
        }
        Console.WriteLine($"corpus: {corpus}");
        Console.WriteLine($"seeds: {seeds.Count} ({files.Count - seeds.Count} larger than {MaxSeedBytes / 1024} KiB skipped)");

        var work = Directory.CreateTempSubdirectory("tracereplay-fuzz-");
        CaptureFuzzer.Result result;
        var watch = Stopwatch.StartNew();
        try
        {
            result = new CaptureFuzzer(seeds, work.FullName, seed).Run(cases);
        }
        finally
        {
            work.Delete(recursive: true);
        }
        watch.Stop();

        Console.WriteLine($"seed: {seed}");
        Console.WriteLine($"cases: {result.Cases}");
        Console.WriteLine($"read_to_end: {result.ReadToEnd}");
        Console.WriteLine($"rejected: {result.Rejected}");
        Console.WriteLine($"packets: {result.Packets}");
        Console.WriteLine($"failures: {result.Failures.Count}");
        Console.WriteLine($"rejections_without_file_name: {result.RejectionsWithoutFileName.Count}");
        Console.WriteLine($"seconds: {watch.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)}");
        foreach (string message in result.RejectionsWithoutFileName.Distinct().Take(FailuresShown))
            Console.WriteLine($"rejection without file name: {message}");
        if (result.Failures.Count == 0)
            return 0;
        foreach (var failure in result.Failures.Take(FailuresShown))
            Console.WriteLine($"failure (seed {seed}, case {failure.Case}):{Environment.NewLine}{failure.Exception}");
        return 1;
    }

    private static string? FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TraceReplay.sln")))
                return dir.FullName;
        }
        return null;
    }
}
