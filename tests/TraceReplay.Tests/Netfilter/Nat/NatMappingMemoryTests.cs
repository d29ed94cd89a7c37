using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Tests.Netfilter.Conntrack;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Netfilter.Nat;

/// <summary>
/// Issue 9's bounded memory for NAT: the hook keeps a binding only while its connection lives and
/// hands it on when conntrack destroys the entry, so a long capture with many short NATed flows
/// holds the live ones only, and the records still all come out, in set-up order by their sequence.
/// </summary>
[Collection(MemoryMeasurement.Name)]
public sealed class NatMappingMemoryTests(ITestOutputHelper output)
{
    private const long S = CtPackets.S;
    private static readonly IpAddr Public = IpAddr.Parse("198.51.100.1");

    /// <summary>POSTROUTING -s 172.17.0.0/16 → SNAT to 198.51.100.1 (docker-host's MASQUERADE), rule entry 7.</summary>
    private readonly struct Masquerade : INfNatRuleLookup
    {
        public bool Lookup(NfInetHook hook, in DecodedPacket packet, out NfNatRange2 range, out int ruleId)
        {
            range = new NfNatRange2(NfNatRangeFlags.MapIps, Public, Public, 0, 0, 0);
            ruleId = 7;
            return hook == NfInetHook.PostRouting;
        }
    }

    /// <summary>The first packet of UDP flow <paramref name="i"/> from the container through the SNAT hook, confirmed.</summary>
    private static void Open(NfConntrackTable ct, NfNatHook nat, int i, long now)
    {
        // 60,000 source ports per destination: every flow's masqueraded reply tuple is free, no port search.
        byte[] frame = Frames.UdpV4("172.17.0.2", (ushort)(1024 + (i % 60_000)), $"10.0.{i / 60_000}.1", 53);
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        var info = ct.ConntrackIn(in d, frame, now);
        var rules = new Masquerade();
        Assert.Equal(NatVerdict.Accept, nat.Process(frame, ref d, info, NfInetHook.PostRouting, now, ref rules));
        Assert.True(ct.Confirm(info.Entry, now));
    }

    [Fact]
    public void Closed_bindings_leave_the_hook_and_every_one_reaches_the_sink()
    {
        const int N = 20_000;
        var ct = CtPackets.Table(max: N, buckets: 4096);
        var log = new NatMappingLog();
        var nat = new NfNatHook(ct, new NfNatCore(seed: 1)) { MappingSink = log };
        for (int i = 0; i < N; i++)
        {
            Open(ct, nat, i, (10 + i) * S);
            // Unreplied UDP lives nf_conntrack_udp_timeout = 30 s: flows opened up to now - 30 s are gone.
            ct.ExpireUntil((10 + i) * S);
            nat.OnEvents(ct.Events);
            ct.ClearEvents();
            Assert.True(nat.OpenCount <= 30, $"{nat.OpenCount} open bindings at flow {i}");
        }
        Assert.Equal(N, nat.MappingsMade);
        Assert.Equal(N - 30, log.Closed.Count); // a deadline at or before now has passed (nf_ct_is_expired): flows opened up to 30 s before the last are gone
        Assert.Equal(30, nat.OpenCount);
        // Each record closed at its deadline, set up 30 s earlier, and the log in sequence order is set-up order.
        Assert.All(log.Closed, m => Assert.Equal(m.SetUpNs + 30 * S, m.RemovedNs));
        var all = log.All(nat);
        Assert.Equal(N, all.Count);
        Assert.Equal(Enumerable.Range(0, N).Select(i => (long)i), all.Select(m => m.Sequence));
        Assert.Equal(Enumerable.Range(0, N).Select(i => (10L + i) * S), all.Select(m => m.SetUpNs));
        Assert.All(all, m => Assert.Equal((Public, NfNatManipType.Src, 7), (m.NatAddress, m.Manip, m.RuleId)));
        Assert.Equal(30, all.Count(m => m.RemovedNs == NatMapping.Live));
    }

    [Fact]
    public void A_million_open_bindings_cost_at_most_128_bytes_each_beyond_conntrack()
    {
        const int N = 1_000_000;
        long withNat = Measure(N, nat: true, out int open);
        Assert.Equal(N, open);
        long without = Measure(N, nat: false, out _);
        double perBinding = (withNat - without) / (double)N;
        output.WriteLine($"{N} live connections: {without} bytes without NAT, {withNat} with a binding each: {perBinding:F1} bytes per open binding");
        // A binding costs what the kernel's costs (its nf_nat_bysource node: the reply tuple and a link,
        // 44 B in an array that doubles) plus its open record: set-up time, sequence and rule (24 B) in a
        // Dictionary entry (key, hash, next: 16 B) with a bucket (4 B), capacity up to ~2x the count.
        // The old List of every mapping ever made cost 112 B per binding and never shrank.
        Assert.True(perBinding <= 128, $"{perBinding:F1} bytes per open binding");
    }

    private static long Measure(int n, bool nat, out int open)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var ct = CtPackets.Table(max: n, buckets: 262144);
        ct.EventsEnabled = false;
        var hook = new NfNatHook(ct, new NfNatCore(seed: 1));
        var rules = new Masquerade();
        for (int i = 0; i < n; i++)
        {
            if (nat)
            {
                Open(ct, hook, i, 1000);
                continue;
            }
            byte[] frame = Frames.UdpV4("172.17.0.2", (ushort)(1024 + (i % 60_000)), $"10.0.{i / 60_000}.1", 53);
            PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
            var info = ct.ConntrackIn(in d, frame, 1000);
            Assert.True(ct.Confirm(info.Entry, 1000));
        }
        Assert.Equal(n, ct.Count);
        open = hook.OpenCount;
        long after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(ct);
        GC.KeepAlive(hook);
        GC.KeepAlive(rules);
        return after - before;
    }
}
