using TraceReplay.Cli;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Cli;

public sealed class ConntrackCommandTests : CliTestBase
{
    [Fact]
    public void The_snapshot_table_prints_back_exactly_as_the_kernel_listed_it()
    {
        // datasets/docker-host/snapshot/conntrack.txt is the real `conntrack -L -o extended` of the recorded host when capture started (2 lines):
        // loaded into the simulated table at time 0 and listed at time 0, every field must come back unchanged.
        string snapshot = Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot");
        var (code, stdout, stderr) = Run("conntrack", snapshot);
        Assert.True(code == 0, stderr);
        Assert.Equal(File.ReadAllText(Path.Combine(snapshot, "conntrack.txt")), stdout);
        Assert.Contains("2 flow entries", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_line_exits_1_naming_file_line_and_column()
    {
        string file = Path.Combine(Dir, "conntrack.txt");
        File.WriteAllText(file, "ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.300 sport=5000 dport=80 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=5000 [ASSURED] mark=0 use=1\n");
        var (code, _, stderr) = Run("conntrack", file);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains(file + ":1:", stderr, StringComparison.Ordinal);
        Assert.Contains("10.0.0.300", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_snapshot_without_conntrack_txt_is_a_usage_error()
    {
        var (code, _, stderr) = Run("conntrack", Dir);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("no conntrack.txt", stderr, StringComparison.Ordinal);
    }
}
