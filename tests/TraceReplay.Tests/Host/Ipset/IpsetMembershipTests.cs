using TraceReplay.Tests.Support;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Ipset;

namespace TraceReplay.Tests.Host.Ipset;

/// <summary>
/// Packet lookups the witness cannot answer (types this kernel lacks, rule directions, clocks,
/// fragments); the expected values are reasoned from the kernel source cited at each test.
/// </summary>
public sealed class IpsetMembershipTests
{
    private static IpAddr A(string s) => IpAddr.Parse(s);

    private static SetKey Tcp(string src, ushort sport, string dst, ushort dport) => new()
    {
        Src = A(src), Dst = A(dst), IsV6 = !A(src).IsV4, Protocol = 6, SrcPort = sport, DstPort = dport,
    };

    [Fact]
    public void Directions_pick_the_packet_side_per_dimension()
    {
        var r = IpsetRegistry.Parse("""
            create web hash:ip,port
            add web 10.0.0.5,tcp:443
            """, "dirs");
        var set = r["web"];
        var toServer = Tcp("192.0.2.1", 50000, "10.0.0.5", 443);
        var fromServer = Tcp("10.0.0.5", 443, "192.0.2.1", 50000);
        Assert.True(set.Test(in toServer, SetDirections.Parse("dst,dst")));
        Assert.False(set.Test(in toServer, SetDirections.Parse("src,src")));
        Assert.False(set.Test(in toServer, SetDirections.Parse("dst,src")));
        Assert.True(set.Test(in fromServer, SetDirections.Parse("src,src")));
        // ip_set_test: fewer flags than the set has dimensions never matches.
        Assert.False(set.Test(in toServer, SetDirections.Parse("dst")));
        // Extra flags are ignored.
        Assert.True(set.Test(in toServer, SetDirections.Parse("dst,dst,src")));
    }

    [Fact]
    public void Family_must_match_except_for_family_free_types()
    {
        var r = IpsetRegistry.Parse("""
            create v4 hash:ip
            add v4 10.0.0.1
            create ports bitmap:port range 0-1024
            add ports 22
            create l list:set
            add l v4
            add l ports
            """, "family");
        var v6 = Tcp("2001:db8::1", 40000, "2001:db8::2", 22);
        Assert.False(r["v4"].Test(in v6, SetDirections.Src)); // ip_set_test: set->family != opt->family
        Assert.True(r["ports"].Test(in v6, SetDirections.Dst)); // bitmap:port is NFPROTO_UNSPEC
        Assert.True(r["l"].Test(in v6, SetDirections.Dst));     // list:set passes the family to its members
    }

    [Fact]
    public void Non_first_fragments_have_no_ports_but_portless_protocols_still_match()
    {
        var r = IpsetRegistry.Parse("""
            create s hash:ip,port
            add s 10.0.0.1,udp:53
            add s 10.0.0.1,gre:0
            """, "frag");
        var set = r["s"];
        var dns = new SetKey { Src = A("10.0.0.1"), Protocol = 17, SrcPort = 53 };
        Assert.True(set.Test(in dns, SetDirections.Parse("src,src")));
        // ip_set_get_ip4_port: offset > 0 for TCP/UDP/SCTP/UDP-Lite/ICMP → false → no match.
        var frag = dns with { NoTransportHeader = true };
        Assert.False(set.Test(in frag, SetDirections.Parse("src,src")));
        var gre = new SetKey { Src = A("10.0.0.1"), Protocol = 47, NoTransportHeader = true };
        Assert.True(set.Test(in gre, SetDirections.Parse("src,src")));
    }

    [Fact]
    public void Icmp_elements_match_type_and_code()
    {
        var r = IpsetRegistry.Parse("""
            create s hash:ip,port
            add s 10.0.0.1,icmp:echo-request
            create s6 hash:ip,port family inet6
            add s6 2001:db8::1,icmpv6:neighbour-solicitation
            """, "icmp");
        var ping = new SetKey { Dst = A("10.0.0.1"), Protocol = 1, IcmpType = 8, IcmpCode = 0 };
        Assert.True(r["s"].Test(in ping, SetDirections.Parse("dst,dst")));
        var reply = ping with { IcmpType = 0 };
        Assert.False(r["s"].Test(in reply, SetDirections.Parse("dst,dst")));
        var ns = new SetKey { Dst = A("2001:db8::1"), IsV6 = true, Protocol = 58, IcmpType = 135 };
        Assert.True(r["s6"].Test(in ns, SetDirections.Parse("dst,dst")));
    }

