using TraceReplay.Host.Ipset;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Netfilter.Xt.Matches;
using TraceReplay.Tests.Netfilter.Tables;
using static TraceReplay.Tests.Netfilter.Tables.TableHarness;
using static TraceReplay.Tests.Netfilter.Xt.XtMatchTests;

namespace TraceReplay.Tests.Netfilter.Xt;

/// <summary>
/// Matches with per-rule or per-namespace state on the capture clock and the seeded generator:
/// limit and hashlimit against the kernel's integer formulas (worked out next to each test), nth and
/// random statistic, recent lists, and ipset lookups.
/// </summary>
public sealed class XtStatefulMatchTests
{
    private const long Second = 1_000_000_000;

    private static string Seq(XtTableInfo t, TestPacket pkt, params double[] seconds) =>
        string.Concat(seconds.Select(s => Verdict(t, pkt, timeNs: (long)(s * Second)) == Tristate.True ? "T" : "F"));

    [Theory]
    [InlineData(250, 128u)] // 0xFFFFFFFF / (250·86400) = 198 → 128
    [InlineData(1000, 32u)] // 0xFFFFFFFF / (1000·86400) = 49 → 32
    [InlineData(100, 256u)] // 497 → 256
    public void Limit_credits_per_jiffy(int hz, uint cpj) => Assert.Equal(cpj, LimitMt.CreditsPerJiffyFor(hz));

    [Fact]
    public void Limit_one_per_second_burst_two()
    {
        // HZ 250: user2credits(x) = x · 250 · 128 / 10000. avg = 10000 (1/sec) → cost 32000;
        // cap = user2credits(20000) = 64000. Full at the first packet: two match at t=0, the third
        // not; 0.5 s = 125 jiffies adds 16000 (still short), 1.0 s adds another 16000 = one cost.
        // After 10 s the bucket is full again (capped at 64000): two more, then none.
        var t = Filter("-A FORWARD -m limit --limit 1/sec --limit-burst 2 -j DROP");
        Assert.Equal("TTFFTTTF", Seq(t, Tcp(), 0, 0, 0, 0.5, 1.0, 10, 10, 10));
    }

    [Fact]
    public void Limit_default_three_per_hour()
    {
        // avg = 10000 · 3600 / 3 = 12000000 > 0xFFFFFFFF / 32000, so user2credits divides first:
        // cost = 1200 · 32000 = 38400000, cap = user2credits(60000000) = 6000 · 32000. One cost is
        // 38400000 / 128 = 300000 jiffies = 1200 s at HZ 250: five at t=0, the sixth not, nothing
        // at 1199.996 s (299999 jiffies), one at 1200 s.
        var t = Filter("-A FORWARD -m limit -j DROP");
        Assert.Equal("TTTTTFFT", Seq(t, Tcp(), 0, 0, 0, 0, 0, 0, 1199.996, 1200));
        var v = Run(t, Tcp(), timeNs: 1200 * Second);
        Assert.True((v.Flags & IptVerdictFlags.DependsOnClockOrRandom) != 0);
    }

    [Fact]
    public void Limit_at_hz_1000_takes_whole_milliseconds()
    {
        // HZ 1000, CREDITS_PER_JIFFY 32: HZ·CPJ is again 32000, so cost 32000; 1/sec refills one cost in 1000 jiffies.
        var t = Filter("-A FORWARD -m limit --limit 1/sec --limit-burst 1 -j DROP", new XtNet { Hz = 1000 });
        Assert.Equal("TFFT", Seq(t, Tcp(), 0, 0.5, 0.9999, 1.0));
    }

    [Fact]
    public void Hashlimit_credits()
    {
        // HZ 250: CREDITS_PER_JIFFY = POW2_BELOW64(2^64−1 / 21600000) = 2^39; user2credits(x) =
        // x · (250 · 2^39 / 10^6) = x · 137438953.
        Assert.Equal(1UL << 39, HashlimitMt.CreditsPerJiffyFor(250));
        Assert.Equal(1_000_000UL * 137438953UL, HashlimitMt.User2Credits(1_000_000, 1UL << 39, 250));
    }

