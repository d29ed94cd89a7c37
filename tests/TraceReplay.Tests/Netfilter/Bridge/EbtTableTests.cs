using PacketDotNet;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Ebtables;
using TraceReplay.Host.Parsing;
using TraceReplay.Netfilter.Bridge;
using TraceReplay.Netfilter.Tables;
using static TraceReplay.Tests.Netfilter.Bridge.BridgeHarness;

namespace TraceReplay.Tests.Netfilter.Bridge;

/// <summary>
/// ebt_do_table over rules written as the libebt_*.t tests write them, parsed by the Host parser,
/// on frames PacketDotNet builds. Expected verdicts follow from the kernel modules' code
/// (net/bridge/netfilter/ebt_*.c), reasoned next to each case.
/// </summary>
public sealed class EbtTableTests
{
    private sealed class Records : IEbtRecordSink
    {
        public List<EbtRecord> All { get; } = [];

        public void Record(in EbtRecord record, in DecodedPacket packet) => All.Add(record);
    }

    private static string Verdict(EbtTableInfo t, BrFrame f, NfBrHook hook = NfBrHook.Forward, uint mark = 0, long timeNs = 0, string? inDev = "veth0", string? outDev = "veth1")
    {
        var r = Run(t, f, hook, inDev, outDev, mark, timeNs);
        return $"{(r.Verdict.Verdict == XtVerdict.Accept ? "ACCEPT" : r.Verdict.Verdict.ToString().ToUpperInvariant())} {Where(t, r.Verdict)}";
    }

    [Theory]
    [InlineData("-p IPv4 --ip-src 10.0.0.0/24 -j DROP", "10.0.0.9", "DROP filter:FORWARD:1")]
    [InlineData("-p IPv4 --ip-src 10.0.0.0/24 -j DROP", "10.0.1.9", "ACCEPT filter:FORWARD:policy")]
    [InlineData("-p IPv4 ! --ip-src 10.0.0.0/24 -j DROP", "10.0.1.9", "DROP filter:FORWARD:1")]
    [InlineData("-p IPv4 --ip-proto udp --ip-dport 50:60 -j DROP", "10.0.0.1", "DROP filter:FORWARD:1")]
    [InlineData("-p IPv4 --ip-proto udp --ip-dport 54:60 -j DROP", "10.0.0.1", "ACCEPT filter:FORWARD:policy")]
    [InlineData("-p IPv4 --ip-proto tcp -j DROP", "10.0.0.1", "ACCEPT filter:FORWARD:policy")]
    [InlineData("-p IPv4 --ip-proto udp --ip-sport 40000 --ip-dport 53 -j DROP", "10.0.0.1", "DROP filter:FORWARD:1")]
    [InlineData("-p ARP -j DROP", "10.0.0.1", "ACCEPT filter:FORWARD:policy")]
    [InlineData("-p ! IPv4 -j DROP", "10.0.0.1", "ACCEPT filter:FORWARD:policy")]
    [InlineData("-s 02:aa:00:00:00:00/ff:ff:00:00:00:00 -d 02:aa:00:00:00:0b -j DROP", "10.0.0.1", "DROP filter:FORWARD:1")]
    [InlineData("-s ! 02:aa:00:00:00:00/ff:ff:00:00:00:00 -j DROP", "10.0.0.1", "ACCEPT filter:FORWARD:policy")]
    [InlineData("-i veth+ -o veth1 --logical-in br0 --logical-out br0 -j DROP", "10.0.0.1", "DROP filter:FORWARD:1")]
    [InlineData("-i veth -j DROP", "10.0.0.1", "ACCEPT filter:FORWARD:policy")]
    [InlineData("--logical-in ! br0 -j DROP", "10.0.0.1", "ACCEPT filter:FORWARD:policy")]
    public void Ip_header_and_interfaces(string rule, string ipSrc, string expected)
    {
        var t = Compile("filter", "-A FORWARD " + rule);
        Assert.Equal(expected, Verdict(t, Udp(A, B, ipSrc: ipSrc)));
    }