    [Fact]
    public void Hash_net_net_walks_both_prefix_lists_most_specific_first()
    {
        // mtype_test_cidrs with IPSET_NET_COUNT == 2: for each first-dimension prefix (longest first),
        // each second-dimension prefix (longest first); the first hit decides.
        var r = IpsetRegistry.Parse("""
            create nn hash:net,net
            add nn 10.0.0.0/8,192.168.0.0/16
            add nn 10.1.0.0/16,192.168.0.0/16 nomatch
            add nn 10.1.0.0/16,192.168.1.0/24
            """, "netnet");
        var set = r["nn"];
        var d = SetDirections.Parse("src,dst");
        Assert.True(set.Test(Tcp("10.2.0.1", 1, "192.168.5.5", 2), d));
        Assert.False(set.Test(Tcp("10.1.0.1", 1, "192.168.5.5", 2), d));  // /16,/16 nomatch beats /8,/16
        Assert.True(set.Test(Tcp("10.1.0.1", 1, "192.168.1.5", 2), d));   // /16,/24 is tried before /16,/16
        Assert.False(set.Test(Tcp("11.0.0.1", 1, "192.168.1.5", 2), d));
    }

    [Fact]
    public void Hash_net_port_net_and_ip_mark_and_macs()
    {
        var r = IpsetRegistry.Parse("""
            create npn hash:net,port,net
            add npn 10.0.0.0/24,tcp:22,172.16.0.0/12
            add npn 10.0.0.128/25,tcp:22,172.16.0.0/12 nomatch
            create im hash:ip,mark markmask 0xff
            add im 10.0.0.1,0x1ff
            create m hash:mac
            add m 00:11:22:33:44:55
            create ipm hash:ip,mac
            add ipm 10.0.0.1,00:11:22:33:44:55
            """, "misc");
        var d3 = SetDirections.Parse("src,dst,dst");
        Assert.True(r["npn"].Test(Tcp("10.0.0.1", 999, "172.20.0.1", 22), d3));
        Assert.False(r["npn"].Test(Tcp("10.0.0.200", 999, "172.20.0.1", 22), d3));
        Assert.False(r["npn"].Test(Tcp("10.0.0.1", 999, "172.20.0.1", 23), d3));

        // hash_ipmark4_uadt/kadt: both the element's and the packet's mark are ANDed with markmask.
        var marked = new SetKey { Src = A("10.0.0.1"), Mark = 0x2ff };
        Assert.True(r["im"].Test(in marked, SetDirections.Parse("src,src")));
        Assert.False(r["im"].Test(marked with { Mark = 0xfe }, SetDirections.Parse("src,src")));

        var mac = MacAddr.Read([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
        var frame = new SetKey { Src = A("10.0.0.1"), HasMac = true, SrcMac = mac };
        Assert.True(r["m"].Test(in frame, SetDirections.Src));
        Assert.False(r["m"].Test(in frame, SetDirections.Dst));            // dst MAC is zero: -EINVAL
        Assert.False(r["m"].Test(frame with { HasMac = false }, SetDirections.Src)); // no Ethernet header (OUTPUT)
        Assert.True(r["ipm"].Test(in frame, SetDirections.Parse("src,src")));
    }

    [Fact]
    public void Timeouts_expire_on_the_capture_clock()
    {
        var r = IpsetRegistry.Parse("""
            create t hash:net timeout 100
            add t 10.0.0.0/8 timeout 30
            add t 10.1.0.0/16 timeout 10 nomatch
            add t 192.168.0.0/16 timeout 0
            create l list:set timeout 100
            add l t timeout 50
            """, "timeouts");
        r.SnapshotTimeUs = 1_000_000_000;
        var set = r["t"];
        var key = new SetKey { Src = A("10.1.2.3") };
        long at = r.SnapshotTimeUs;
        Assert.False(set.Test(in key, SetDirections.Src, at + 5_000_000));  // the nomatch /16 still lives
        Assert.True(set.Test(in key, SetDirections.Src, at + 10_000_000));  // expired nomatch is skipped: /8 decides
        Assert.False(set.Test(in key, SetDirections.Src, at + 30_000_000)); // both gone
        Assert.False(set.Test(in key, SetDirections.Src));                   // no clock: every entry is live
        var perm = new SetKey { Src = A("192.168.1.1") };
        Assert.True(set.Test(in perm, SetDirections.Src, at + 1_000_000_000_000)); // timeout 0 is permanent
        Assert.True(r["l"].Test(in perm, SetDirections.Src, at + 49_000_000));
        Assert.False(r["l"].Test(in perm, SetDirections.Src, at + 50_000_000)); // the list member expired
    }

    [Fact]
    public void List_set_tests_members_in_order_and_restore_commands_apply()
    {
        var r = IpsetRegistry.Parse("""
            create a hash:ip
            add a 1.1.1.1
            create b hash:ip
            add b 2.2.2.2
            create c hash:ip
            create l list:set
            add l a
            add l c
            add l b before c
            del l c
            rename c c2
            swap a b
            """, "list");
        Assert.Equal(["a", "b"], r["l"].Entries.Select(e => e.Member!.Name));
        // After swap the name "a" holds 2.2.2.2 and the list still refers to "a" first.
        Assert.True(r["a"].Test(new SetKey { Src = A("2.2.2.2") }, SetDirections.Src));
        Assert.True(r["l"].Test(new SetKey { Src = A("1.1.1.1") }, SetDirections.Src));
        Assert.True(r.TryGet("c2", out _));
        r.Restore("flush a\ndestroy c2\n", "more");
        Assert.Equal(0, r["a"].Count);
        Assert.False(r.TryGet("c2", out _));
    }

    [Fact]
    public void Lookups_do_not_allocate()
    {
        var text = new System.Text.StringBuilder("create n hash:net\ncreate ni hash:net,iface\ncreate ipn hash:ip,port,net\n");
        for (int i = 0; i < 200; i++)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"add n 10.{i}.0.0/{16 + (i % 9)}\n");
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"add ni 10.{i}.0.0/16,eth{i % 4}\n");
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"add ipn 192.168.0.{i},tcp:80,10.{i}.0.0/{20 + (i % 5)}\n");
        }
        text.Append("create l list:set\nadd l ni\nadd l n\n");
        var r = IpsetRegistry.Parse(text.ToString(), "alloc");
        var n = r["n"];
        var l = r["l"];
        var ipn = r["ipn"];
        var d1 = SetDirections.Src;
        var d2 = SetDirections.Parse("src,dst");
        var d3 = SetDirections.Parse("dst,dst,src");
        var key = new SetKey { Src = A("10.7.1.1"), Dst = A("192.168.0.7"), Protocol = 6, DstPort = 80, InIface = "eth3", OutIface = "eth0" };
        int hits = 0;
        for (int i = 0; i < 100; i++) // warm up (JIT, tiering)
            hits += (n.Test(in key, d1) ? 1 : 0) + (l.Test(in key, d2, 5) ? 1 : 0) + (ipn.Test(in key, d3) ? 1 : 0);
        long allocated = Allocations.Quietest(() =>
        {
            for (int i = 0; i < 100_000; i++)
            {
                var k = key with { Src = IpAddr.FromV4(0x0A000000u | ((uint)(i % 256) << 16) | 1u) };
                hits += (n.Test(in k, d1) ? 1 : 0) + (l.Test(in k, d2, i) ? 1 : 0) + (ipn.Test(in k, d3) ? 1 : 0);
            }
        });
        Assert.Equal(0, allocated);
        Assert.True(hits > 0);
    }

    [Fact]
    public void Return_nomatch_inverts_for_nomatch_types_and_reports_the_deciding_entry()
    {
        // ip_set_test: with IPSET_FLAG_RETURN_NOMATCH and a type with IPSET_TYPE_NOMATCH, a hit on an
        // ordinary entry (1) becomes -1 (no match) and a nomatch hit (-ENOTEMPTY) becomes a match.
        var r = IpsetRegistry.Parse("""
            create n hash:net counters
            add n 10.0.0.0/8
            add n 10.1.0.0/16 nomatch
            create h hash:ip
            add h 10.1.0.1
            """, "retnomatch");
        var n = r["n"];
        var plain = new SetKey { Src = A("10.2.0.1") };
        var excluded = new SetKey { Src = A("10.1.0.1") };
        Assert.True(n.Test(in plain, SetDirections.Src, long.MinValue, false, out var e1));
        Assert.Equal(8, e1!.Elem.Cidr);
        Assert.False(n.Test(in plain, SetDirections.Src, long.MinValue, true, out _));
        Assert.False(n.Test(in excluded, SetDirections.Src, long.MinValue, false, out var e2));
        Assert.True(e2!.NoMatch);
        Assert.True(n.Test(in excluded, SetDirections.Src, long.MinValue, true, out _));
        // hash:ip has no nomatch feature: the flag changes nothing.
        Assert.True(r["h"].Test(in excluded, SetDirections.Src, long.MinValue, true, out _));
        e1.CountPacket(60);
        e1.CountPacket(40);
        Assert.Equal((2UL, 100UL), (e1.Packets!.Value, e1.Bytes!.Value));
    }

    [Fact]
    public void Create_with_exist_accepts_only_the_same_set()
    {
        var r = IpsetRegistry.Parse("create s hash:ip timeout 5\ncreate s hash:ip timeout 5 hashsize 2048\n", "same", exist: true);
        Assert.Single(r.Sets);
        var ex = Assert.Throws<TraceReplay.Host.Parsing.HostParseException>(
            () => IpsetRegistry.Parse("create s hash:ip timeout 5\ncreate s hash:ip timeout 6\n", "diff", exist: true));
        Assert.Equal(2, ex.Location.Line);
    }

    [Theory]
    [InlineData("src", 1, 1)]
    [InlineData("dst", 0, 1)]
    [InlineData("src,dst,src", 0b101, 3)]
    [InlineData("dst,dst,dst,dst,dst,src", 0b100000, 6)]
    public void Directions_parse_like_the_set_match(string text, int flags, int dim)
    {
        var d = SetDirections.Parse(text);
        Assert.Equal(new SetDirections((byte)flags, (byte)dim), d);
        Assert.Equal(text, d.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("source")]
    [InlineData("src,,dst")]
    [InlineData("src,src,src,src,src,src,src")] // IPSET_DIM_MAX is 6
    public void Bad_directions_are_refused(string text) => Assert.False(SetDirections.TryParse(text, out _));
}
