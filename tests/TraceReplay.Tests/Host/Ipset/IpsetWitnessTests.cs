using System.Text.RegularExpressions;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Ipset;

namespace TraceReplay.Tests.Host.Ipset;

/// <summary>
/// The real ipset (7.17, kernel 6.x) as the oracle: it stores and prints what we store and print, and
/// `ipset test` with a host element walks the prefixes exactly as a packet lookup does (mtype_test
/// calls mtype_test_cidrs when every prefix is a host), so its answers are our expected packet answers.
/// </summary>
public sealed partial class IpsetWitnessTests
{
    /// <summary>Only types this kernel has modules for (it lacks hash:mac, hash:net,net, hash:ip,mark, …).</summary>
    internal const string Sample = """
        create n4 hash:net family inet
        add n4 10.0.0.0/8
        add n4 10.1.0.0/16 nomatch
        add n4 10.1.2.0/24
        add n4 10.1.2.3 nomatch
        add n4 192.168.0.1-192.168.0.20
        create n6 hash:net family inet6 hashsize 64 maxelem 1000
        add n6 2001:db8::/32
        add n6 2001:db8:1::/48 nomatch
        add n6 2001:db8:1:2::/64
        create np hash:net,port family inet
        add np 10.0.0.0/8,tcp:80-82
        add np 10.9.0.0/16,tcp:81 nomatch
        add np 0.0.0.0/1,udp:53
        add np 172.16.0.0/12,icmp:echo-request
        add np 172.16.0.0/12,vrrp:0
        create ipp hash:ip,port family inet timeout 600 counters comment
        add ipp 1.1.1.1,tcp:22 timeout 0 packets 5 bytes 300 comment "ssh in"
        add ipp 1.1.1.0/30,udp:1000-1002 timeout 0
        add ipp 1.1.1.9,icmp:ping timeout 0
        create ipi hash:ip,port,ip
        add ipi 1.1.1.1,tcp:80,2.2.2.2
        add ipi 1.1.1.2-1.1.1.3,udp:53,2.2.2.3
        create ipn hash:ip,port,net
        add ipn 1.1.1.1,tcp:80,10.0.0.0/8
        add ipn 1.1.1.1,tcp:80,10.1.0.0/16 nomatch
        add ipn 1.1.1.1,tcp:443,10.1.0.0-10.1.0.255
        create ni hash:net,iface
        add ni 10.0.0.0/8,eth0
        add ni 10.1.0.0/16,eth0 nomatch
        add ni 0.0.0.0/0,lo
        add ni 10.2.0.0/16,physdev:eth1
        create hip hash:ip netmask 24
        add hip 192.168.7.7
        add hip 172.16.0.0/23
        create hip6 hash:ip family inet6 netmask 64
        add hip6 2001:db8::1
        create bip bitmap:ip range 10.0.0.0/16 netmask 24
        add bip 10.0.3.7
        add bip 10.0.4.0-10.0.5.255
        create bp bitmap:port range 1000-2000 counters
        add bp 1000-1010
        add bp udp:1500 packets 1 bytes 2
        create bim bitmap:ip,mac range 10.0.0.0/24
        add bim 10.0.0.1,00:11:22:33:44:55
        add bim 10.0.0.2
        create sk hash:ip skbinfo
        add sk 1.1.1.1 skbmark 0x10/0xff skbprio 1:2 skbqueue 3
        add sk 1.1.1.2 skbmark 0x7
        create p6 hash:ip,port family inet6 timeout 100
        add p6 2001:db8::1,icmpv6:echo-request timeout 0
        add p6 2001:db8::1,udp:53 timeout 0
        add p6 2001:db8::1,icmpv6:1/2 timeout 0
        create ni6 hash:net,iface family inet6
        add ni6 2001:db8::/32,eth0
        add ni6 ::/0,eth1
        create ls list:set size 4
        add ls n4
        add ls hip before n4
        """;