    [Fact]
    public void Icmp_type_and_code_ranges()
    {
        var t = Compile("filter", """
            -A FORWARD -p IPv4 --ip-proto icmp --ip-icmp-type echo-request -j DROP
            -A FORWARD -p IPv4 --ip-proto icmp ! --ip-icmp-type 1:10 -j ACCEPT
            -A FORWARD -j CONTINUE
            """, policy: "DROP");
        Assert.Equal("DROP filter:FORWARD:1", Verdict(t, Icmp(A, B, "10.0.0.1", "10.0.0.2", type: 8)));
        Assert.Equal("ACCEPT filter:FORWARD:2", Verdict(t, Icmp(A, B, "10.0.0.1", "10.0.0.2", type: 0)));
        Assert.Equal("DROP filter:FORWARD:policy", Verdict(t, Icmp(A, B, "10.0.0.1", "10.0.0.2", type: 3)));
    }

    [Fact]
    public void Ip6_protocol_and_ports()
    {
        var t = Compile("filter", """
            -A FORWARD -p IPv6 --ip6-src 2001:db8::/32 --ip6-proto tcp --ip6-dport 443 -j DROP
            -A FORWARD -p IPv6 --ip6-proto tcp -j ACCEPT
            """, policy: "DROP");
        Assert.Equal("DROP filter:FORWARD:1", Verdict(t, Tcp6(A, B, "2001:db8::1", "2001:db8::2", 443)));
        Assert.Equal("ACCEPT filter:FORWARD:2", Verdict(t, Tcp6(A, B, "2001:db8::1", "2001:db8::2", 80)));
        Assert.Equal("ACCEPT filter:FORWARD:2", Verdict(t, Tcp6(A, B, "2001:db9::1", "2001:db8::2", 443)));
    }

    [Fact]
    public void Arp_fields()
    {
        var t = Compile("filter", """
            -A FORWARD -p ARP --arp-op Reply -j DROP
            -A FORWARD -p ARP --arp-gratuitous -j DROP
            -A FORWARD -p ARP --arp-ip-dst 10.0.0.7 --arp-mac-src 02:aa:00:00:00:0a -j DROP
            """);
        Assert.Equal("DROP filter:FORWARD:1", Verdict(t, Arp(A, B, ArpOperation.Response, "10.0.0.1", "10.0.0.2", B)));
        Assert.Equal("DROP filter:FORWARD:2", Verdict(t, Arp(A, Bcast, ArpOperation.Request, "10.0.0.1", "10.0.0.1")));
        Assert.Equal("DROP filter:FORWARD:3", Verdict(t, Arp(A, Bcast, ArpOperation.Request, "10.0.0.1", "10.0.0.7")));
        Assert.Equal("ACCEPT filter:FORWARD:policy", Verdict(t, Arp(C, Bcast, ArpOperation.Request, "10.0.0.1", "10.0.0.7")));
    }

    [Fact]
    public void Vlan_tag_is_the_accelerated_outer_tag()
    {
        // __netif_receive_skb_core untags before the bridge: h_proto reads as ETH_P_8021Q, --vlan-encap is the inner type.
        var t = Compile("filter", """
            -A FORWARD -p 802_1Q --vlan-id 42 --vlan-prio 3 -j DROP
            -A FORWARD -p 802_1Q --vlan-encap 0800 -j mark --mark-set 0x8 --mark-target ACCEPT
            -A FORWARD -p IPv4 -j mark --mark-set 0x4 --mark-target ACCEPT
            """);
        Assert.Equal("DROP filter:FORWARD:1", Verdict(t, Tagged(Udp(A, B), 42, prio: 3)));
        var r = Run(t, Tagged(Udp(A, B), 42, prio: 1), NfBrHook.Forward);
        Assert.Equal(("filter:FORWARD:2", 0x8u), (Where(t, r.Verdict), r.Mark));
        r = Run(t, Udp(A, B), NfBrHook.Forward);
        Assert.Equal(("filter:FORWARD:3", 0x4u), (Where(t, r.Verdict), r.Mark));
    }

    /// <summary>An 802.3 frame: length 38, LLC SNAP (dsap = ssap = 0xaa, UI), OUI 0, type 0x0800, padded.</summary>
    private static BrFrame Snap()
    {
        byte[] f = new byte[60];
        for (int i = 0; i < 6; i++)
        {
            f[i] = (byte)(Mac(B).Value >> (40 - (8 * i)));
            f[6 + i] = (byte)(Mac(A).Value >> (40 - (8 * i)));
        }
        f[12] = 0x00;
        f[13] = 38;
        byte[] llc = [0xAA, 0xAA, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00];
        llc.CopyTo(f, 14);
        return new BrFrame(f);
    }

