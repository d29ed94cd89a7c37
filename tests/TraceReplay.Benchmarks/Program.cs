using BenchmarkDotNet.Running;
using TraceReplay.Benchmarks;

const string Usage = """
    usage: TraceReplay.Benchmarks micro [BenchmarkDotNet arguments...]
           TraceReplay.Benchmarks pipeline [--packets N] [--dir DIR]
           TraceReplay.Benchmarks fuzz [--cases N] [--seed S]
           TraceReplay.Benchmarks host [--runs N] [--dir DIR]
           TraceReplay.Benchmarks store [--rows N] [--dir DIR]
           TraceReplay.Benchmarks bigrun [--packets N] [--dir DIR] [--keep]
    """;

switch (args.FirstOrDefault())
{
    case "micro":
        // One list so concurrent additions merge as one line each.
        BenchmarkSwitcher.FromTypes(
        [
            typeof(DecodeBenchmarks),
            typeof(NatBenchmarks),
            typeof(RoutingBenchmarks),
            typeof(TablesBenchmarks),
            typeof(ConntrackBenchmarks),
        ]).Run(args[1..]);
        return 0;
    case "pipeline":
        return PipelineRun.Run(args[1..]);
    case "fuzz":
        return FuzzRun.Run(args[1..]);
    case "host":
        return HostParseRun.Run(args[1..]);
    case "store":
        return StoreRun.Run(args[1..]);
    case "bigrun":
        return BigRun.Run(args[1..]);
    default:
        Console.Error.WriteLine(Usage);
        return 2;
}