    [Fact]
    public void Hashlimit_one_bucket_per_source()
    {
        // 1/sec burst 2, per source address. Each source starts full (rateinfo_init: cap = 2 costs).
        // 0.5 s adds 125 · 2^39 = 68719476736000, short of one cost (137438953000000); 1.0 s adds as
        // much again, 137438953472000 ≥ cost.
        var t = Filter("-A FORWARD -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 2 --hashlimit-mode srcip --hashlimit-name h1 -j DROP");
        var a = Tcp(src: "10.0.0.1");
        var b = Tcp(src: "10.0.0.2");
        Assert.Equal("TTF", Seq(t, a, 0, 0, 0));
        Assert.Equal("TT", Seq(t, b, 0, 0));
        Assert.Equal("FT", Seq(t, a, 0.5, 1.0));

        // --hashlimit-above inverts: over the rate matches.
        var above = Filter("-A FORWARD -m hashlimit --hashlimit-above 1/sec --hashlimit-burst 1 --hashlimit-mode srcip,dstport --hashlimit-name h2 -j DROP");
        Assert.Equal("FT", Seq(above, a, 0, 0));
        Assert.Equal("F", Seq(above, Tcp(src: "10.0.0.1", dport: 443), 0));
    }

    [Fact]
    public void Hashlimit_tables_are_shared_by_name_and_expire()
    {
        // Two rules naming the same table share the buckets (htable_find_get).
        var net = new XtNet();
        var t = Filter("""
            -A FORWARD -p tcp -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-mode srcip --hashlimit-name shared --hashlimit-htable-expire 5000 -j ACCEPT
            -A FORWARD -p udp -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-mode srcip --hashlimit-name shared --hashlimit-htable-expire 5000 -j ACCEPT
            -A FORWARD -j DROP
            """, net);
        Assert.Equal(XtVerdict.Accept, Run(t, Tcp(src: "10.0.0.1")).Verdict);
        Assert.Equal(XtVerdict.Drop, Run(t, Udp(src: "10.0.0.1")).Verdict); // the TCP packet took the shared bucket's only token

        // 3 s later the bucket has refilled 3/60 of a token: still over.
        Assert.Equal(XtVerdict.Drop, Run(t, Udp(src: "10.0.0.1"), timeNs: 3 * Second).Verdict);

        // Expiry 5 s after the last packet, gc every second (default): at 9 s the bucket is gone and a new one starts full.
        Assert.Equal(XtVerdict.Accept, Run(t, Udp(src: "10.0.0.1"), timeNs: 9 * Second).Verdict);
    }

    [Fact]
    public void Statistic_nth_counts_per_rule()
    {
        // statistic_mt nth: count starts at --packet (0), nval = count == every−1 ? 0 : count+1, match on 0:
        // counts 1, 2, 0 — the third packet matches, then every third.
        var t = Filter("-A FORWARD -m statistic --mode nth --every 3 --packet 0 -j DROP");
        Assert.Equal("FFTFFT", Seq(t, Tcp(), 0, 0, 0, 0, 0, 0));
        var p2 = Filter("-A FORWARD -m statistic --mode nth --every 3 --packet 2 -j DROP");
        Assert.Equal("TFFT", Seq(p2, Tcp(), 0, 0, 0, 0));
    }

    [Fact]
    public void Statistic_random_is_seeded()
    {
        string Draws(ulong seed)
        {
            var t = Filter("-A FORWARD -m statistic --mode random --probability 0.5 -j DROP", new XtNet { Random = new XtRandom(seed) });
            return Seq(t, Tcp(), [.. Enumerable.Repeat(0.0, 2000)]);
        }

        string a = Draws(42);
        Assert.Equal(a, Draws(42));
        Assert.NotEqual(a, Draws(43));

        // Binomial(2000, 0.5): mean 1000, σ ≈ 22; 5σ either side.
        int hits = a.Count(c => c == 'T');
        Assert.InRange(hits, 890, 1110);
        var always = Filter("-A FORWARD -m statistic --mode random --probability 1 -j DROP");
        Assert.Equal("TTTT", Seq(always, Tcp(), 0, 0, 0, 0));
        var never = Filter("-A FORWARD -m statistic --mode random --probability 0 -j DROP");
        Assert.Equal("FFFF", Seq(never, Tcp(), 0, 0, 0, 0));
    }