    [Theory]
    [InlineData(EbtBackend.Nft, "DROP filter:FORWARD:1", "ACCEPT filter:FORWARD:policy")]
    [InlineData(EbtBackend.Legacy, "ACCEPT filter:FORWARD:policy", "DROP filter:FORWARD:1")]
    public void Length_frames_by_backend(EbtBackend backend, string snapVerdict, string ipVerdict)
    {
        // nft: `ether type < 0x0600`. Legacy: NF_INVF(e, EBT_IPROTO, eth_proto_is_802_3(ethproto)) drops out
        // for a length frame and matches an Ethernet II one (the inverted test, kept as the kernel has it).
        var rs = EbtablesParser.Parse(Table("filter", "-A FORWARD -p Length -j DROP"), "eb.rules");
        var t = EbtTableInfo.Compile(rs.Tables[0], new XtNet(), backend);
        Assert.Equal(snapVerdict, Verdict(t, Snap()));
        Assert.Equal(ipVerdict, Verdict(t, Udp(A, B)));
    }

    [Fact]
    public void Saps_and_snap_type()
    {
        var t = Compile("filter", """
            -A FORWARD -p Length --802_3-sap 0x42 -j DROP
            -A FORWARD -p Length --802_3-type 0x0806 -j DROP
            -A FORWARD -p Length --802_3-sap 0xaa --802_3-type 0x0800 -j mark --mark-set 0x1 --mark-target ACCEPT
            """);
        var r = Run(t, Snap(), NfBrHook.Forward);
        Assert.Equal(("filter:FORWARD:3", 0x1u), (Where(t, r.Verdict), r.Mark));
    }

    [Fact]
    public void Mark_target_and_mark_match()
    {
        var t = Compile("filter", """
            -A FORWARD -j mark --mark-or 0xa --mark-target CONTINUE
            -A FORWARD -j mark --mark-and 0xe --mark-target CONTINUE
            -A FORWARD -j mark --mark-xor 0x1 --mark-target CONTINUE
            -A FORWARD --mark 0x4/0x4 -j DROP
            -A FORWARD --mark 0xb -j ACCEPT
            """);

        // From 0x4: | 0xa = 0xe; & 0xe = 0xe; ^ 0x1 = 0xf. --mark 0x4/0x4 is EBT_MARK_AND ((0xf & 0x4) == 0x4): DROP.
        var r = Run(t, Udp(A, B), NfBrHook.Forward, mark: 0x4);
        Assert.Equal((XtVerdict.Drop, "filter:FORWARD:4", 0xfu), (r.Verdict.Verdict, Where(t, r.Verdict), r.Mark));

        // From 0: 0xa, 0xa, 0xb: rule 4 no ((0xb & 0x4) == 0), rule 5 --mark 0xb (mask all ones) yes.
        r = Run(t, Udp(A, B), NfBrHook.Forward, mark: 0x0);
        Assert.Equal((XtVerdict.Accept, "filter:FORWARD:5", 0xbu), (r.Verdict.Verdict, Where(t, r.Verdict), r.Mark));
    }

    [Fact]
    public void Pkttype_and_among()
    {
        var t = Compile("filter", """
            -A INPUT --pkttype-type broadcast -j DROP
            -A INPUT --among-src 02:aa:00:00:00:0a=10.0.0.1,02:aa:00:00:00:0c -j DROP
            -A INPUT ! --among-dst 02:00:00:00:00:01 -j DROP
            """);
        Assert.Equal("DROP filter:INPUT:1", Verdict(t, Udp(A, Bcast), NfBrHook.LocalIn));
        Assert.Equal("DROP filter:INPUT:2", Verdict(t, Udp(A, BrMac, ipSrc: "10.0.0.1"), NfBrHook.LocalIn));

        // A's entry is bound to 10.0.0.1: from 10.0.0.5 rule 2 does not match; C's entry has no address.
        Assert.Equal("ACCEPT filter:INPUT:policy", Verdict(t, Udp(A, BrMac, ipSrc: "10.0.0.5"), NfBrHook.LocalIn));
        Assert.Equal("DROP filter:INPUT:2", Verdict(t, Udp(C, BrMac, ipSrc: "10.0.0.5"), NfBrHook.LocalIn));
        Assert.Equal("DROP filter:INPUT:3", Verdict(t, Udp(B, "02:00:00:00:00:10"), NfBrHook.LocalIn));
    }

