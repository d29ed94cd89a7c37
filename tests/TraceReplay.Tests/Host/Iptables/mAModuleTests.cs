using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Host.Parsing;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Host.Iptables;

/// <summary>
/// Group A match modules (protocol and header matches): typed values of representative rules, save
/// forms witnessed with the real iptables 1.8.9 (nf_tables) in a scratch network namespace, load-time
/// refusals the kernel makes, and bad input that must name file:line:column and the token.
/// </summary>
public sealed class mAModuleTests
{
    // "-A INPUT " is 9 characters, so the rule text starts at column 10 of line 3.
    private const int SpecColumn = 10;

    private static IptRuleset Load(string spec, IptFamily family = IptFamily.IPv4, string chain = "INPUT", string table = "filter", bool strict = false) =>
        IptablesParser.Parse($"*{table}\n:{chain} ACCEPT [0:0]\n-A {chain} {spec}\nCOMMIT\n", "t.rules", family, strict);

    private static IptRule Rule(string spec, IptFamily family = IptFamily.IPv4) => Load(spec, family).Table("filter")!.Chain("INPUT")!.Rules[0];

    private static T Match<T>(string spec, IptFamily family = IptFamily.IPv4) => Assert.IsType<T>(Rule(spec, family).Matches.Last(m => m is T), exactMatch: true);

    private static HostParseException Bad(string spec, IptFamily family = IptFamily.IPv4) =>
        Assert.Throws<HostParseException>(() => Load(spec, family));