    internal static readonly (string Set, string Probe)[] Probes =
    [
        ("n4", "10.0.0.1"), ("n4", "10.1.0.1"), ("n4", "10.1.2.1"), ("n4", "10.1.2.3"), ("n4", "10.1.3.3"),
        ("n4", "11.0.0.1"), ("n4", "192.168.0.0"), ("n4", "192.168.0.1"), ("n4", "192.168.0.16"),
        ("n4", "192.168.0.20"), ("n4", "192.168.0.21"),
        ("n6", "2001:db8::1"), ("n6", "2001:db8:1::1"), ("n6", "2001:db8:1:2::1"), ("n6", "2001:db9::1"),
        ("np", "10.0.0.1,tcp:80"), ("np", "10.0.0.1,tcp:83"), ("np", "10.9.0.1,tcp:81"), ("np", "10.9.0.1,tcp:82"),
        ("np", "10.0.0.1,udp:80"), ("np", "127.0.0.1,udp:53"), ("np", "128.0.0.1,udp:53"),
        ("np", "172.16.5.5,icmp:8/0"), ("np", "172.16.5.5,icmp:0/0"), ("np", "172.16.5.5,vrrp:0"),
        ("np", "172.16.5.5,gre:0"),
        ("ipp", "1.1.1.1,tcp:22"), ("ipp", "1.1.1.1,udp:22"), ("ipp", "1.1.1.3,udp:1002"), ("ipp", "1.1.1.4,udp:1002"),
        ("ipp", "1.1.1.0,udp:1003"), ("ipp", "1.1.1.9,icmp:8/0"), ("ipp", "1.1.1.9,icmp:8/1"),
        ("ipi", "1.1.1.1,tcp:80,2.2.2.2"), ("ipi", "1.1.1.1,tcp:80,2.2.2.3"), ("ipi", "1.1.1.3,udp:53,2.2.2.3"),
        ("ipi", "1.1.1.4,udp:53,2.2.2.3"),
        ("ipn", "1.1.1.1,tcp:80,10.0.0.1"), ("ipn", "1.1.1.1,tcp:80,10.1.0.1"), ("ipn", "1.1.1.1,tcp:443,10.1.0.200"),
        ("ipn", "1.1.1.1,tcp:443,10.1.1.0"), ("ipn", "1.1.1.2,tcp:80,10.0.0.1"),
        ("ni", "10.0.0.1,eth0"), ("ni", "10.1.0.1,eth0"), ("ni", "10.0.0.1,eth1"), ("ni", "99.0.0.1,lo"),
        ("ni", "10.2.0.1,eth1"),
        ("hip", "192.168.7.200"), ("hip", "192.168.8.1"), ("hip", "172.16.1.255"), ("hip", "172.16.2.0"),
        ("hip6", "2001:db8::ffff:1"), ("hip6", "2001:db8:0:1::1"),
        ("bip", "10.0.3.1"), ("bip", "10.0.4.200"), ("bip", "10.0.5.1"), ("bip", "10.0.6.1"), ("bip", "10.1.0.0"),
        ("bp", "1005"), ("bp", "1011"), ("bp", "1500"), ("bp", "999"),
        ("p6", "2001:db8::1,icmpv6:128/0"), ("p6", "2001:db8::1,icmpv6:129/0"), ("p6", "2001:db8::1,udp:53"),
        ("p6", "2001:db8::1,icmpv6:1/2"), ("ni6", "2001:db8::5,eth0"), ("ni6", "2001:db9::5,eth0"), ("ni6", "2001:db8::5,eth1"),
        ("ni6", "2001:db9::5,eth1"), ("sk", "1.1.1.1"), ("sk", "1.1.1.3"),
        ("bim", "10.0.0.1,00:11:22:33:44:55"), ("bim", "10.0.0.1,00:11:22:33:44:56"), ("bim", "10.0.0.3,00:11:22:33:44:55"),
    ];

    [Fact]
    public void Packet_lookups_agree_with_ipset_test()
    {
        using var ipset = IpsetWitness.Start();
        ipset.Restore(Sample);
        var registry = IpsetRegistry.Parse(Sample, "sample");
        var mismatches = new List<string>();
        foreach (var (setName, probe) in Probes)
        {
            var (rc, _, err) = ipset.Ipset(null, "test", setName, probe);
            Assert.True(rc == 0 || err.Contains("is NOT in set", StringComparison.Ordinal), $"ipset test {setName} {probe}: {err}");
            var set = registry[setName];
            var key = ProbeKey(set, probe, out var dirs);
            bool ours = set.Test(in key, dirs);
            if (ours != (rc == 0))
                mismatches.Add($"{setName} {probe}: ipset says {(rc == 0 ? "in" : "not in")}, we say {(ours ? "in" : "not in")}");
        }
        Assert.Empty(mismatches);
    }

    [Fact]
    public void Printed_sample_equals_ipset_save()
    {
        using var ipset = IpsetWitness.Start();
        ipset.Restore(Sample);
        var ours = IpsetRegistry.Parse(Sample, "sample").Save();
        Assert.Equal(Normalize(ipset.Save()), Normalize(ours));
    }

