using System.Text;

namespace TraceReplay.NotebookTests;

[CollectionDefinition(nameof(NotebookCollection))]
public sealed class NotebookCollection : ICollectionFixture<NotebookFixture>;

/// <summary>
/// Every notebook, every cell, in one in-process .NET Interactive C# kernel against the bundled
/// docker-host run, so the notebooks cannot rot: a cell that fails to compile or throws fails the
/// test, naming the cell. Beyond "no error", each test checks that the notebook's answer is the
/// scenario's (datasets/docker-host/record.sh: which traffic was made and which rule stops it) —
/// facts about addresses, ports and rules, not packet counts, since the dataset gets re-recorded.
/// One collection: the notebooks run one after another (Roslyn is heavy on two cores).
/// </summary>
[Collection(nameof(NotebookCollection))]
public sealed class NotebookTests(NotebookFixture run)
{
    private async Task<IReadOnlyList<CellResult>> RunAsync(string notebook, string extraParameters = "", string? runDb = null)
    {
        string parameters = $"RunDb = @\"{runDb ?? run.RunDb}\";\n{extraParameters}";
        var cells = await NotebookRunner.RunAsync(Repo.Notebook(notebook), parameters, TestContext.Current.CancellationToken);
        foreach (var c in cells.Where(c => c.Error is not null))
            Assert.Fail($"{notebook}: cell {c.Index} failed:\n{c.Code}\n---\n{c.Error}");
        Assert.NotEmpty(cells);
        // A cell whose last expression is null shows the reader "<null>": a notebook bug, not an answer.
        foreach (var c in cells.Where(c => c.Displayed.Any(d => d.Contains("&lt;null&gt;", StringComparison.Ordinal))))
            Assert.Fail($"{notebook}: cell {c.Index} shows <null>:\n{c.Code}");
        // What the notebook showed goes to the test output, to read when an assertion below fails.
        TestContext.Current.TestOutputHelper?.WriteLine(Shown(cells));
        if (Environment.GetEnvironmentVariable("TRACEREPLAY_NOTEBOOK_DUMP") is { Length: > 0 } dump)
            File.WriteAllText(Path.Combine(dump, Path.ChangeExtension(notebook, ".txt")), Shown(cells));
        return cells;
    }

