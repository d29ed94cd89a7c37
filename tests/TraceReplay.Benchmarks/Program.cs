using BenchmarkDotNet.Running;
using TraceReplay.Benchmarks;

const string Usage = """
    usage: TraceReplay.Benchmarks micro [BenchmarkDotNet arguments...]
           TraceReplay.Benchmarks pipeline [--packets N] [--dir DIR]
           TraceReplay.Benchmarks fuzz [--cases N] [--seed S]
           TraceReplay.Benchmarks host [--runs N] [--dir DIR]
           TraceReplay.Benchmarks store [--rows N] [--dir DIR] [--variants base,addrint,textint,addrint-textint,...]
           TraceReplay.Benchmarks anomaly-eval [--seconds N] [--dir DIR] [--conntrack-max N]
           TraceReplay.Benchmarks replay [--packets N] [--snaplen N] [--flows N] [--rate PPS] [--modes none,duckdb,arrow,duckdb-2t,arrow-2t] [--cpu N] [--runs N] [--dir DIR] [--keep]
           TraceReplay.Benchmarks bigrun [--packets N] [--dir DIR] [--keep]
           TraceReplay.Benchmarks analytics [--packets N] [--db FILE]
           TraceReplay.Benchmarks generate --out FILE [--packets N] [--snaplen S] [--flows N] [--rate PPS] [--seed N]
           TraceReplay.Benchmarks scale [--connections N] [--packets M] [--dir DIR] [--keep]
           TraceReplay.Benchmarks floor --run RUN.duckdb [--dir DIR] [--threads 1,2]
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
            typeof(NfHostBenchmarks),
            typeof(KubeProxyTablesBenchmarks),
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
    case "anomaly-eval":
        return AnomalyEvalRun.Run(args[1..]);
    case "replay":
        return ReplayRun.Run(args[1..]);
    case "bigrun":
        return BigRun.Run(args[1..]);
    case "rulescale": return RuleScaleRun.Run(args[1..]);
    case "analytics":
        return AnalyticsRun.Run(args[1..]);
    case "generate": return GenerateRun.Run(args[1..]);
    case "scale": return ScaleRun.Run(args[1..]);
    case "floor": return FloorRun.Run(args[1..]);
    default:
        Console.Error.WriteLine(Usage);
        return 2;
}
