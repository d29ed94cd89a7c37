using System.Diagnostics;
using TraceReplay.Capture.Points;
using TraceReplay.Cli;
using TraceReplay.Host;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Replay.Pipeline;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Cli;

/// <summary>
/// The report commands on a run database (counters, conntrack --at, trace) and `replay --trace`, on
/// the bundled docker-host dataset (datasets/docker-host/record.sh), through the real CLI entry.
/// Expected values come from the kernel's own dumps in the dataset and from the capture's timeline
/// (tcpdump -nn -tttt -r captures/any.pcap), as noted at each test. The replay starts from the
/// snapshot's conntrack.txt (the table when the capture started, record.sh), as a user's would.
/// </summary>
public sealed class RunCommandsTests : CliTestBase
{
    private static string DockerHost => Path.Combine(Corpus.Root, "datasets", "docker-host");
    private static string Snapshot => Path.Combine(DockerHost, "snapshot");
    private static string Capture => Path.Combine(DockerHost, "captures", "any.pcap");

    private string Replay(string name, params string[] extra)
    {
        string db = Path.Combine(Dir, name);
        var (code, _, stderr) = Run(["replay", "--host", Snapshot, Capture, "--out", db, .. extra]);
        Assert.True(code == 0, stderr);
        return db;
    }

    /// <summary>The first real packet matching <paramref name="where"/> (a condition on packets' columns).</summary>
    private static long PacketId(string db, string where) => long.Parse(Scalar(db, $"SELECT min(packet_id) FROM packets WHERE {where}"), System.Globalization.CultureInfo.InvariantCulture);