    [Fact]
    public void Recent_ssh_brute_force_recipe()
    {
        // The classic pair. recent_mt: --update finds no entry at first (no match); --set adds
        // one stamp per packet. At the fifth packet four stamps lie in the last 60 s: hitcount
        // reached, DROP (and --update adds a stamp). At t=100 s every stamp is older than
        // 100 − 60 = 40 s: no hits, ACCEPT again. Another source has its own entry.
        var t = Filter("""
            -A FORWARD -p tcp -m tcp --dport 22 -m recent --update --seconds 60 --hitcount 4 --name SSH --rsource -j DROP
            -A FORWARD -p tcp -m tcp --dport 22 -m recent --set --name SSH --rsource -j ACCEPT
            """);
        string Fate(string src, double s) => Run(t, Tcp(src: src, dport: 22), timeNs: (long)(s * Second)).Verdict == XtVerdict.Drop ? "D" : "A";
        Assert.Equal("AAAAD", string.Concat(new[] { 0.0, 1, 2, 3, 4 }.Select(s => Fate("10.0.0.1", s))));
        Assert.Equal("A", Fate("10.0.0.2", 4));
        Assert.Equal("A", Fate("10.0.0.1", 100));
    }

    [Fact]
    public void Recent_rcheck_remove_and_mask()
    {
        var t = Filter("""
            -A FORWARD -p udp -m recent --remove --name L -j ACCEPT
            -A FORWARD -m recent --rcheck --name L --mask 255.255.255.0 -j DROP
            -A FORWARD -p tcp -m recent --set --name L --mask 255.255.255.0
            """);
        Assert.Equal(XtVerdict.Accept, Run(t, Tcp(src: "10.0.0.1")).Verdict); // set 10.0.0.0
        Assert.Equal(XtVerdict.Drop, Run(t, Tcp(src: "10.0.0.77")).Verdict); // same /24 under the table's mask
        // --remove without --mask uses the full address: 10.0.0.77 is not the stored 10.0.0.0, so no match, then rcheck drops.
        Assert.Equal(XtVerdict.Drop, Run(t, Udp(src: "10.0.0.77")).Verdict);
        Assert.Equal(XtVerdict.Accept, Run(t, Udp(src: "10.0.0.0")).Verdict); // removes it
        Assert.Equal(XtVerdict.Accept, Run(t, Tcp(src: "10.0.0.77")).Verdict); // gone: set again
    }

    [Fact]
    public void Set_match_tests_the_hosts_ipsets()
    {
        var sets = IpsetRegistry.Parse("""
            create blk hash:ip family inet hashsize 1024 maxelem 65536
            add blk 10.0.0.1
            create web hash:ip,port family inet hashsize 1024 maxelem 65536
            add web 192.0.2.7,tcp:80
            """, "ipset.save");
        var net = new XtNet { Ipsets = sets };
        Assert.Equal(Tristate.True, Eval("-m set --match-set blk src", Tcp(src: "10.0.0.1"), net: net));
        Assert.Equal(Tristate.False, Eval("-m set --match-set blk src", Tcp(src: "10.0.0.2"), net: net));
        Assert.Equal(Tristate.False, Eval("-m set --match-set blk dst", Tcp(src: "10.0.0.1"), net: net));
        Assert.Equal(Tristate.True, Eval("-m set ! --match-set blk src", Tcp(src: "10.0.0.2"), net: net));
        Assert.Equal(Tristate.True, Eval("-m set --match-set web dst,dst", Tcp(dst: "192.0.2.7", dport: 80), net: net));
        Assert.Equal(Tristate.False, Eval("-m set --match-set web dst,dst", Tcp(dst: "192.0.2.7", dport: 81), net: net));
        Assert.Equal(Tristate.False, Eval("-m set --match-set web dst,dst", Udp(dst: "192.0.2.7", dport: 80), net: net));

        // A set the snapshot does not hold: unknown.
        Assert.Equal(Tristate.Unknown, Eval("-m set --match-set nosuch src", Tcp(), net: net));
    }
}