    /// <summary>Rule → what `iptables-save` printed for it (iptables 1.8.9 in `ip netns add trx-mA`, 2026-11-26).</summary>
    [Theory]
    [InlineData("-p icmp -m icmp --icmp-type echo-req", "-p icmp -m icmp --icmp-type 8")]
    [InlineData("-p icmp -m icmp --icmp-type 3/1:3", "-p icmp -m icmp --icmp-type 3/1")]
    [InlineData("-p icmp -m icmp ! --icmp-type 11/0", "-p icmp -m icmp ! --icmp-type 11/0")]
    [InlineData("-p icmp -m icmp --icmp-type port-unreachable", "-p icmp -m icmp --icmp-type 3/3")]
    [InlineData("-p udp -m multiport ! --sports 0x10,020,5:6", "-p udp -m multiport ! --sports 16,16,5:6")]
    [InlineData("-p tcp -m multiport --source-ports 22 -m multiport --destination-ports 80,443", "-p tcp -m multiport --sports 22 -m multiport --dports 80,443")]
    [InlineData("-p tcp -m multiport --dports ssh,http", "-p tcp -m multiport --dports 22,80")]
    [InlineData("-p tcp -m multiport --ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14:15", "-p tcp -m multiport --ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14:15")]
    [InlineData("-p icmp -m icmp --icmp-type 3/4:2", "-p icmp -m icmp --icmp-type 3/4")]
    [InlineData("-p udplite -m multiport ! --ports 1,2:3", "-p udplite -m multiport ! --ports 1,2:3")]
    [InlineData("-p sctp -m sctp --sport 0:65535 ! --dport 5:6", "-p sctp -m sctp --sport 0:65535 ! --dport 5:6")]
    [InlineData("-p sctp -m sctp --chunk-types any ALL", "-p sctp -m sctp --chunk-types any ALL")]
    [InlineData("-p sctp -m sctp --chunk-types only NONE", "-p sctp -m sctp --chunk-types only NONE")]
    [InlineData("-p sctp -m sctp --chunk-types ONLY data:Be,shutdown_complete:T", "-p sctp -m sctp --chunk-types only DATA:Be,SHUTDOWN_COMPLETE:T")]
    [InlineData("-p sctp -m sctp ! --chunk-types any DATA:iUbE,ABORT:t,INIT", "-p sctp -m sctp ! --chunk-types any DATA:iUbE,INIT,ABORT:t")]
    [InlineData("-p sctp -m sctp --chunk-types any I_DATA:I", "-p sctp -m sctp --chunk-types any I_DATA")]
    [InlineData("-p dccp -m dccp --dccp-types invalid,request", "-p dccp -m dccp --dccp-types REQUEST,INVALID")]
    [InlineData("-p dccp -m dccp ! --dccp-types ACK,REQUEST ! --dccp-option 5", "-p dccp -m dccp ! --dccp-types REQUEST,ACK ! --dccp-option 5")]
    [InlineData("-p tcp -m tcpmss --mss 0x10:020", "-p tcp -m tcpmss --mss 16")]
    [InlineData("-p tcp -m tcpmss ! --mss 100:200", "-p tcp -m tcpmss ! --mss 100:200")]
    [InlineData("-m length --length 0x40", "-m length --length 64")]
    [InlineData("-m ttl --ttl-eq 0x40", "-m ttl --ttl-eq 64")]
    [InlineData("-m ttl --ttl-lt 5", "-m ttl --ttl-lt 5")]
    [InlineData("-m tos --tos 0x10", "-m tos --tos 0x10/0xff")]
    [InlineData("-m tos --tos normal-service", "-m tos --tos 0x00/0x3f")]
    [InlineData("-m tos ! --tos 0x1/3", "-m tos ! --tos 0x01/0x03")]
    [InlineData("-m dscp --dscp-class af41", "-m dscp --dscp 0x22")]
    [InlineData("-m dscp ! --dscp 10", "-m dscp ! --dscp 0x0a")]
    [InlineData("-m ecn --ecn-ip-ect 3", "-m ecn --ecn-ip-ect 3")]
    [InlineData("-p tcp -m ecn --ecn-tcp-cwr --ecn-tcp-ece", "-p tcp -m ecn --ecn-tcp-ece --ecn-tcp-cwr")]
    [InlineData("-m pkttype --pkt-type BCAST", "-m pkttype --pkt-type broadcast")]
    [InlineData("-m pkttype ! --pkt-type host", "-m pkttype ! --pkt-type unicast")]
    [InlineData("-m pkttype --pkt-type otherhost", "-m pkttype --pkt-type otherhost")]
    [InlineData("-m mac ! --mac-source AA:bb:cc:dd:ee:ff", "-m mac ! --mac-source aa:bb:cc:dd:ee:ff")]
    [InlineData("-m addrtype --src-type loc,m", "-m addrtype --src-type LOCAL,MULTICAST")]
    [InlineData("-m addrtype --src-type LOCAL,UNICAST ! --dst-type BROADCAST", "-m addrtype --src-type UNICAST,LOCAL ! --dst-type BROADCAST")]
    [InlineData("-m addrtype --dst-type UNREACHABLE,PROHIBIT,THROW,NAT,XRESOLVE,BLACKHOLE,ANYCAST", "-m addrtype --dst-type ANYCAST,BLACKHOLE,UNREACHABLE,PROHIBIT,THROW,NAT,XRESOLVE")]
    [InlineData("-m addrtype --dst-type U", "-m addrtype --dst-type UNSPEC")]
    [InlineData("-m addrtype ! --src-type LOCAL --limit-iface-in", "-m addrtype ! --src-type LOCAL --limit-iface-in")]
    [InlineData("-m iprange --src-range 10.0.0.9-10.0.0.1", "-m iprange --src-range 10.0.0.9-10.0.0.1")]
    [InlineData("-m iprange --src-range 10.0.0.1 ! --dst-range 10.0.0.2-10.0.0.9", "-m iprange --src-range 10.0.0.1-10.0.0.1 ! --dst-range 10.0.0.2-10.0.0.9")]
    [InlineData("-m realm --realm 0x10/0xff", "-m realm --realm 0x10/0xff")]
    [InlineData("-m realm ! --realm 7", "-m realm ! --realm 0x7")]
    [InlineData("-m realm --realm 0", "-m realm --realm cosmos")]
    public void IPv4_rule_saves_as_iptables_1_8_9_does(string rule, string saved) =>
        Assert.Equal(saved, Rule(rule).Text);