    /// <summary>One value from the run database, read here independently of the notebooks.</summary>
    private long Scalar(string sql)
    {
        using var db = new DuckDB.NET.Data.DuckDBConnection($"Data Source={run.RunDb};ACCESS_MODE=READ_ONLY");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        object? v = cmd.ExecuteScalar();
        Assert.False(v is null or DBNull, $"the run database has no answer to: {sql}");
        return Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Everything the notebook showed, as a reader would see it: outputs and displayed values.</summary>
    private static string Shown(IEnumerable<CellResult> cells)
    {
        var sb = new StringBuilder();
        foreach (var c in cells)
        {
            sb.Append(c.StandardOutput);
            foreach (var d in c.Displayed)
                sb.AppendLine(d);
        }
        return sb.ToString();
    }

    [Fact]
    public void EveryNotebookIsCoveredByATest()
    {
        // A new notebook must get a test here (and so be executed); the names below are the tested ones.
        string[] tested = ["01-what-dropped-my-flows.ipynb", "02-nat-usage-over-time.ipynb", "03-connection-state-and-anomalies.ipynb"];
        var present = Directory.EnumerateFiles(Path.Combine(Repo.Root, "notebooks"), "*.ipynb").Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(tested, present);
    }

    [Fact]
    public async Task DropsNotebookNamesTheRulesThatDroppedTheScenariosFlows()
    {
        // Follow the SSH SYN (found here, not by the notebook, so another drop added to the dataset
        // cannot change which packet is followed).
        long sshSyn = Scalar(@"SELECT min(id) FROM packets WHERE dst = '198.51.100.1' AND dport = 22 AND proto = 6 AND verdict = 'DROP'");
        var cells = await RunAsync("01-what-dropped-my-flows.ipynb", $"ExampleId = {sshSyn};");
        string shown = Shown(cells);
        // record.sh step 5: the remote (198.51.100.2) tries SSH on the host; INPUT has no rule for
        // tcp/22 and its policy is DROP, so the SYN (and each retransmission) dies there.
        Assert.Matches(@"filter:INPUT:policy DROP tcp 198\.51\.100\.2:\d+ > 198\.51\.100\.1:22: \d+ packet", shown);
        // Step 3: the container's SMTP attempt is rejected by DOCKER-USER's first rule (tcp-reset).
        Assert.Matches(@"filter:DOCKER-USER:rule 1 REJECT tcp 172\.17\.0\.2:\d+ > 203\.0\.113\.9:25: \d+ packet", shown);
        // The drops-by-rule table and the packet's path are shown, not only the sentence.
        Assert.Contains("<td>filter:INPUT:policy</td>", shown, StringComparison.Ordinal);
        Assert.Contains("-i docker0 -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset", shown, StringComparison.Ordinal);
        // The followed SSH SYN came in on eth0 and went through PREROUTING, routing and INPUT, where
        // it was dropped; the INPUT chain shown beside it has no rule for tcp/22.
        Assert.Matches(@"<td>eth0</td><td>in</td><td>tcp</td><td>198\.51\.100\.2</td>.*<td>PREROUTING[^<]*INPUT[^<]*</td><td>DROP</td>", shown);
        Assert.Contains("<td>-p icmp -m icmp --icmp-type 8 -j ACCEPT</td>", shown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NatNotebookPlotsTheScenariosMappingsIntoAPng()
    {
        string png = Path.Combine(run.Dir, "nat.png");
        var cells = await RunAsync("02-nat-usage-over-time.ipynb", $"PlotPng = @\"{png}\";");
        string shown = Shown(cells);
        // record.sh: the container (172.17.0.2) pings and fetches from 203.0.113.9 through
        // MASQUERADE on eth0 (198.51.100.1): at least those two source bindings, ports kept since
        // nothing else used them; the remote's fetch of 198.51.100.1:8080 is DNATed to 172.17.0.2:80.
        Assert.Matches(@"<td>198\.51\.100\.1</td><td>tcp</td>", shown);
        Assert.Matches(@"<td>198\.51\.100\.1</td><td>icmp</td>", shown);
        Assert.Matches(@"<td>tcp</td><td>198\.51\.100\.1:8080</td><td>172\.17\.0\.2:80</td>", shown);
        var peakSrc = Assert.Single(System.Text.RegularExpressions.Regex.Matches(shown, @"peak: (\d+) live SRC 198\.51\.100\.1 mapping"));
        Assert.True(int.Parse(peakSrc.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 2, peakSrc.Value);
        Assert.Matches(@"peak: [1-9]\d* live DST 172\.17\.0\.2 mapping", shown);
        // Nothing in the scenario runs out of ports or addresses.
        Assert.Contains("no packet was dropped for lack of a NAT binding", shown, StringComparison.Ordinal);
        // The conntrack fill is read against the snapshot's nf_conntrack_max.
        Assert.Matches(@"conntrack: peak [1-9]\d* live entries of nf_conntrack_max 262144", shown);

        // The plot: a real PNG of the requested size, shown inline, with the mapping series in it.
        var bytes = File.ReadAllBytes(png);
        Assert.True(bytes.Length > 10_000, $"{png}: {bytes.Length} bytes");
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], bytes[..8]);
        Assert.Equal(900, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        Assert.Equal(450, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
        Assert.Contains("data:image/png;base64,", shown, StringComparison.Ordinal);
        // At least the two NAT addresses above are plotted (a re-recorded dataset may add more).
        Assert.Matches(@"plot: .*nat\.png \(\d+ bytes; ([2-9]|\d\d+) NAT address series over \d+ buckets\)", shown);
    }

    [Fact]
    public async Task AnomalyNotebookPointsAtTheRemoteWhoseSshAttemptsWereDropped()
    {
        var cells = await RunAsync("03-connection-state-and-anomalies.ipynb");
        string shown = Shown(cells);
        // record.sh step 5: the remote 198.51.100.2 tries SSH on the host and INPUT's policy drops
        // the SYN and its retransmission: connection attempts refused, while every other host's
        // traffic (pings, web fetches) is accepted apart from the container's one SMTP attempt among
        // many packets. So the remote stands out on its drop rate. (Above it may rank two neighbours'
        // link-local addresses with 1 drop in 3 packets: their MLD reports to ff02::16, which the host,
        // no multicast router, never joined: ip6_mc_input discards them, routing:MulticastNotJoined.)
        // tcpdump -r any.pcap: the remote sent 10 packets (6 of the port-8080 fetch, 2 SSH SYNs, 2 pings).
        string sources = shown[shown.IndexOf("Sources that stand out:", StringComparison.Ordinal)..];
        sources = sources[..sources.IndexOf("Time buckets", StringComparison.Ordinal)];
        string remote = Assert.Single(sources.Split('\n'), l => l.StartsWith("  198.51.100.2 sent ", StringComparison.Ordinal));
        Assert.StartsWith("  198.51.100.2 sent 10 packets, 2 dropped (20%), 2 refused attempts", remote, StringComparison.Ordinal);
        Assert.Matches(@"stands out on .*drop rate \(z = ", remote);
        // The per-source table shows the remote with refused attempts; the container's SMTP attempt is one.
        Assert.Matches(@"<tr><td>198\.51\.100\.2</td>(<td>[^<]*</td>){3}<td>[1-9]\d*</td>", shown);
        Assert.Matches(@"<tr><td>172\.17\.0\.2</td>(<td>[^<]*</td>){3}<td>1</td>", shown);
        // The library switch ran: either the command's output or the word that it is not there yet.
        Assert.Matches(@"anomalies|the SQL features above are the analysis", shown);
    }

    [Fact]
    public async Task AMissingRunDatabaseIsMadeFromTheBundledDatasetByTheNotebook()
    {
        // A user who opens a notebook before any replay: the setup cell replays the bundled dataset
        // with the built tracereplay (this test project builds it) into RunDb, then analyses it.
        string made = Path.Combine(run.Dir, "made", "docker-host.duckdb");
        var cells = await NotebookRunner.RunAsync(Repo.Notebook("01-what-dropped-my-flows.ipynb"), $"RunDb = @\"{made}\";", TestContext.Current.CancellationToken);
        Assert.All(cells, c => Assert.Null(c.Error));
        Assert.True(File.Exists(made), made);
        string shown = Shown(cells);
        Assert.Contains($"made {made} from the bundled docker-host dataset", shown, StringComparison.Ordinal);
        Assert.Matches(@"filter:INPUT:policy DROP tcp 198\.51\.100\.2:\d+ > 198\.51\.100\.1:22", shown);
    }

    [Fact]
    public async Task EveryNotebookAnswersARunWithNoDropsAndNoNat()
    {
        // Any run database, including one where nothing happened: every rule accepts, there is no nat
        // table. The notebooks say so instead of failing on empty tables.
        string png = Path.Combine(run.Dir, "quiet.nat.png");
        // No rule drops anything; the kernel still discards the neighbours' MLD reports to ff02::16 before
        // any table (ip6_mc_input: a group the host did not join), and the notebook shows that reason alone.
        string drops = Shown(await RunAsync("01-what-dropped-my-flows.ipynb", runDb: run.QuietRunDb));
        Assert.Contains("reason: routing:MulticastNotJoined", drops, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"<td>(filter|nat|mangle|raw):", drops);
        string nat = Shown(await RunAsync("02-nat-usage-over-time.ipynb", $"PlotPng = @\"{png}\";", run.QuietRunDb));
        Assert.Contains("no NAT bindings in this run", nat, StringComparison.Ordinal);
        Assert.Contains("new mappings: 0 in ", nat, StringComparison.Ordinal);
        Assert.DoesNotContain("&lt;null&gt;", nat, StringComparison.Ordinal);
        Assert.Matches(@"plot: .* 0 NAT address series", nat);
        Assert.True(new FileInfo(png).Length > 0);
        string anomalies = Shown(await RunAsync("03-connection-state-and-anomalies.ipynb", runDb: run.QuietRunDb));
        // No rule drops: the only sources that stand out on drops are the two neighbours whose MLD reports
        // ip6_mc_input discarded (link-local senders; other features may still differ).
        Assert.All(anomalies.Split('\n').Where(l => l.Contains("sent ", StringComparison.Ordinal) && l.Contains("drop rate (z =", StringComparison.Ordinal)),
            l => Assert.StartsWith("  fe80::", l, StringComparison.Ordinal));
    }
}