    [Theory]
    [MemberData(nameof(IpsetCorpusTests.Files), MemberType = typeof(IpsetCorpusTests))]
    public void Corpus_file_prints_as_ipset_save_does(string file)
    {
        var registry = IpsetCorpusTests.LoadWithPrerequisites(file);
        using var ipset = IpsetWitness.Start();
        if (IpsetCorpusTests.Prerequisite(file) is string before)
            ipset.Restore(File.ReadAllText(IpsetCorpusTests.Require(before)));
        ipset.Restore(File.ReadAllText(IpsetCorpusTests.Require(file)));
        Assert.Equal(Normalize(ipset.Save()), Normalize(registry.Save()));
    }

    /// <summary>
    /// Hash sets print in bucket order and the kernel picks bucketsize/initval, timeouts tick down
    /// between restore and save, and a large restore can make the kernel grow a set's hash table
    /// (mtype_resize when a bucket overflows, which depends on the random initval: big_sort.saved's
    /// 65,536 entries printed hashsize 32768 on one load and 65536 on another): compare sorted lines
    /// without those.
    /// </summary>
    private static List<string> Normalize(string save) =>
        [.. save.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => BucketInit().Replace(l, ""))
            .Select(l => l.StartsWith("create ", StringComparison.Ordinal) ? HashSize().Replace(l, " hashsize N") : l)
            .Select(l => l.StartsWith("add ", StringComparison.Ordinal) ? Ticking().Replace(l, " timeout N") : l)
            .Order(StringComparer.Ordinal)];

    [GeneratedRegex(@" bucketsize \d+ initval 0x[0-9a-f]+")]
    private static partial Regex BucketInit();

    [GeneratedRegex(@" hashsize \d+")]
    private static partial Regex HashSize();

    [GeneratedRegex(@" timeout [1-9]\d*")]
    private static partial Regex Ticking();

    /// <summary>
    /// The packet an `ipset test` element describes: the first address is the source, the second the
    /// destination, the port and interface the source side; directions to match.
    /// </summary>
    internal static SetKey ProbeKey(IpSet set, string probe, out SetDirections directions)
    {
        var parts = probe.Split(',');
        byte flags = 0;
        int slot = 0;
        var key = new SetKey();
        for (int i = 0; i < parts.Length; i++)
        {
            var dim = set.Type.Dims[i];
            string p = parts[i];
            switch (dim)
            {
                case IpsetDim.Ip or IpsetDim.Net:
                    var a = IpAddr.Parse(p);
                    key = slot++ == 0 ? key with { Src = a, IsV6 = !a.IsV4 } : key with { Dst = a };
                    if (slot == 1)
                        flags |= (byte)(1 << i);
                    break;
                case IpsetDim.Port:
                    flags |= (byte)(1 << i);
                    int colon = p.IndexOf(':');
                    string proto = colon < 0 ? "tcp" : p[..colon];
                    string port = colon < 0 ? p : p[(colon + 1)..];
                    Assert.True(IpsetProtocols.TryParseProtocol(proto, out byte pr));
                    key = key with { Protocol = pr };
                    if (pr is IpsetProtocols.Icmp or IpsetProtocols.IcmpV6)
                    {
                        Assert.True(IpsetProtocols.TryParseIcmp(port, pr == IpsetProtocols.IcmpV6, out ushort tc));
                        key = key with { IcmpType = (byte)(tc >> 8), IcmpCode = (byte)tc };
                    }
                    else
                    {
                        key = key with { SrcPort = ushort.Parse(port, System.Globalization.CultureInfo.InvariantCulture) };
                    }
                    break;
                case IpsetDim.Iface:
                    flags |= (byte)(1 << i);
                    key = key with { InIface = p };
                    break;
                case IpsetDim.Mac:
                    flags |= (byte)(1 << i);
                    Assert.True(IpsetParser.TryParseMac(p, out var mac));
                    key = key with { SrcMac = mac, HasMac = true };
                    break;
                case IpsetDim.Mark:
                    key = key with { Mark = Convert.ToUInt32(p, 16) };
                    break;
                default:
                    break;
            }
        }
        if (set.Type == IpsetType.BitmapPort)
            key = key with { Protocol = IpsetProtocols.Tcp };
        directions = new SetDirections(flags, (byte)set.Type.Dimension);
        return key;
    }
}