    [Theory]
    [InlineData("-p icmpv6 -m icmp6 --icmpv6-type neighbor-solicitation", "-p ipv6-icmp -m icmp6 --icmpv6-type 135")]
    [InlineData("-p icmpv6 -m icmpv6 ! --icmpv6-type 1/3:4", "-p ipv6-icmp -m icmp6 ! --icmpv6-type 1/3")]
    [InlineData("-p icmpv6 -m ipv6-icmp --icmpv6-type ping", "-p ipv6-icmp -m icmp6 --icmpv6-type 128")]
    [InlineData("-p 58 -m icmp6 --icmpv6-type echo-request -m hl --hl-eq 255", "-p ipv6-icmp -m icmp6 --icmpv6-type 128 -m hl --hl-eq 255")]
    [InlineData("-m hl --hl 5", "-m hl --hl-eq 5")]
    [InlineData("-m hl ! --hl-eq 5", "-m hl ! --hl-eq 5")]
    [InlineData("-m iprange --src-range 2001:db8::a-2001:db8::ff ! --dst-range ::ffff:1.2.3.4-::ffff:1.2.3.5", "-m iprange --src-range 2001:db8::a-2001:db8::ff ! --dst-range ::ffff:1.2.3.4-::ffff:1.2.3.5")]
    [InlineData("-m iprange --dst-range 2001:db8:0:0:0:0:0:1", "-m iprange --dst-range 2001:db8::1-2001:db8::1")]
    [InlineData("-m addrtype --src-type UNREACHABLE", "-m addrtype --src-type UNREACHABLE")]
    [InlineData("-m addrtype --dst-type LOCAL,MULTICAST,ANYCAST", "-m addrtype --dst-type LOCAL,ANYCAST,MULTICAST")]
    [InlineData("-m tos --tos 0x10", "-m tos --tos 0x10/0xff")]
    public void IPv6_rule_saves_as_ip6tables_1_8_9_does(string rule, string saved) =>
        Assert.Equal(saved, Rule(rule, IptFamily.IPv6).Text);

    /// <summary>Rules the same iptables 1.8.9 refused (its message in the comment).</summary>
    [Theory]
    [InlineData("-p tcp -m multiport --ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16")] // too many ports specified
    [InlineData("-p tcp -m multiport --ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15:16")] // too many ports specified
    [InlineData("-p tcp -m multiport --ports 5:5")] // invalid portrange specified
    [InlineData("-p tcp -m multiport --ports 5:")] // invalid port/service `' specified
    [InlineData("-p sctp -m sctp --chunk-types any DATA:X")] // Invalid flags for chunk type 0
    [InlineData("-p icmp -m icmp --icmp-type 3:4")] // ICMP type range not supported
    [InlineData("-m addrtype --src-type ,LOCAL")] // addrtype: bad type `,LOCAL'
    [InlineData("-m ttl ! --ttl-gt 5")] // ttl: option "--ttl-gt" cannot be inverted.
    public void Refused_as_iptables_1_8_9_refuses(string rule) => Bad(rule);

    [Fact]
    public void Icmp_names_and_codes_become_type_and_code_range()
    {
        // libxt_icmp.h: "port-unreachable" is { 3, 3, 3 }; "echo-request" { 8, 0, 0xFF }; a bare -m icmp would be type 0xFF (any).
        var m = Match<IcmpMatch>("-p icmp -m icmp --icmp-type port-unreachable");
        Assert.Equal((3, 3, 3), (m.Type, m.CodeMin, m.CodeMax));
        m = Match<IcmpMatch>("-p icmp ! --icmp-type 5/1:3"); // implicit load by -p icmp, as load_proto does
        Assert.Equal((5, 1, 3, true), (m.Type, m.CodeMin, m.CodeMax, m.Invert));
        m = Match<IcmpMatch>("-p icmp -m icmp --icmp-type 255/0:255");
        Assert.Equal((0xFF, 0, 0xFF), (m.Type, m.CodeMin, m.CodeMax)); // the 'any' encoding
        var m6 = Match<Icmp6Match>("-p icmpv6 -m icmpv6 --icmpv6-type mld-listener-reduction", IptFamily.IPv6);
        Assert.Equal(("icmp6", 132, 0, 0xFF), (m6.Name, m6.Type, m6.CodeMin, m6.CodeMax)); // alias of mld-listener-done, saved as icmp6
    }