    [Fact]
    public void Limit_is_a_token_bucket_on_the_capture_clock()
    {
        // 2/s, burst 2: two at t=0, the third refused; a token comes back every 0.5 s.
        var t = Compile("filter", "-A FORWARD --limit 2/s --limit-burst 2 -j ACCEPT", policy: "DROP");
        var f = Udp(A, B);
        string[] got = [.. new long[] { 0, 0, 0, 250_000_000, 500_000_000, 500_000_000 }.Select(ns => Verdict(t, f, timeNs: 10 * Sec + ns))];
        Assert.Equal(["ACCEPT filter:FORWARD:1", "ACCEPT filter:FORWARD:1", "DROP filter:FORWARD:policy", "DROP filter:FORWARD:policy",
            "ACCEPT filter:FORWARD:1", "DROP filter:FORWARD:policy"], got);
        Assert.True(Run(t, f, NfBrHook.Forward).Verdict.Flags.HasFlag(IptVerdictFlags.DependsOnClockOrRandom));
    }

    [Fact]
    public void User_chains_return_and_counters_per_rule_and_policy()
    {
        var t = Compile("filter", """
            :USER RETURN
            :USER2 DROP
            -A FORWARD -p IPv4 -j USER
            -A FORWARD -p ARP -j USER2
            -A FORWARD -j CONTINUE
            -A USER --ip-proto udp -p IPv4 --ip-dport 53 -j RETURN
            -A USER -j mark --mark-set 0x3 --mark-target CONTINUE
            -A USER2 -j CONTINUE
            """);
        var dns = Udp(A, B, dport: 53, payload: 20);
        var other = Udp(A, B, dport: 99);
        Assert.Equal("ACCEPT filter:FORWARD:policy", Verdict(t, dns));
        var r = Run(t, other, NfBrHook.Forward);
        Assert.Equal(("filter:FORWARD:policy", 0x3u), (Where(t, r.Verdict), r.Mark));
        Assert.Equal("DROP filter:USER2:policy", Verdict(t, Arp(A, Bcast, ArpOperation.Request, "10.0.0.1", "10.0.0.2")));

        // Bytes are skb->len at the bridge: the frame without its 14-byte Ethernet header.
        ulong dnsLen = (ulong)dns.Frame.Length - 14, otherLen = (ulong)other.Frame.Length - 14;
        Assert.Equal(new EbtCounters(2, dnsLen + otherLen), t.Counters(t.EntryOf("FORWARD", 1)));
        Assert.Equal(new EbtCounters(1, 28), t.Counters(t.EntryOf("FORWARD", 2)));
        Assert.Equal(new EbtCounters(2, dnsLen + otherLen), t.Counters(t.EntryOf("FORWARD", 3)));
        Assert.Equal(new EbtCounters(1, dnsLen), t.Counters(t.EntryOf("USER", 1)));
        Assert.Equal(new EbtCounters(1, otherLen), t.Counters(t.EntryOf("USER", 2)));
        Assert.Equal(new EbtCounters(1, otherLen), t.Counters(t.PolicyEntry("USER")));
        Assert.Equal(new EbtCounters(2, dnsLen + otherLen), t.Counters(t.PolicyEntry("FORWARD")));
        Assert.Equal(new EbtCounters(1, 28), t.Counters(t.PolicyEntry("USER2")));
        Assert.Equal(6, t.AllCounters().Count());
    }

    [Fact]
    public void Unknown_modules_and_stp_make_the_verdict_unknown()
    {
        var t = Compile("filter", """
            -A FORWARD --stp-type 1 -j DROP
            -A FORWARD -p IPv4 -j ACCEPT
            """, policy: "DROP");
        var r = Run(t, Udp(A, B), NfBrHook.Forward);
        Assert.Equal((XtVerdict.Accept, "filter:FORWARD:2", t.EntryOf("FORWARD", 1)), (r.Verdict.Verdict, Where(t, r.Verdict), r.Verdict.FirstUnknownEntry));
        Assert.True(r.Verdict.DependsOnUnknown);

        var rs = EbtablesParser.Parse(Table("filter", "-A FORWARD --frob 3 -j ACCEPT\n-A FORWARD -j ulog --ulog-prefix x"), "eb.rules");
        var u = EbtTableInfo.Compile(rs.Tables[0], new XtNet { UnknownPolicy = UnknownMatchPolicy.Match });
        var v = Run(u, Udp(A, B), NfBrHook.Forward).Verdict;
        Assert.Equal((XtVerdict.Accept, "filter:FORWARD:1", true), (v.Verdict, Where(u, v), v.DependsOnUnknown));
        u = EbtTableInfo.Compile(rs.Tables[0], new XtNet());
        v = Run(u, Udp(A, B), NfBrHook.Forward).Verdict;
        Assert.Equal((XtVerdict.Unknown, "filter:FORWARD:2"), (v.Verdict, Where(u, v)));
    }

