using System.Globalization;
using System.Text.Json;
using TraceReplay.Cli;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Cli;

/// <summary>
/// Three bundled hosts (docker-host, home-router, kubernetes-node) replayed once and exported into one
/// Parquet tree as `tracereplay export RUN --parquet DIR --host-name NAME` writes it, for
/// <see cref="FleetCommandTests"/>.
/// </summary>
public sealed class FleetRuns : IDisposable
{
    public static readonly string[] Hosts = ["docker-host", "home-router", "kubernetes-node"];

    public string Dir { get; } = Directory.CreateTempSubdirectory("tracereplay-fleet-").FullName;

    public string Tree => Path.Combine(Dir, "tree");

    public string Run(string host) => Path.Combine(Dir, host + ".duckdb");

    public FleetRuns()
    {
        foreach (string host in Hosts)
        {
            string dataset = Path.Combine(Corpus.Root, "datasets", host);
            var e = new StringWriter();
            int code = CommandLine.Run(["replay", "-q", "--host", Path.Combine(dataset, "snapshot"), Path.Combine(dataset, "captures", "any.pcap"), "--out", Run(host)], TextWriter.Null, e);
            if (code != 0)
                throw new InvalidOperationException($"replay of {host}: exit {code}: {e}");
            code = CommandLine.Run(["export", Run(host), "--parquet", Tree, "--host-name", host], TextWriter.Null, e);
            if (code != 0)
                throw new InvalidOperationException($"export of {host}: exit {code}: {e}");
        }
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

/// <summary>
/// `tracereplay fleet query|drops DIR`: the cross-host answers must be each run's own answers (its
/// `tracereplay query`) side by side, plus facts of the datasets read with tcpdump; and the same
/// safety as `query`: nothing written, nothing read outside DIR, bad trees refused with a message.
/// </summary>
public sealed class FleetCommandTests(FleetRuns fleet) : CliTestBase, IClassFixture<FleetRuns>
{
    private static string[] CsvRows(string csv) => [.. csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Skip(1)];

    /// <summary>A one-value `tracereplay query` on one run.</summary>
    private static string RunScalar(string db, string sql)
    {
        var (code, stdout, stderr) = Run("query", db, sql, "--format", "csv");
        Assert.True(code == 0, stderr);
        return Assert.Single(CsvRows(stdout));
    }

    private string[] FleetCsv(string sql)
    {
        var (code, stdout, stderr) = Run("fleet", "query", fleet.Tree, sql, "--format", "csv");
        Assert.True(code == 0, stderr);
        return CsvRows(stdout);
    }

    [Fact]
    public void Drops_by_host_are_each_runs_own_drops()
    {
        var byHost = FleetCsv("SELECT host, count(*) FROM packets WHERE verdict = 'DROP' GROUP BY host ORDER BY host")
            .Select(r => r.Split(',')).ToDictionary(f => f[0], f => f[1]);
        foreach (string host in FleetRuns.Hosts)
        {
            string own = RunScalar(fleet.Run(host), "SELECT count(*) FROM packets WHERE verdict = 'DROP'");
            Assert.Equal(own, byHost.GetValueOrDefault(host, "0"));
        }
        // A host without drops is absent from the GROUP BY, not a row of zero: kubernetes-node's one
        // refused packet is a REJECT (KUBE-SERVICES, a service without endpoints).
        Assert.Equal("0", RunScalar(fleet.Run("kubernetes-node"), "SELECT count(*) FROM packets WHERE verdict = 'DROP'"));
    }

    [Theory]
    [InlineData("packets")]
    [InlineData("rules")]
    [InlineData("connections")]
    [InlineData("nat_mappings")]
    [InlineData("conntrack_events")]
    [InlineData("run_info")]
    public void Every_table_holds_each_hosts_rows_once(string table)
    {
        var byHost = FleetCsv($"SELECT host, count(*) FROM {table} GROUP BY host")
            .Select(r => r.Split(',')).ToDictionary(f => f[0], f => f[1]);
        foreach (string host in FleetRuns.Hosts)
            Assert.Equal(RunScalar(fleet.Run(host), $"SELECT count(*) FROM {table}"), byHost.GetValueOrDefault(host, "0"));
    }

    [Fact]
    public void Docker_hosts_input_policy_drops_the_two_ssh_syns()
    {
        // tcpdump -nn -r datasets/docker-host/captures/any.pcap 'tcp dst port 22 and dst host 198.51.100.1':
        // the remote's SYN at 22:54:25.348673 and its retransmission at 22:54:26.370963 (2026-11-26 UTC);
        // the host listens on no port 22 and INPUT's policy is DROP (snapshot/iptables.rules).
        var (code, stdout, stderr) = Run("fleet", "drops", fleet.Tree, "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var rows = doc.RootElement.EnumerateArray().ToList();
        var policy = Assert.Single(rows, r => r.GetProperty("host").GetString() == "docker-host" && r.GetProperty("cause").GetString() == "filter:INPUT:policy");
        Assert.Equal(2, policy.GetProperty("packets").GetInt64());
        Assert.Equal("DROP", policy.GetProperty("verdicts").GetString());
        Assert.Equal("2026-11-26T22:54:25.348673Z", policy.GetProperty("first_ts").GetString());
        Assert.Equal("2026-11-26T22:54:26.370963Z", policy.GetProperty("last_ts").GetString());
        // The same rule seen from the run itself, through its own analytics view.
        Assert.Equal("2", RunScalar(fleet.Run("docker-host"), "SELECT packets FROM v_drops_by_cause WHERE cause = 'filter:INPUT:policy'"));
        // Every host's causes are there, and only the three hosts.
        Assert.Equal(FleetRuns.Hosts, rows.Select(r => r.GetProperty("host").GetString()!).Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Rows_carry_their_host_and_the_utc_day_of_their_time()
    {
        Assert.Equal(FleetRuns.Hosts, FleetCsv("SELECT DISTINCT host FROM rules ORDER BY host"));
        // docker-host's capture runs 22:54:21–22:54:37 UTC on 2026-11-26 (tcpdump -tttt -r, TZ=UTC).
        Assert.Equal(["2026-11-26"], FleetCsv("SELECT DISTINCT date FROM packets WHERE host = 'docker-host'"));
        // The fleet views join each host's packets to its own rules: ids are per run.
        Assert.Equal(["0"], FleetCsv("SELECT count(*) FROM v_drops WHERE rule_id IS NOT NULL AND rule_text IS NULL"));
    }

    [Fact]
    public void Formats_table_csv_and_json_print_the_same_answer()
    {
        const string Sql = "SELECT host, packets FROM v_hosts ORDER BY host";
        var (c1, table, e1) = Run("fleet", "query", fleet.Tree, Sql);
        var (c2, json, e2) = Run("fleet", "query", fleet.Tree, Sql, "--format", "json");
        Assert.True(c1 == 0 && c2 == 0, e1 + e2);
        Assert.Contains("(3 rows)", table, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(json);
        var hosts = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(FleetRuns.Hosts, hosts.Select(h => h.GetProperty("host").GetString()));
        foreach (var h in hosts)
        {
            string own = RunScalar(fleet.Run(h.GetProperty("host").GetString()!), "SELECT count(DISTINCT packet_id) FROM packets");
            Assert.Equal(long.Parse(own, CultureInfo.InvariantCulture), h.GetProperty("packets").GetInt64());
        }
    }

    [Fact]
    public void A_missing_folder_or_a_file_is_a_usage_error()
    {
        var (code, _, stderr) = Run("fleet", "query", Path.Combine(Dir, "nowhere"), "SELECT 1");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("no such directory", stderr, StringComparison.Ordinal);
        (code, _, stderr) = Run("fleet", "drops", Write("file.txt", "x"));
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("is a file", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_without_exported_tables_is_bad_input()
    {
        // Table folders without Parquet files, and files that are not tables.
        Directory.CreateDirectory(Path.Combine(Dir, "empty", "packets", "date=2026-11-26", "host=a"));
        File.WriteAllText(Path.Combine(Dir, "empty", "notes.txt"), "not a table");
        var (code, _, stderr) = Run("fleet", "query", Path.Combine(Dir, "empty"), "SELECT 1");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("no exported tables", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("INSERT INTO packets SELECT * FROM packets", "refused INSERT")]
    [InlineData("COPY packets TO 'out.csv'", "refused COPY")]
    [InlineData("ATTACH 'other.duckdb'", "refused ATTACH")]
    [InlineData("SET enable_external_access = true", "refused SET")]
    [InlineData("CREATE TABLE t AS SELECT 1", "refused CREATE")]
    [InlineData("SELECT count(*) FROM read_csv('/etc/hostname')", "/etc/hostname")]
    public void Statements_that_write_or_reach_outside_are_refused(string sql, string message)
    {
        var (code, stdout, stderr) = Run("fleet", "query", fleet.Tree, sql);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal(string.Empty, stdout);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Parquet_outside_the_tree_is_out_of_reach_inside_it_is_not()
    {
        // A second export beside the tree: the fleet's queries may read the tree's files, no others.
        var (code, _, stderr) = Run("export", fleet.Run("kubernetes-node"), "--parquet", Path.Combine(Dir, "other"), "--host-name", "k");
        Assert.True(code == 0, stderr);
        string outside = Path.Combine(Dir, "other", "rules", "**", "*.parquet");
        (code, _, stderr) = Run("fleet", "query", fleet.Tree, $"SELECT count(*) FROM read_parquet('{outside}')");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("disabled by configuration", stderr, StringComparison.Ordinal);
        string inside = Path.Combine(fleet.Tree, "rules", "**", "*.parquet");
        Assert.Equal(FleetCsv("SELECT count(*) FROM rules"), FleetCsv($"SELECT count(*) FROM read_parquet('{inside}')"));
    }

    [Fact]
    public void A_file_that_is_not_parquet_is_named_and_other_files_are_ignored()
    {
        string tree = Path.Combine(Dir, "tree");
        CopyTree(fleet.Tree, tree);
        // Files that are not *.parquet (Spark's _SUCCESS, notes) are not read.
        File.WriteAllText(Path.Combine(tree, "packets", "_SUCCESS"), string.Empty);
        File.WriteAllText(Path.Combine(tree, "README.txt"), "fleet runs");
        Assert.Equal(FleetCsv("SELECT count(*) FROM packets"), CsvRows(Run("fleet", "query", tree, "SELECT count(*) FROM packets", "--format", "csv").Out));
        // A *.parquet file that is not Parquet stops the query with its path.
        string bad = Path.Combine(tree, "packets", "date=2026-11-26", "host=bogus", "data_0.parquet");
        Directory.CreateDirectory(Path.GetDirectoryName(bad)!);
        File.WriteAllText(bad, "not parquet");
        var (code, _, stderr) = Run("fleet", "query", tree, "SELECT count(*) FROM packets");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains(bad, stderr, StringComparison.Ordinal);
    }

    private static void CopyTree(string from, string to)
    {
        foreach (string f in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, f));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(f, target);
        }
    }
}
