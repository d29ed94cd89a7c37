using System.Text.Json;
using TraceReplay.Analytics.Nat;
using TraceReplay.Analytics.Run;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Store;
using TraceReplay.Tests.Cli;

namespace TraceReplay.Tests.Analytics;

public sealed class NatTests(DockerHostRun run) : CliTestBase, IClassFixture<DockerHostRun>
{
    private static readonly long T0 = new DateTimeOffset(2026, 11, 25, 3, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1000;
    private const long S = 1_000_000;

    [Fact]
    public void Docker_host_masquerades_the_container_behind_the_uplink_and_dnats_the_published_port_to_it()
    {
        using var db = RunDatabase.Open(run.Db);
        var r = NatUsageReports.Build(db, 1 * S);
        // record.sh: the container's ping and web fetch leave MASQUERADEd to the uplink's address; no
        // --to-ports, so TCP keeps the class of the container's ephemeral source port (>= 1024) and ICMP
        // may use any id.
        var tcp = Assert.Single(r.Groups, g => g.Manip == "SRC" && g.Protocol == "tcp");
        Assert.Equal(DockerHostRun.HostUplink, tcp.Address);
        Assert.Equal((1024, 65535, 64512), (tcp.Range!.Value.Min, tcp.Range.Value.Max, tcp.Range.Value.Size));
        Assert.Equal(DockerHostRun.Container, tcp.InternalHosts[0].Address);
        Assert.Equal(100.0 * tcp.PeakPorts / 64512, tcp.PeakUtilisation);
        var icmp = Assert.Single(r.Groups, g => g.Manip == "SRC" && g.Protocol == "icmp");
        Assert.Equal(65536, icmp.Range!.Value.Size);
        // The remote's fetch of the published port 8080 is DNATed to the container's port 80: the rule's
        // --to-destination 172.17.0.2:80 is a one-port range (NF_NAT_RANGE_PROTO_SPECIFIED), nothing to search.
        var dnat = Assert.Single(r.Groups, g => g.Manip == "DST");
        Assert.Equal((DockerHostRun.Container, "tcp"), (dnat.Address, dnat.Protocol));
        Assert.Equal((80, 80, 1), (dnat.Range!.Value.Min, dnat.Range.Value.Max, dnat.Range.Value.Size));
        Assert.Null(dnat.PeakUtilisation);
        // Nothing ran out of ports; the conntrack table is measured against the snapshot's nf_conntrack_max.
        Assert.Empty(r.Failures);
        Assert.Equal(long.Parse(DockerHostRun.Sysctl("net.netfilter.nf_conntrack_max")!, System.Globalization.CultureInfo.InvariantCulture), r.Conntrack.Max);
        Assert.True(r.Conntrack.Peak >= 3, "at least the ping, the web fetch and the published-port fetch were tracked at once");
    }

    /// <summary>
    /// A run with known NAT usage: MASQUERADE --to-ports 10000-10003 (4 ports) and five bindings
    /// (seconds from T0; live over [set up, removed)):
    ///   A 10.0.0.1 → port 10000 [0, 10)     B 10.0.0.1 → 10001 [1, 5)     C 10.0.0.2 → 10002 [2, end)
    ///   D 10.0.0.1 → 10000 [3, 4) (A's port, another peer)     E 10.0.0.2 → 10001 [5, end) (B's port, freed at 5)
    /// Live: 1, 2, 3, 4 at 3 s (the peak), 3 at 4 s, at 5 s B leaves before E comes: 3; 2 at 10 s.
    /// Ports in use: 10000, 10001, 10002 from 2 s: peak 3 of 4 = 75 %, first at 2 s; D adds no port.
    /// Reuse: 10000 and 10001 served two bindings each; D's while A still held it (1 concurrent).
    /// One packet dropped at 6 s for lack of a free tuple. Conntrack: 3 connections [0, 8), [1, end),
    /// [2, 3) against nf_conntrack_max = 4 from the replay's --sysctl: peak 3 at 2 s = 75 %.
    /// </summary>
    private string KnownRun()
    {
        string path = Path.Combine(Dir, "nat.duckdb");
        using var w = RunWriter.Create(path);
        w.AddRule(new RuleRow { Id = 7, Family = RunFamily.Ipv4, Table = "nat", Chain = "POSTROUTING", Position = 1, Text = "-s 10.0.0.0/8 -o eth0 -j MASQUERADE --to-ports 10000-10003", Packets = 5 });
        var nat = IpAddr.Parse("203.0.113.1");
        void Binding(string inside, ushort sport, int peer, ushort port, long setup, long removed)
        {
            var orig = new NfConntrackTuple(IpAddr.Parse(inside), IpAddr.Parse($"192.0.2.{peer}"), sport, 443, 6, false);
            var reply = new NfConntrackTuple(orig.Dst, nat, 443, port, 6, false);
            var m = NatMapping.Create((T0 + setup) * 1000, orig, reply, 7, NfNatManipType.Src);
            w.AddNatMapping(removed < 0 ? m : m.Removed((T0 + removed) * 1000));
        }
        Binding("10.0.0.1", 40000, 1, 10000, 0, 10 * S);
        Binding("10.0.0.1", 40001, 1, 10001, 1 * S, 5 * S);
        Binding("10.0.0.2", 40000, 1, 10002, 2 * S, -1);
        Binding("10.0.0.1", 40002, 2, 10000, 3 * S, 4 * S);
        Binding("10.0.0.2", 40001, 1, 10001, 5 * S, -1);
        void Connection(long id, long first, long last) => w.AddConnection(new ConnectionRow
        {
            CtId = id, Orig = new NfConntrackTuple(IpAddr.Parse("10.0.0.9"), IpAddr.Parse("192.0.2.9"), (ushort)(1000 + id), 80, 6, false),
            Reply = new NfConntrackTuple(IpAddr.Parse("192.0.2.9"), IpAddr.Parse("10.0.0.9"), 80, (ushort)(1000 + id), 6, false),
            FirstUs = T0 + first, LastUs = last < 0 ? -1 : T0 + last,
        });
        Connection(1, 0, 8 * S);
        Connection(2, 1 * S, -1);
        Connection(3, 2 * S, 3 * S);
        w.AddPacket(new PacketRow
        {
            Id = 1, PacketId = 1, TimestampUs = T0 + 6 * S, CapturePoint = "eth1", Direction = SightingDirection.In, Family = RunFamily.Ipv4, Protocol = 6,
            Src = IpAddr.Parse("10.0.0.3"), Dst = IpAddr.Parse("192.0.2.1"), SrcPort = 40000, DstPort = 443, Length = 60, CtId = -1, CtState = CtState.New,
            Verdict = PacketVerdict.Drop, VerdictRuleId = -1, DropReason = "nat:DropNoFreeTuple", Path = "PREROUTING>FORWARD>POSTROUTING",
        });
        w.AddPacket(new PacketRow
        {
            Id = 2, PacketId = 2, TimestampUs = T0 + 11 * S, CapturePoint = "eth1", Direction = SightingDirection.In, Family = RunFamily.Ipv4, Protocol = 6,
            Src = IpAddr.Parse("10.0.0.3"), Dst = IpAddr.Parse("192.0.2.1"), SrcPort = 40001, DstPort = 443, Length = 60, CtId = -1, CtState = CtState.New, VerdictRuleId = -1,
        });
        w.AddInfo("command", "tracereplay replay --host snap cap.pcap --sysctl net.netfilter.nf_conntrack_max=4 --out nat.duckdb");
        w.Complete();
        return path;
    }

    [Fact]
    public void Utilisation_peak_reuse_and_failures_of_a_known_run_are_exact()
    {
        using var db = RunDatabase.Open(KnownRun());
        var r = NatUsageReports.Build(db, 1 * S);
        var g = Assert.Single(r.Groups);
        Assert.Equal(("SRC", "203.0.113.1", "tcp"), (g.Manip, g.Address, g.Protocol));
        Assert.Equal((10000, 10003, "the rule's range"), (g.Range!.Value.Min, g.Range.Value.Max, g.Range.Value.Origin));
        Assert.Equal(5, g.Mappings);
        Assert.Equal(3, g.DistinctPorts);
        Assert.Equal((4L, T0 + 3 * S), (g.PeakLive, g.PeakLiveUs));
        Assert.Equal((3L, T0 + 2 * S), (g.PeakPorts, g.PeakPortsUs));
        Assert.Equal(75.0, g.PeakUtilisation);
        Assert.Equal((2L, 2L, 1L), (g.ReusedPorts, g.ReusingMappings, g.ConcurrentReuse));
        Assert.Equal([("10.0.0.1", 3L, 2L), ("10.0.0.2", 2L, 2L)], g.InternalHosts.Select(h => (h.Address, h.Mappings, h.Ports)));

        // 1 s buckets from T0 (the run's first event) to 11 s (the last packet): 12 buckets. A change on a
        // bucket's boundary belongs to that bucket (D leaves at 4 s, A at 10 s).
        Assert.Equal(12, g.Buckets.Count);
        Assert.Equal(T0, r.StartUs);
        Assert.Equal([1L, 2, 3, 4, 3, 3, 3, 3, 3, 3, 2, 2], g.Buckets.Select(b => b.MaxLive));
        Assert.Equal([1L, 2, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2], g.Buckets.Select(b => b.MaxPorts));
        Assert.Equal([1L, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0], g.Buckets.Select(b => b.New));

        var f = Assert.Single(r.Failures);
        Assert.Equal(("nat:DropNoFreeTuple", "tcp", 1L), (f.Reason, f.Protocol, f.Packets));
        Assert.Equal(1, r.FailureBuckets[6].Failures);
        Assert.Equal(1, r.FailureBuckets.Sum(b => b.Failures));

        Assert.Equal((4L, "replay --sysctl"), (r.Conntrack.Max, r.Conntrack.MaxOrigin));
        Assert.Equal((3L, T0 + 2 * S, 75.0), (r.Conntrack.Peak, r.Conntrack.PeakUs, r.Conntrack.PeakFill));

        // 10 s buckets: the first holds the whole peak.
        var ten = Assert.Single(NatUsageReports.Build(db, 10 * S).Groups);
        Assert.Equal([4L, 2], ten.Buckets.Select(b => b.MaxLive));
        Assert.Equal([5L, 0], ten.Buckets.Select(b => b.New));
    }

    [Fact]
    public void The_kernels_default_port_classes_apply_without_a_range()
    {
        // nf_nat_l4proto_unique_tuple: below 512 → 1-511, 512-1023 → 600-1023, else 1024-65535; ICMP ids 0-65535; DNAT has none.
        Assert.Equal(511, NatPortRanges.For("SRC", 6, "-j MASQUERADE", 22)!.Value.Size);
        Assert.Equal(424, NatPortRanges.For("SRC", 17, "-j MASQUERADE", 800)!.Value.Size);
        Assert.Equal(64512, NatPortRanges.For("SRC", 6, "-j SNAT --to-source 203.0.113.1", 40000)!.Value.Size);
        Assert.Equal(65536, NatPortRanges.For("SRC", 1, "-j MASQUERADE", 7)!.Value.Size);
        Assert.Equal(1001, NatPortRanges.For("SRC", 6, "-j SNAT --to-source 203.0.113.1-203.0.113.4:2000-3000", 40000)!.Value.Size);
        Assert.Equal(1, NatPortRanges.For("SRC", 6, "-j SNAT --to-source [2001:db8::1]:5000", 40000)!.Value.Size);
        Assert.Null(NatPortRanges.For("DST", 6, "-j DNAT --to-destination 172.17.0.2", 8080));
    }

    [Fact]
    public void The_command_prints_the_usage_writes_json_and_draws_the_png()
    {
        string db = KnownRun();
        string png = Path.Combine(Dir, "nat.png");
        var (code, stdout, stderr) = Run("nat", db, "--bucket", "1s", "--png", png);
        Assert.True(code == 0, stderr);
        Assert.Contains("SNAT 203.0.113.1 tcp  ports 10000-10003 (the rule's range)", stdout, StringComparison.Ordinal);
        Assert.Contains("peak 3 in use at once of 4", stdout, StringComparison.Ordinal);
        Assert.Contains("utilisation 75.0%", stdout, StringComparison.Ordinal);
        Assert.Contains("nat:DropNoFreeTuple", stdout, StringComparison.Ordinal);
        Assert.Contains("of nf_conntrack_max 4", stdout, StringComparison.Ordinal);
        var bytes = File.ReadAllBytes(png);
        Assert.True(bytes.Length > 10_000, "a plot with axes, lines and text");
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);

        (code, stdout, stderr) = Run("nat", db, "--bucket", "10s", "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var g = Assert.Single(doc.RootElement.GetProperty("groups").EnumerateArray());
        Assert.Equal(75.0, g.GetProperty("peak_utilisation_pct").GetDouble());
        Assert.Equal(4, g.GetProperty("peak_live").GetInt32());
        Assert.Equal(4, doc.RootElement.GetProperty("conntrack").GetProperty("nf_conntrack_max").GetInt32());
    }

    [Fact]
    public void A_bad_bucket_is_a_usage_error()
    {
        foreach (string bucket in new[] { "5x", "0s", "s", "1.5s", "10" })
        {
            var (code, _, stderr) = Run("nat", run.Db, "--bucket", bucket);
            Assert.Equal(2, code);
            Assert.Contains($"--bucket {bucket}: not a time bucket", stderr, StringComparison.Ordinal);
        }
    }
}