    [Fact]
    public void A_capture_cut_before_the_header_is_unknown_a_short_frame_is_no_match()
    {
        var t = Compile("filter", "-A FORWARD -p IPv4 --ip-proto udp --ip-dport 53 -j DROP");
        var full = Udp(A, B).Frame;
        var cut = new BrFrame(full[..30]);
        TraceReplay.Capture.Decode.PacketDecoder.Decode(cut.Frame, TraceReplay.Capture.LinkType.Ethernet, full.Length, out cut.Decoded);
        var v = Run(t, cut, NfBrHook.Forward).Verdict;
        Assert.Equal((XtVerdict.Accept, true), (v.Verdict, v.DependsOnUnknown));
    }

    [Fact]
    public void Nat_targets_rewrite_the_macs_and_watchers_record()
    {
        var sink = new Records();
        var t = Compile("nat", """
            -A PREROUTING -p IPv4 --ip-dst 10.0.0.9 -j dnat --to-dst 02:aa:00:00:00:0c --dnat-target CONTINUE
            -A PREROUTING -d 02:aa:00:00:00:0c --log-prefix "to-c" --log-level info -j CONTINUE
            -A PREROUTING -p IPv4 --ip-dst 10.0.0.8 -j redirect
            -A POSTROUTING -o veth2 -j snat --to-src 02:00:00:00:00:99 --snat-arp
            """);
        var r = Run(t, Udp(A, B, ipDst: "10.0.0.9"), NfBrHook.PreRouting, sink: sink);
        Assert.Equal((Mac(C), (byte)3, "nat:PREROUTING:policy"), (r.Dst, r.PktType, Where(t, r.Verdict)));
        var log = Assert.Single(sink.All);
        Assert.Equal((EbtRecordKind.Log, "to-c", t.EntryOf("PREROUTING", 2)), (log.Kind, log.Prefix, log.Entry));

        // redirect outside BROUTING: the bridge's address, PACKET_HOST.
        r = Run(t, Udp(A, B, ipDst: "10.0.0.8"), NfBrHook.PreRouting);
        Assert.Equal((Mac(BrMac), (byte)0, "nat:PREROUTING:3"), (r.Dst, r.PktType, Where(t, r.Verdict)));

        r = Run(t, Udp(A, B), NfBrHook.PostRouting, outDev: "veth2");
        Assert.Equal(Mac("02:00:00:00:00:99"), r.Src);
        r = Run(t, Udp(A, B), NfBrHook.PostRouting, outDev: "veth1");
        Assert.Equal(Mac(A), r.Src);
    }

    [Fact]
    public void Arpreply_answers_requests_and_drops()
    {
        var sink = new Records();
        var t = Compile("nat", "-A PREROUTING -p ARP -j arpreply --arpreply-mac 02:00:00:00:00:77");
        var r = Run(t, Arp(A, Bcast, ArpOperation.Request, "10.0.0.1", "10.0.0.2"), NfBrHook.PreRouting, sink: sink);
        Assert.Equal(XtVerdict.Drop, r.Verdict.Verdict);
        Assert.Equal((EbtRecordKind.ArpReply, Mac("02:00:00:00:00:77")), (sink.All[0].Kind, sink.All[0].Mac));

        // A reply is not answered: EBT_CONTINUE, then the policy.
        r = Run(t, Arp(A, B, ArpOperation.Response, "10.0.0.1", "10.0.0.2", B), NfBrHook.PreRouting, sink: sink);
        Assert.Equal((XtVerdict.Accept, 1), (r.Verdict.Verdict, sink.All.Count));
    }

    [Fact]
    public void A_chain_loop_is_refused_with_the_rule_location()
    {
        var rs = EbtablesParser.Parse(Table("filter", ":X ACCEPT\n:Y RETURN\n-A FORWARD -j X\n-A X -j Y\n-A Y -j X"), "eb.rules");
        var e = Assert.Throws<HostParseException>(() => EbtTableInfo.Compile(rs.Tables[0], new XtNet()));
        Assert.Equal("X", e.Token);
        Assert.Equal(9, e.Location.Line); // "-A Y -j X": the jump that closes the loop FORWARD → X → Y → X
        Assert.StartsWith("eb.rules:9", e.Message, StringComparison.Ordinal);
    }
}