    private static string Scalar(string db, string sql)
    {
        using var conn = new DuckDB.NET.Data.DuckDBConnection($"Data Source={db};ACCESS_MODE=READ_ONLY");
        conn.Open();
        using var cmd = conn.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture)!;
    }

    // record.sh 5: the remote's SSH SYN to the host (INPUT policy DROP; retried, the first one here);
    // 3: the container's SMTP SYN (DOCKER-USER rule 1 REJECT).
    private static long SshSyn(string db) => PacketId(db, "dst = '198.51.100.1' AND dport = 22");

    private static long SmtpSyn(string db) => PacketId(db, "src = '172.17.0.2' AND dport = 25");

    /// <summary>A conntrack -L line without its timeout column (the 5th), which depends on when the table was read.</summary>
    private static string WithoutTimeout(string line)
    {
        var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        f.RemoveAt(4);
        return string.Join(' ', f);
    }

    private static string[] CtLines(string text) =>
        [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(WithoutTimeout).Order(StringComparer.Ordinal)];

    private static string[] SaveLines(string text) =>
        [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#'))];

    [Fact]
    public void Counters_print_the_kernels_own_iptables_save_c_after_the_traffic()
    {
        // iptables.rules is the kernel's iptables-save -c after record.sh's traffic: every chain
        // line, rule and counter must come back the same (the comment lines name the tool and time).
        string db = Replay("run.duckdb");
        var (code, stdout, stderr) = Run("counters", db);
        Assert.True(code == 0, stderr);
        Assert.Equal(SaveLines(File.ReadAllText(Path.Combine(Snapshot, "iptables.rules"))), SaveLines(stdout));
    }

    [Fact]
    public void Counters_of_a_family_the_run_has_no_rules_for_print_nothing_and_say_so()
    {
        string db = Replay("run.duckdb");
        foreach (var family in new[] { "ipv6", "bridge" })
        {
            var (code, stdout, stderr) = Run("counters", db, "--family", family);
            Assert.Equal(0, code);
            Assert.Empty(stdout);
            Assert.Contains("no " + (family == "ipv6" ? "ip6tables" : "ebtables") + " rules", stderr, StringComparison.Ordinal);
        }
        Assert.Equal(ExitCodes.Usage, Run("counters", db, "--family", "arp").Code);
    }

    [Fact]
    public void Counters_load_into_the_real_iptables_restore_and_read_back_equal()
    {
        if (Environment.UserName != "root")
            Assert.Skip("needs root to create a network namespace");
        if (!File.Exists("/usr/sbin/iptables-restore") && !File.Exists("/sbin/iptables-restore"))
            Assert.Skip("iptables-restore is not installed (`make deps` installs it)");
        string db = Replay("run.duckdb");
        var (code, ours, stderr) = Run("counters", db);
        Assert.True(code == 0, stderr);
        string ns = $"rc-{Environment.ProcessId}-{Random.Shared.Next(100000)}";
        if (Exec("ip", ["netns", "add", ns], null).Code != 0)
            Assert.Skip("cannot create a network namespace");
        try
        {
            var test = Exec("ip", ["netns", "exec", ns, "iptables-restore", "--test", "-c"], ours);
            Assert.True(test.Code == 0, "iptables-restore --test: " + test.Err);
            var load = Exec("ip", ["netns", "exec", ns, "iptables-restore", "-c"], ours);
            Assert.True(load.Code == 0, "iptables-restore: " + load.Err);
            var saved = Exec("ip", ["netns", "exec", ns, "iptables-save", "-c"], null);
            Assert.True(saved.Code == 0, saved.Err);
            Assert.Equal(SaveLines(ours), SaveLines(saved.Out));
        }
        finally
        {
            Exec("ip", ["netns", "del", ns], null);
        }
    }

    private static (int Code, string Out, string Err) Exec(string file, string[] args, string? stdin)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = stdin is not null };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        var o = p.StandardOutput.ReadToEndAsync();
        string e = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, o.Result, e);
    }

    [Fact]
    public void Conntrack_at_the_end_is_what_the_simulated_host_holds_after_the_last_packet()
    {
        string db = Replay("run.duckdb");
        var (code, stdout, stderr) = Run("conntrack", db);
        Assert.True(code == 0, stderr);

        // The same replay in-process: its table after the last packet, printed at the last packet's time.
        var snapshot = HostSnapshot.Load(Snapshot);
        var host = NfHost.Create(snapshot);
        var summary = new ReplayJob(snapshot, host).Run([CaptureSource.Parse(Capture)], new NullSink());
        var expected = new StringWriter();
        ConntrackList.Dump(host.Conntrack, summary.Captures[0].LastNs, expected);

        // kernel/conntrack-end.txt is the kernel's conntrack -L right after the traffic: the same 9
        // entries (tuples, states, flags, marks). Timeouts are left out of that comparison: the kernel
        // read its table about 2 s after the last packet.
        var kernel = CtLines(File.ReadAllText(Path.Combine(DockerHost, "kernel", "conntrack-end.txt")));
        Assert.Equal(9, kernel.Length);
        Assert.Equal(kernel, CtLines(expected.ToString()));
        Assert.Equal(kernel, CtLines(stdout));
        // Against the simulated table itself, timeouts included: the starting table's IGMP entry, which
        // no event touches, is aged from the time left it started with (conntrack_start).
        Assert.Equal(expected.ToString(), stdout);
    }

    private sealed class NullSink : IReplaySink
    {
        public void Add(in ReplayedSighting sighting, in TraceReplay.Capture.Decode.DecodedPacket packet)
        {
        }
    }

    [Fact]
    public void Conntrack_at_a_time_holds_the_connections_opened_by_then()
    {
        string db = Replay("run.duckdb");
        // The capture (tcpdump -nn -tttt -r any.pcap): first packet 22:54:21.475007 (an MLD report);
        // the container's ping 172.17.0.2 > 203.0.113.9 id 17987 from 22.891713, its last echo reply
        // arriving on eth0 at 23.299161; its TCP SYN to 203.0.113.9:80 (sport 51772) at 23.310432.
        // Before the ping only the starting table (snapshot/conntrack.txt) is live: the connection
        // to port 7000 opened before the capture and the host's IGMP entry.
        var (code, stdout, stderr) = Run("conntrack", db, "--at", "2026-11-26T22:54:22.5Z");
        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains(lines, l => l.Contains("src=172.17.0.2 dst=203.0.113.9 sport=57546 dport=7000", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("src=172.17.0.1 dst=224.0.0.22", StringComparison.Ordinal));
        // As they started (conntrack_start), not as they ended: conntrack.txt gives the port-7000
        // connection ESTABLISHED with 431,997 s left and the IGMP entry 597 s when the table went live
        // at the first packet (22:54:21.475007); 1.024993 s later that is 431,995.98 and 595.98 s,
        // which conntrack -L prints in whole seconds. The connection's FIN comes at 22:54:25.33.
        Assert.Contains(lines, l => l.StartsWith("ipv4     2 tcp      6 431995 ESTABLISHED src=172.17.0.2 dst=203.0.113.9 sport=57546 dport=7000", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("ipv4     2 unknown  2 595 src=172.17.0.1 dst=224.0.0.22", StringComparison.Ordinal));

        (code, stdout, stderr) = Run("conntrack", db, "--at", "2026-11-26T22:54:23.31Z");
        Assert.True(code == 0, stderr);
        lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        // ICMP: nf_conntrack_icmp_timeout 30 s (sysctl.conf), refreshed by the reply 10.8 ms earlier;
        // MASQUERADE kept the echo id (no clash), as the packet leaving eth0 shows.
        Assert.Contains(lines, l => l.StartsWith("ipv4     2 icmp     1 29 src=172.17.0.2 dst=203.0.113.9 type=8 code=0 id=17987 src=203.0.113.9 dst=198.51.100.1 type=0 code=0 id=17987", StringComparison.Ordinal));
        Assert.DoesNotContain("dport=80", stdout, StringComparison.Ordinal);

        // +S is seconds since the first packet: +1.838 is 22:54:23.313007, after the SYN.
        (code, stdout, _) = Run("conntrack", db, "--at", "+1.838");
        Assert.Equal(0, code);
        Assert.Contains("tcp      6 ", stdout, StringComparison.Ordinal);
        Assert.Contains("src=172.17.0.2 dst=203.0.113.9 sport=51772 dport=80", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void The_starting_table_ages_from_the_first_packet_that_met_conntrack_not_the_first_sighting()
    {
        // On eth0: an ARP request at T (a sighting, but no IP: conntrack does not see it), then a UDP
        // datagram to the host's address at T+2 s, the first packet through conntrack, when the starting
        // table (conntrack.txt: the port-7000 connection with 431,997 s left) goes live. At T+3 s it has
        // 431,996 s left; counted from the first sighting it would show 431,994.
        const long T = 1_795_575_600_000_000_000;
        string pcap = Path.Combine(Dir, "late.pcap");
        using (var w = TraceReplay.Capture.Writers.PcapWriter.Create(pcap, TraceReplay.Capture.LinkType.Ethernet, 65535))
        {
            var remoteMac = System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-02");
            var arp = new PacketDotNet.EthernetPacket(remoteMac, System.Net.NetworkInformation.PhysicalAddress.Parse("FF-FF-FF-FF-FF-FF"), PacketDotNet.EthernetType.Arp)
            {
                PayloadPacket = new PacketDotNet.ArpPacket(PacketDotNet.ArpOperation.Request, System.Net.NetworkInformation.PhysicalAddress.Parse("00-00-00-00-00-00"),
                    System.Net.IPAddress.Parse("198.51.100.1"), remoteMac, System.Net.IPAddress.Parse("198.51.100.2")),
            };
            w.Write(T, arp.Bytes);
            var udp = Frames.UdpV4("198.51.100.2", 40000, "198.51.100.1", 9);
            Convert.FromHexString("8e0fd1128808").CopyTo(udp, 0); // eth0's address (snapshot/link.json): PACKET_HOST
            w.Write(T + 2_000_000_000, udp);
        }
        string db = Path.Combine(Dir, "late.duckdb");
        var (code, _, stderr) = Run("replay", "-q", "--host", Snapshot, "eth0=" + pcap, "--out", db);
        Assert.True(code == 0, stderr);
        Assert.Equal("2", Scalar(db, "SELECT count(*) FROM conntrack_start"));
        Assert.Equal(((T / 1000) + 2_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture), Scalar(db, "SELECT DISTINCT epoch_us(ts) FROM conntrack_start"));

        (code, string stdout, stderr) = Run("conntrack", db, "--at", "+3");
        Assert.True(code == 0, stderr);
        Assert.Contains("tcp      6 431996 ESTABLISHED src=172.17.0.2 dst=203.0.113.9 sport=57546 dport=7000", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Conntrack_of_a_snapshot_folder_still_prints_its_starting_table()
    {
        var (code, stdout, _) = Run("conntrack", Snapshot);
        Assert.Equal(0, code);
        // snapshot/conntrack.txt: the port-7000 connection and the IGMP entry (record.sh).
        Assert.Equal(File.ReadAllLines(Path.Combine(Snapshot, "conntrack.txt")).Length, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(2, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(ExitCodes.Usage, Run("conntrack", Snapshot, "--at", "+1").Code);
    }

    [Fact]
    public void Trace_of_a_dropped_packet_names_the_dropping_rule_last_with_or_without_trace_rows()
    {
        string traced = Replay("traced.duckdb", "--trace");
        string plain = Replay("plain.duckdb");
        string ssh = SshSyn(plain).ToString(System.Globalization.CultureInfo.InvariantCulture);
        string smtp = SmtpSyn(plain).ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var db in new[] { traced, plain })
        {
            var (code, stdout, stderr) = Run("trace", db, ssh);
            Assert.True(code == 0, stderr);
            var lines = stdout.TrimEnd('\n').Split('\n');
            Assert.Equal("verdict: DROP by filter:INPUT:policy", lines[^1]);
            Assert.StartsWith("TRACE: filter:INPUT:policy:4 IN=eth0 OUT= SRC=198.51.100.2 DST=198.51.100.1", lines[^2], StringComparison.Ordinal);

            (code, stdout, stderr) = Run("trace", db, smtp);
            Assert.True(code == 0, stderr);
            lines = stdout.TrimEnd('\n').Split('\n');
            Assert.Equal("verdict: REJECT by filter:DOCKER-USER:rule:1: -A DOCKER-USER -i docker0 -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset", lines[^1]);
            Assert.StartsWith("TRACE: filter:DOCKER-USER:rule:1 IN=docker0", lines[^2], StringComparison.Ordinal);
        }
        // The re-run of a run without --trace walks the same steps the traced run recorded.
        Assert.Equal(Run("trace", traced, ssh).Out, Run("trace", plain, ssh).Out);
    }

    [Fact]
    public void Replay_trace_writes_every_rule_checked_into_rule_trace()
    {
        string plain = Replay("plain.duckdb");
        long ssh = SshSyn(plain), smtp = SmtpSyn(plain);
        string filter = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{ssh},{smtp}");
        string db = Replay("run.duckdb", "--trace", "--trace-filter", filter);
        using var conn = new DuckDB.NET.Data.DuckDBConnection($"Data Source={db};ACCESS_MODE=READ_ONLY");
        conn.Open();
        string Rows(string sql)
        {
            using var cmd = conn.CreateCommand();
            cmd.CommandText = sql;
            using var r = cmd.ExecuteReader();
            var sb = new System.Text.StringBuilder();
            while (r.Read())
                sb.Append(string.Join(' ', Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? "NULL" : Convert.ToString(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)))).Append('\n');
            return sb.ToString();
        }
        Assert.Equal(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Math.Min(ssh, smtp)}\n{Math.Max(ssh, smtp)}\n"), Rows("SELECT DISTINCT packet_id FROM rule_trace ORDER BY 1"));
        // The SSH SYN to 198.51.100.1 (a local address) from outside, NEW: nat PREROUTING rule 1
        // (addrtype LOCAL) jumps to DOCKER, whose two rules do not match (-i docker0; --dport 8080),
        // so DOCKER returns and PREROUTING's policy accepts; routed to INPUT, filter INPUT's three
        // rules (-i lo; RELATED,ESTABLISHED; icmp echo) do not match and the policy drops it.
        Assert.Equal(
            """
            1 PREROUTING nat PREROUTING 1 rule true NULL
            2 PREROUTING nat DOCKER 1 rule false NULL
            3 PREROUTING nat DOCKER 2 rule false NULL
            4 PREROUTING nat DOCKER 3 return true NULL
            5 PREROUTING nat PREROUTING 2 policy true ACCEPT
            6 INPUT filter INPUT 1 rule false NULL
            7 INPUT filter INPUT 2 rule false NULL
            8 INPUT filter INPUT 3 rule false NULL
            9 INPUT filter INPUT 4 policy true DROP

            """.Replace("\r", string.Empty, StringComparison.Ordinal),
            Rows($"""SELECT seq, hook, "table", chain, rulenum, type, matched::VARCHAR, verdict FROM rule_trace WHERE packet_id = {ssh} ORDER BY seq"""));
        // Every step joins its rule (a policy and a user chain's end join the chain's own line).
        Assert.Equal("0\n", Rows("SELECT count(*) FROM rule_trace t LEFT JOIN rules r ON r.id = t.rule_id WHERE r.id IS NULL OR r.chain <> t.chain OR (t.type = 'rule' AND r.position <> t.rulenum)"));
        Assert.Equal(filter + "\n", Rows("SELECT value FROM run_info WHERE key = 'trace'"));
    }

    [Fact]
    public void Bad_input_is_refused_with_a_message_and_exit_code_1()
    {
        string db = Replay("run.duckdb");
        string text = Write("notes.txt", "hello\n");
        string emptyDuck = Path.Combine(Dir, "other.duckdb");
        using (var c = new DuckDB.NET.Data.DuckDBConnection("Data Source=" + emptyDuck))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE t (x INTEGER)";
            cmd.ExecuteNonQuery();
        }
        foreach (var (args, says) in new (string[], string)[]
        {
            (["counters", text], "not a run database"),
            (["counters", emptyDuck], "not a run database"),
            (["counters", Path.Combine(Dir, "missing.duckdb")], "no such file"),
            (["counters", Dir], "a folder, not a run database"),
            (["trace", text, "1"], "not a run database"),
            (["trace", db, "999"], $"no packet 999 in this run (packet ids 1 to {Scalar(db, "SELECT max(packet_id) FROM packets")})"),
            (["conntrack", db, "--at", "yesterday"], "not a time"),
            (["conntrack", db, "--at", "2026-11-26T22:54:21Z"], "before the run's first packet (2026-11-26T22:54:21.475007Z)"),
            (["conntrack", emptyDuck], "not a run database"),
        })
        {
            var (code, stdout, stderr) = Run(args);
            Assert.True(code == ExitCodes.BadInput, $"{string.Join(' ', args)}: exit {code}, {stderr}");
            Assert.Contains(says, stderr, StringComparison.Ordinal);
            Assert.Empty(stdout);
        }
        Assert.Equal(ExitCodes.Usage, Run("replay", "--host", Snapshot, Capture, "--trace").Code); // --trace needs --out
        Assert.Equal(ExitCodes.Usage, Run("replay", "--host", Snapshot, Capture, "--out", Path.Combine(Dir, "x.duckdb"), "--trace", "--trace-filter", "9-3").Code);
    }

    [Fact]
    public void Trace_of_a_run_whose_inputs_are_gone_says_how_to_get_a_trace()
    {
        // A copy of the capture, replayed, then deleted: the run cannot be replayed again.
        string capture = Path.Combine(Dir, "gone.pcap");
        File.Copy(Capture, capture);
        string db = Path.Combine(Dir, "run.duckdb");
        Assert.Equal(0, Run("replay", "--host", Snapshot, capture, "--out", db).Code);
        File.Delete(capture);
        string ssh = SshSyn(db).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (code, _, stderr) = Run("trace", db, ssh);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("no rule_trace rows", stderr, StringComparison.Ordinal);
        Assert.Contains("--trace --trace-filter " + ssh, stderr, StringComparison.Ordinal);
    }
}