    [Fact]
    public void Multiport_list_keeps_ranges_and_counts_them_twice()
    {
        var m = Match<MultiportMatch>("-p tcp -m multiport --dports 22,8000:8080,443");
        Assert.Equal(MultiportDirection.Destination, m.Direction);
        Assert.Equal([new(22, 22), new(8000, 8080), new(443, 443)], m.Ports);
        Assert.True(m.Contains(8042));
        Assert.False(m.Contains(21));
        // 15 slots (XT_MULTI_PORTS): 13 single ports and one range fill them exactly; one more port does not fit.
        _ = Match<MultiportMatch>("-p tcp -m multiport --ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14:15");
        var e = Bad("-p tcp -m multiport --ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14:15,16");
        Assert.Contains("too many ports", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Header_matches_parse_into_numbers_and_masks()
    {
        var tos = Match<TosMatch>("-m tos --tos Minimize-Delay");
        Assert.Equal((0x10, 0x3F), (tos.Value, tos.Mask)); // IPTOS_LOWDELAY with the name mask 0x3f
        Assert.Equal(0x2E, Match<DscpMatch>("-m dscp --dscp-class EF").Dscp); // EF is 46 (RFC 3246)
        var ttl = Match<TtlMatch>("-m ttl ! --ttl-eq 64");
        Assert.Equal((TtlMode.NotEqual, 64), (ttl.Mode, ttl.Value));
        var hl = Match<TtlMatch>("-m hl --hl-gt 1", IptFamily.IPv6);
        Assert.Equal((TtlMode.Greater, 1), (hl.Mode, hl.Value));
        Assert.Equal(new(42, 65535), Match<TcpmssMatch>("-p tcp -m tcpmss --mss 42:").Mss);
        Assert.Equal(new(0, 2), Match<LengthMatch>("-m length --length :2").Length);
        var ecn = Match<EcnMatch>("-p tcp -m ecn ! --ecn-tcp-ece --ecn-ip-ect 2");
        Assert.Equal((EcnTests.TcpEce | EcnTests.IpEct, EcnTests.TcpEce, 2), (ecn.Tests, ecn.Inverted, ecn.IpEct));
        Assert.Equal(PacketType.Broadcast, Match<PkttypeMatch>("-m pkttype --pkt-type bcast").Type);
        var realm = Match<RealmMatch>("-m realm --realm 0x1/0x2a");
        Assert.Equal((1u, 0x2Au), (realm.Id, realm.Mask));
    }

    [Fact]
    public void Address_matches_parse_into_addresses_and_type_masks()
    {
        Assert.Equal(new MacAddr(0x4201_0203_0405), Match<MacMatch>("-m mac --mac-source 42:01:02:03:04:05").Source);
        var r = Match<IprangeMatch>("-m iprange ! --dst-range 10.0.0.1-10.0.0.10");
        Assert.Null(r.Source);
        Assert.True(r.InvertDestination);
        Assert.True(r.Destination!.Value.Contains(IpAddr.Parse("10.0.0.10")));
        Assert.False(r.Destination!.Value.Contains(IpAddr.Parse("10.0.0.11")));
        var a = Match<AddrtypeMatch>("-m addrtype --src-type UNICAST,LOCAL --limit-iface-in");
        Assert.Equal(AddrType.Unicast | AddrType.Local, a.Source); // 1<<RTN_UNICAST | 1<<RTN_LOCAL = 0x6
        Assert.Equal(6, (int)a.Source);
        Assert.True(a.LimitIfaceIn);
    }

    [Fact]
    public void Sctp_and_dccp_keep_chunk_maps_flags_and_type_masks()
    {
        var s = Match<SctpMatch>("-p sctp -m sctp --chunk-types all DATA:Be,INIT");
        Assert.Equal(SctpChunkMatch.All, s.ChunkMatch);
        Assert.True(s.HasChunk(0) && s.HasChunk(1) && !s.HasChunk(2));
        // "----IUBE": B is bit 1 (set, upper case), E bit 0 (must be clear, lower case).
        Assert.Equal([new SctpChunkFlags(0, 0x02, 0x03)], s.ChunkFlags);
        var d = Match<DccpMatch>("-p dccp -m dccp --dccp-types REQUEST,RESET");
        Assert.Equal((1 << 0) | (1 << 7), d.TypeMask); // DCCP_PKT_REQUEST 0, DCCP_PKT_RESET 7
    }

    [Theory]
    [InlineData("INPUT", "filter", "-m mac --mac-source 00:11:22:33:44:55", true)]
    [InlineData("OUTPUT", "filter", "-m mac --mac-source 00:11:22:33:44:55", false)] // xt_mac: PREROUTING, INPUT, FORWARD only
    [InlineData("POSTROUTING", "nat", "-m addrtype --src-type LOCAL --limit-iface-in", false)] // no input device after routing
    [InlineData("PREROUTING", "nat", "-m addrtype --dst-type LOCAL --limit-iface-in", true)]
    [InlineData("INPUT", "filter", "-m addrtype --dst-type LOCAL --limit-iface-out", false)]
    [InlineData("OUTPUT", "filter", "-m realm --realm 1", true)]
    [InlineData("PREROUTING", "nat", "-m realm --realm 1", false)] // xt_realm: hooks after routing only
    public void Kernel_hook_restrictions_are_checked(string chain, string table, string spec, bool loads)
    {
        var rs = Load(spec, chain: chain, table: table);
        var problems = RulesetChecker.Check(rs);
        Assert.Equal(loads, problems.Count == 0);
    }

    [Theory]
    [InlineData("-m addrtype --src-type BROADCAST", "BROADCAST")]
    [InlineData("-m addrtype --dst-type PROHIBIT", "PROHIBIT")]
    [InlineData("-m addrtype --dst-type BLACKHOLE", "BLACKHOLE")]
    public void Ipv6_addrtype_refuses_types_ipv6_routing_lacks(string spec, string word)
    {
        // Witness: ip6tables -A INPUT -m addrtype --src-type BROADCAST → "RULE_APPEND failed (Invalid argument)".
        var e = Bad(spec, IptFamily.IPv6);
        Assert.Contains(word, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reversed_iprange_loads_with_a_warning()
    {
        var rs = Load("-m iprange --src-range 10.0.0.9-10.0.0.1");
        Assert.Contains(rs.Warnings, w => w.Message.Contains("reversed", StringComparison.Ordinal));
    }

    [Fact]
    public void Anonymised_mac_is_kept_as_unknown_with_a_warning_and_refused_under_strict()
    {
        var rs = Load("-m mac --mac-source XX:XX:XX:XX:XX:XX -j RETURN");
        var m = Assert.IsType<MacMatch>(Assert.Single(rs.Table("filter")!.Chain("INPUT")!.Rules[0].Matches));
        Assert.Null(m.Source);
        Assert.True(m.IsOfflineUnknowable);
        Assert.Equal(new SourceLocation("t.rules", 3, SpecColumn + 20), Assert.Single(rs.Warnings).Location);
        Assert.Equal("-m mac --mac-source XX:XX:XX:XX:XX:XX -j RETURN", rs.Table("filter")!.Chain("INPUT")!.Rules[0].Text);
        Assert.Throws<HostParseException>(() => Load("-m mac --mac-source XX:XX:XX:XX:XX:XX", strict: true));
    }

    /// <summary>One malformed line per module family: the message names file:line:column of the bad word, the word, and what was expected.</summary>
    [Theory]
    [InlineData("-p icmp -m icmp --icmp-type bogus", "bogus", IptFamily.IPv4)] // ICMP
    [InlineData("-p ipv6-icmp -m icmp6 --icmpv6-type 1/x", "1/x", IptFamily.IPv6)]
    [InlineData("-p tcp -m multiport --dports 80,70000", "70000", IptFamily.IPv4)] // ports
    [InlineData("-p sctp -m sctp --chunk-types any DATA,BOGUS", "BOGUS", IptFamily.IPv4)]
    [InlineData("-p dccp -m dccp --dccp-types ACK,NOPE", "NOPE", IptFamily.IPv4)]
    [InlineData("-p tcp -m tcpmss --mss 500:400", "500:400", IptFamily.IPv4)] // header values
    [InlineData("-m ttl --ttl-eq 256", "256", IptFamily.IPv4)]
    [InlineData("-m tos --tos 0x100", "0x100", IptFamily.IPv4)]
    [InlineData("-m dscp --dscp 0x40", "0x40", IptFamily.IPv4)]
    [InlineData("-m pkttype --pkt-type wrong", "wrong", IptFamily.IPv4)]
    [InlineData("-m mac --mac-source 42:01:02:03:04", "42:01:02:03:04", IptFamily.IPv4)] // addresses
    [InlineData("-m iprange --src-range 1.1.1.1-2001:db8::1", "2001:db8::1", IptFamily.IPv4)]
    [InlineData("-m addrtype --src-type LOCAL,WRONG", "WRONG", IptFamily.IPv4)]
    [InlineData("-m realm --realm nowhere", "nowhere", IptFamily.IPv4)]
    public void Bad_value_names_file_line_column_and_token(string spec, string token, IptFamily family)
    {
        var e = Bad(spec, family);
        // The column is that of the argument word holding the bad value (the last word, in each case here).
        int column = SpecColumn + spec.LastIndexOf(' ') + 1;
        Assert.Equal(new SourceLocation("t.rules", 3, column), e.Location);
        Assert.Equal(token, e.Token);
        Assert.StartsWith($"t.rules:3:{column}:", e.Message, StringComparison.Ordinal);
        Assert.NotNull(e.Expected);
    }

    [Theory]
    [InlineData("-m ttl --ttl-lt 5 --ttl-gt 3", "--ttl-gt")] // .excl = F_ANY
    [InlineData("-m ttl --ttl-eq 5 --ttl-eq 6", "--ttl-eq")] // "option can only be used once"
    [InlineData("-m dscp --dscp 1 --dscp-class EF", "--dscp-class")]
    [InlineData("-m addrtype --src-type LOCAL --limit-iface-in --limit-iface-out", "--limit-iface-out")]
    [InlineData("-p tcp -m multiport --sports 1 --dports 2", "--dports")]
    public void Repeated_or_exclusive_options_are_refused_at_the_second(string spec, string option)
    {
        var e = Bad(spec);
        Assert.Equal(option, e.Token);
        Assert.Equal(SpecColumn + spec.LastIndexOf(option, StringComparison.Ordinal), e.Location.Column);
    }

    [Theory]
    [InlineData("-m icmp --icmp-type 8", "-p icmp")] // .proto = IPPROTO_ICMP
    [InlineData("-m multiport --dports 1", "-p tcp")]
    [InlineData("-m ecn --ecn-tcp-cwr", "-p tcp")]
    [InlineData("-p udp -m tcpmss --mss 1", "-p tcp")]
    [InlineData("-m sctp --sport 1", "-p sctp")]
    public void Protocol_bound_matches_need_the_protocol(string spec, string needs)
    {
        var e = Bad(spec);
        Assert.Contains(needs, e.Message, StringComparison.Ordinal);
        Assert.Equal(SpecColumn + spec.IndexOf("-m ", StringComparison.Ordinal), e.Location.Column); // the -m that loaded the match
    }

    [Fact]
    public void Vector_harness_still_runs_a_witnessed_line()
    {
        // Sanity link to the .t harness: the same RunOne the vectors use accepts a witnessed rule.
        var r = IptablesTestVectors.RunOne("witness", 1, IptFamily.IPv4, "filter", "INPUT", "-m tos --tos 0x4/0x3f", true, "-m tos --tos 0x04/0x3f");
        Assert.True(r.Passed, r.Detail);
    }
}
