using TraceReplay.Analytics.Anomaly;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Store;

namespace TraceReplay.Tests.Analytics;

/// <summary>
/// The feature SQL on a run written row by row with RunWriter, small enough to compute every value
/// by hand. The expected values are derived in the comments from the rows, not from running the query.
/// </summary>
public sealed class AnomalyFeatureTests : IDisposable
{
    // A 10 s boundary, so bucket 0 is [T0, T0+10 s) and bucket 1 is [T0+10 s, T0+20 s).
    private static readonly long T0 = new DateTimeOffset(2026, 11, 25, 18, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1000;
    private const long S = 1_000_000;

    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-anomaly-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static PacketRow P(long id, long packetId, long ts, string src, ushort sport, string dst, ushort dport, CtState state, CtDirection dir, PacketVerdict verdict, int len = 60, string point = "eth0") => new()
    {
        Id = id,
        PacketId = packetId,
        TimestampUs = ts,
        CapturePoint = point,
        Direction = SightingDirection.In,
        Family = RunFamily.Ipv4,
        Protocol = 6,
        Src = IpAddr.Parse(src),
        Dst = IpAddr.Parse(dst),
        SrcPort = sport,
        DstPort = dport,
        Length = len,
        CtId = 1,
        CtState = state,
        CtDirection = dir,
        Path = "PREROUTING>INPUT",
        Verdict = verdict,
        VerdictRuleId = -1,
    };

    private static NfConntrackTuple T(string src, ushort sport, string dst, ushort dport) => new(IpAddr.Parse(src), IpAddr.Parse(dst), sport, dport, 6, false);

    /// <summary>Two hosts sending one identical packet each: every entity behaves the same, so there is nothing to group.</summary>
    internal static string TwinRun(string dir)
    {
        string path = Path.Combine(dir, "twins.duckdb");
        using var w = RunWriter.Create(path);
        w.AddPacket(P(1, 1, T0 + 1 * S, "10.0.0.7", 40000, "10.0.0.1", 80, CtState.New, CtDirection.Original, PacketVerdict.Accept));
        w.AddPacket(P(2, 2, T0 + 1 * S, "10.0.0.8", 40000, "10.0.0.1", 80, CtState.New, CtDirection.Original, PacketVerdict.Accept));
        w.Complete();
        return path;
    }

    internal static string SmallRun(string dir)
    {
        string path = Path.Combine(dir, "small.duckdb");
        using var w = RunWriter.Create(path);
        // 10.0.0.7 in bucket 0: SYNs to 10.0.0.1 ports 22 and 23 (dropped), 80 (accepted, NEW), and one INVALID packet to 10.0.0.2:80.
        w.AddPacket(P(1, 1, T0 + 1 * S, "10.0.0.7", 40000, "10.0.0.1", 22, CtState.New, CtDirection.Original, PacketVerdict.Drop));
        w.AddPacket(P(2, 2, T0 + 1 * S, "10.0.0.7", 40001, "10.0.0.1", 23, CtState.New, CtDirection.Original, PacketVerdict.Drop));
        w.AddPacket(P(3, 3, T0 + 1 * S, "10.0.0.7", 40002, "10.0.0.1", 80, CtState.New, CtDirection.Original, PacketVerdict.Accept));
        // A later sighting of packet 3 (routed out of another interface): an observation, never counted again.
        w.AddPacket(P(4, 3, T0 + 1 * S + 5, "10.0.0.7", 40002, "10.0.0.1", 80, CtState.New, CtDirection.Original, PacketVerdict.Accept, point: "eth1"));
        w.AddPacket(P(5, 4, T0 + 2 * S, "10.0.0.1", 80, "10.0.0.7", 40002, CtState.Established, CtDirection.Reply, PacketVerdict.Accept, len: 100));
        w.AddPacket(P(6, 5, T0 + 3 * S, "10.0.0.7", 40003, "10.0.0.2", 80, CtState.Invalid, CtDirection.Original, PacketVerdict.Accept));
        // The last packet of the run, in bucket 1, from another host: the run ends at T0 + 15 s.
        w.AddPacket(P(7, 6, T0 + 15 * S, "10.0.0.9", 50000, "10.0.0.1", 80, CtState.New, CtDirection.Original, PacketVerdict.Accept));
        // ct 1: 10.0.0.7 -> 10.0.0.1:80 from 1 s to 3 s, reset (CLOSE). ct 2: 10.0.0.7 -> 10.0.0.3:443 from 2 s, still SYN_SENT at the end.
        w.AddConnection(new ConnectionRow { CtId = 1, Orig = T("10.0.0.7", 40002, "10.0.0.1", 80), Reply = T("10.0.0.1", 80, "10.0.0.7", 40002), FirstUs = T0 + 1 * S, LastUs = T0 + 3 * S, TcpState = TcpConntrack.Close });
        w.AddConnection(new ConnectionRow { CtId = 2, Orig = T("10.0.0.7", 40004, "10.0.0.3", 443), Reply = T("10.0.0.3", 443, "203.0.113.1", 40004), FirstUs = T0 + 2 * S, LastUs = -1, TcpState = TcpConntrack.SynSent });
        // ct 2 was masqueraded to 203.0.113.1:40004 at 2 s; the binding went away at 12 s (bucket 1).
        w.AddNatMapping(NatMapping.Create((T0 + 2 * S) * 1000, T("10.0.0.7", 40004, "10.0.0.3", 443), T("10.0.0.3", 443, "203.0.113.1", 40004), 3, NfNatManipType.Src).Removed((T0 + 12 * S) * 1000));
        w.Complete();
        return path;
    }

    private static double[] Values(IReadOnlyList<FeatureWindow> windows, EntityKind kind, string entity, int bucket) =>
        Assert.Single(windows, w => w.Kind == kind && w.Entity == entity && w.BucketStartUs == T0 + bucket * 10 * S).Values;

    private static double V(double[] values, string name) => values[FeatureSchema.Features.ToList().FindIndex(f => f.Name == name)];

    [Fact]
    public void Host_window_features_equal_the_hand_computed_values()
    {
        using var run = RunDatabase.Open(SmallRun(_dir));
        var windows = FeatureQuery.Compute(run, TimeSpan.FromSeconds(10));
        var h = Values(windows, EntityKind.Host, "10.0.0.7", 0);
        // Connections it originated in bucket 0: ct 1 and ct 2; both TCP, one SYN_SENT (half-open), one CLOSE (reset).
        Assert.Equal(2, V(h, "new_conns"));
        Assert.Equal(0.5, V(h, "half_open_share"));
        Assert.Equal(0.5, V(h, "rst_share"));
        // Its packets: 4 sent (ids 1, 2, 3, 6; id 4 is a later sighting of 3) and 1 received (id 5): 5 in all,
        // 1 INVALID (6) and 2 dropped (1, 2).
        Assert.Equal(4, V(h, "pkts_sent"));
        Assert.Equal(1, V(h, "pkts_recv"));
        Assert.Equal(240, V(h, "bytes_sent"));
        Assert.Equal(100, V(h, "bytes_recv"));
        Assert.Equal(1 / 5.0, V(h, "invalid_rate"), 12);
        Assert.Equal(2 / 5.0, V(h, "drop_rate"), 12);
        // Scan signals: destinations {10.0.0.1, 10.0.0.2}, ports {22, 23, 80}.
        Assert.Equal(2, V(h, "distinct_dsts"));
        Assert.Equal(3, V(h, "distinct_dports"));
        // Live at the end of bucket 0: ct 2 (ct 1 ended at 3 s); its SNAT binding (removed at 12 s), set up in this bucket.
        Assert.Equal(1, V(h, "ct_live"));
        Assert.Equal(1, V(h, "nat_ports_live"));
        Assert.Equal(1, V(h, "nat_churn"));
        // Lives: ct 1 2 s; ct 2 from 2 s to the run's end at 15 s, 13 s. Linear interpolation (quantile_cont):
        // median (2 + 13) / 2 = 7.5; 90th percentile 2 + 0.9 * (13 - 2) = 11.9.
        Assert.Equal(7.5, V(h, "dur_p50_s"), 9);
        Assert.Equal(11.9, V(h, "dur_p90_s"), 9);
    }

    [Fact]
    public void Service_nat_and_table_windows_equal_the_hand_computed_values()
    {
        using var run = RunDatabase.Open(SmallRun(_dir));
        var windows = FeatureQuery.Compute(run, TimeSpan.FromSeconds(10));
        // 10.0.0.1:80/tcp in bucket 0: the SYN (received) and the reply from it (ct_dir REPLY: sent); ct 1 was to it, and was reset.
        var svc = Values(windows, EntityKind.Service, "10.0.0.1:80/tcp", 0);
        Assert.Equal(1, V(svc, "pkts_recv"));
        Assert.Equal(1, V(svc, "pkts_sent"));
        Assert.Equal(1, V(svc, "new_conns"));
        Assert.Equal(1, V(svc, "rst_share"));
        // The dropped SYN to port 22 makes a window of its own, all dropped.
        Assert.Equal(1, V(Values(windows, EntityKind.Service, "10.0.0.1:22/tcp", 0), "drop_rate"));
        // 203.0.113.1: one binding set up in bucket 0 (live at its end), removed in bucket 1 (none live).
        var nat0 = Values(windows, EntityKind.Nat, "203.0.113.1", 0);
        Assert.Equal(1, V(nat0, "new_conns"));
        Assert.Equal(1, V(nat0, "nat_ports_live"));
        Assert.Equal(1, V(nat0, "nat_churn"));
        var nat1 = Values(windows, EntityKind.Nat, "203.0.113.1", 1);
        Assert.Equal(0, V(nat1, "nat_ports_live"));
        Assert.Equal(1, V(nat1, "nat_churn"));
        // The table: bucket 0 has 5 packets (ids 1, 2, 3, 5, 6), two connections created, one live at the end;
        // bucket 1 has packet 7 and still ct 2 live.
        var t0 = Values(windows, EntityKind.Table, "conntrack", 0);
        Assert.Equal(5, V(t0, "pkts_sent"));
        Assert.Equal(2, V(t0, "new_conns"));
        Assert.Equal(1, V(t0, "ct_live"));
        Assert.Equal(1, V(Values(windows, EntityKind.Table, "conntrack", 1), "ct_live"));
    }

    [Fact]
    public void Bucket_lengths_parse_as_users_write_them()
    {
        Assert.Equal(TimeSpan.FromSeconds(10), BucketSpan.Parse("10s"));
        Assert.Equal(TimeSpan.FromMilliseconds(500), BucketSpan.Parse("500ms"));
        Assert.Equal(TimeSpan.FromMinutes(1), BucketSpan.Parse("1m"));
        Assert.Equal(TimeSpan.FromHours(1), BucketSpan.Parse("1h"));
        Assert.Equal(TimeSpan.FromSeconds(30), BucketSpan.Parse("30"));
        foreach (var bad in new[] { "", "0s", "-1s", "ten", "10x", "25h", "1.5.2s" })
            Assert.Throws<ArgumentException>(() => BucketSpan.Parse(bad));
    }
}
