using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Tests.Host.Iptables;

/// <summary>
/// Typed values of the IPv6 extension-header and payload matches (group C) and their refusals.
/// Expected save forms marked "witnessed" were printed by the installed ip6tables 1.8.9
/// (nf_tables) in a scratch network namespace.
/// </summary>
public sealed class mCModuleTests
{
    private static IptRule Rule(string spec, IptFamily family = IptFamily.IPv6, string chain = "INPUT") =>
        Assert.Single(IptablesParser.ParseRule(spec, family, "filter", chain, file: "rules.v6", line: 7));

    private static T Match<T>(string spec, IptFamily family = IptFamily.IPv6)
        where T : XtMatch => Assert.IsType<T>(Rule(spec, family).Matches[^1]);

    private static HostParseException Refused(string spec, IptFamily family = IptFamily.IPv6) =>
        Assert.Throws<HostParseException>(() => IptablesParser.ParseRule(spec, family, "filter", "INPUT", file: "rules.v6", line: 7));

    [Fact]
    public void Esp_and_ah_spi_ranges_are_typed_and_open_ends_filled()
    {
        // ":32" is xtables_parse_range's open start: 0..32; "3:" runs to UINT32_MAX.
        var esp = Match<EspMatch>("-p esp -m esp ! --espspi :32", IptFamily.IPv4);
        Assert.Equal(new XtRange(0, 32), esp.Spis);
        Assert.True(esp.InvertSpis);

        var ah = Match<AhMatch>("-m ah --ahspi 3: ! --ahlen 24 --ahres");
        Assert.Equal(new XtRange(3, uint.MaxValue), ah.Spis);
        Assert.Equal(24u, ah.Length);
        Assert.True(ah.InvertLength);
        Assert.True(ah.CheckReserved);
        Assert.Equal("-m ah --ahspi 3:4294967295 ! --ahlen 24 --ahres", Rule("-m ah --ahspi 3: ! --ahlen 24 --ahres").Text);
    }

    [Fact]
    public void Ipv4_ah_has_no_ahlen_and_needs_p_ah()
    {
        // libipt_ah.c has only --ahspi; the kernel's ipt_ah is registered with .proto = IPPROTO_AH.
        var e = Refused("-p ah -m ah --ahlen 3", IptFamily.IPv4);
        Assert.Equal("--ahlen", e.Token);
        e = Refused("-m ah --ahspi 5", IptFamily.IPv4);
        Assert.Contains("-p ah", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Frag_flags_and_id_range()
    {
        var f = Match<FragMatch>("-m frag ! --fragid 1:42 --fraglen 8 --fragfirst --fragmore");
        Assert.Equal(new XtRange(1, 42), f.Ids);
        Assert.True(f.InvertIds);
        Assert.Equal(8u, f.HeaderLength);
        Assert.Equal(Ip6tFragFlags.Ids | Ip6tFragFlags.Length | Ip6tFragFlags.First | Ip6tFragFlags.More, f.Flags);
    }

    [Fact]
    public void Frag_option_given_twice_is_refused_as_xtables_does()
    {
        // Witnessed: `frag: option "--fragid" can only be used once.`
        var e = Refused("-m frag --fragid 5 --fragid 6");
        Assert.Equal(new SourceLocation("rules.v6", 7, 20), e.Location);
        Assert.Equal("--fragid", e.Token);
    }

    [Fact]
    public void Hbh_options_are_cut_to_8_bits_and_print_like_ip6tables()
    {
        // parse_opts_num's value is masked with 0xFF: 300 is 0x12C, stored as 0x2C = 44; a length
        // of 255 is "any length" and is not printed. Witnessed: `--hbh-opts 44:2,1,0`.
        var h = Match<HbhMatch>("-m hbh --hbh-len 8 --hbh-opts 300:2,1:255,0");
        Assert.Equal([new Ip6tOptSpec(44, 2), new Ip6tOptSpec(1, 255), new Ip6tOptSpec(0, null)], h.Options);
        Assert.Equal(8u, h.HeaderLength);
        Assert.Equal("-m hbh --hbh-len 8 --hbh-opts 44:2,1,0", Rule("-m hbh --hbh-len 8 --hbh-opts 300:2,1:255,0").Text);
    }

    [Fact]
    public void Dst_pad1_with_a_length_is_refused_with_column_and_token()
    {
        // Witnessed: "PAD0 has not got length". The argument starts at column 19 of line 7.
        var e = Refused("-m dst --dst-opts 1:2,0:3");
        Assert.Equal(new SourceLocation("rules.v6", 7, 19), e.Location);
        Assert.Equal("0:3", e.Token);
        Assert.StartsWith("rules.v6:7:19", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rt_type0_addresses_print_as_inet_ntop()
    {
        // Witnessed: `--rt-0-addrs ::1,::ffff:1.2.3.4,::1.2.3.4 --rt-0-not-strict`.
        const string Spec = "-m rt --rt-type 0 --rt-0-addrs ::1,::ffff:1.2.3.4 --rt-0-not-strict";
        var rt = Match<RtMatch>(Spec);
        Assert.Equal(0u, rt.RoutingType);
        Assert.Equal(Ip6tRtFlags.Type | Ip6tRtFlags.Addresses | Ip6tRtFlags.NotStrict, rt.Flags);
        Assert.Equal([IpAddr.Parse("::1"), IpAddr.Parse("::ffff:1.2.3.4")], rt.Addresses);
        Assert.Equal(Spec, Rule(Spec).Text);
    }

    [Fact]
    public void Rt_type0_options_need_rt_type_0_before_them()
    {
        var e = Refused("-m rt --rt-0-res");
        Assert.Equal("--rt-0-res", e.Token);
        Assert.Contains("--rt-type 0", e.Message, StringComparison.Ordinal);
        Refused("-m rt --rt-type 0 --rt-0-not-strict");
    }

    [Fact]
    public void Ipv6header_names_map_to_mask_bits_and_print_netbase_names()
    {
        // MASK_HOPOPTS 0x80, MASK_DSTOPTS 0x40, MASK_PROTO 0x01; IPv6-Opts is netbase's alias of 60,
        // "prot" the module's own name for IPPROTO_RAW. Witnessed: `--header hop-by-hop,ipv6-opts,protocol`.
        var m = Match<Ipv6headerMatch>("-m ipv6header ! --header IPv6-Opts,0,prot,hop --soft");
        Assert.Equal(Ip6tHeaderMask.HopByHop | Ip6tHeaderMask.DestinationOptions | Ip6tHeaderMask.Protocol, m.Headers);
        Assert.True(m.Invert);
        Assert.True(m.Soft);
        Assert.Equal("-m ipv6header ! --header hop-by-hop,ipv6-opts,protocol --soft", Rule("-m ipv6header ! --header IPv6-Opts,0,prot,hop --soft").Text);
    }

    [Fact]
    public void Ipv6header_refuses_a_protocol_that_is_not_an_extension_header()
    {
        // Witnessed: "unknown header `6' specified".
        var e = Refused("-m ipv6header --header tcp");
        Assert.Equal("tcp", e.Token);
        Assert.Equal(24, e.Location.Column);
    }

    [Fact]
    public void Mh_type_names_are_prefixes_and_save_prints_numbers()
    {
        // name_to_type compares only the typed length: "b" is binding-refresh-request (0), "bu" is
        // binding-update (5) by exact match, "be" binding-error (7). Witnessed: `--mh-type 5:7`.
        Assert.Equal(new XtRange(0, 0), Match<MhMatch>("-p mh -m mh --mh-type b").Types);
        var mh = Match<MhMatch>("-p mh -m mh --mh-type bu:be");
        Assert.Equal(new XtRange(5, 7), mh.Types);
        Assert.Equal("-p mobility-header -m mh --mh-type 5:7", Rule("-p mh -m mh --mh-type bu:be").Text);
        var e = Refused("-p mh -m mh --mh-type bogus");
        Assert.Equal("bogus", e.Token);
    }

    [Fact]
    public void Eui64_is_refused_in_output_by_the_load_time_check()
    {
        var rs = IptablesParser.Parse("*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m eui64\nCOMMIT\n", "rules.v6", IptFamily.IPv6);
        var problem = Assert.Single(RulesetChecker.Check(rs));
        Assert.Contains("PREROUTING, INPUT, FORWARD", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void String_pattern_is_bytes_and_saves_as_iptables_does()
    {
        // "|41|b|00|" is 'A', 'b', NUL; NUL is not printable, so save switches to hex. Witnessed:
        // `--hex-string "|416200|" --algo kmp`, and `--string "a\"b\\c" --algo bm --from 4 --to 8 --icase`.
        var s = Match<StringMatch>("-m string --hex-string \"|41|b|00|\" --algo kmp");
        Assert.Equal(new byte[] { 0x41, 0x62, 0x00 }, s.Pattern.ToArray());
        Assert.Equal(XtStringAlgo.Kmp, s.Algorithm);
        Assert.Equal("-m string --hex-string \"|416200|\" --algo kmp", Rule("-m string --hex-string \"|41|b|00|\" --algo kmp").Text);

        const string Quoted = "-m string --string \"a\\\"b\\\\c\" --algo bm --icase --from 4 --to 8";
        var q = Match<StringMatch>(Quoted);
        Assert.Equal("a\"b\\c"u8.ToArray(), q.Pattern.ToArray());
        Assert.Equal((ushort)4, q.From);
        Assert.Equal((ushort)8, q.To);
        Assert.True(q.IgnoreCase);
        Assert.Equal("-m string --string \"a\\\"b\\\\c\" --algo bm --from 4 --to 8 --icase", Rule(Quoted).Text);

        // A trailing backslash forces hex (is_hex_string). Witnessed: `--hex-string "|61625c|"`.
        Assert.Equal("-m string --hex-string \"|61625c|\" --algo kmp", Rule("-m string --string \"ab\\\\\" --algo kmp").Text);
    }

    [Fact]
    public void String_refusals_name_the_token()
    {
        Assert.Equal("wrong", Refused("-m string --algo wrong --string x").Token);
        Assert.Equal("|4|", Refused("-m string --algo bm --hex-string \"|4|\"").Token);
        // Witnessed as EINVAL from the kernel: empty pattern, and --from beyond --to.
        Refused("-m string --algo bm --string \"\"");
        Refused("-m string --algo bm --string x --from 10 --to 5");
    }

    [Fact]
    public void U32_tests_parse_into_the_xt_u32_tree_and_print_in_hex()
    {
        // The classic "IPv4 header length, then the TCP ports" expression: 0>>22&0x3C is IHL*4,
        // @ moves there, and >>16 keeps the source port. Witnessed save form below.
        const string Spec = "-m u32 --u32 \"6 & 0xFF = 1 && 4 & 0x3FFF = 0 && 0 >> 22 & 0x3C @ 0 >> 16 = 10:20,30\"";
        var u = Match<U32Match>(Spec, IptFamily.IPv4);
        Assert.Equal(3, u.Tests.Count);
        Assert.Equal([new XtU32Location(6, XtU32Op.And), new XtU32Location(0xFF, XtU32Op.And)], u.Tests[0].Location);
        Assert.Equal(
            [new XtU32Location(0, XtU32Op.And), new XtU32Location(22, XtU32Op.RightShift), new XtU32Location(0x3C, XtU32Op.And),
             new XtU32Location(0, XtU32Op.At), new XtU32Location(16, XtU32Op.RightShift)],
            u.Tests[2].Location);
        Assert.Equal([new XtRange(10, 20), new XtRange(30, 30)], u.Tests[2].Values);
        Assert.Equal("-m u32 --u32 \"0x6&0xff=0x1&&0x4&0x3fff=0x0&&0x0>>0x16&0x3c@0x0>>0x10=0xa:0x14,0x1e\"", Rule(Spec, IptFamily.IPv4).Text);
    }

    [Fact]
    public void U32_syntax_errors_say_where()
    {
        var e = Refused("-m u32 --u32 \"6&0xFF=\"", IptFamily.IPv4);
        Assert.Contains("no value", e.Message, StringComparison.Ordinal);
        e = Refused("-m u32 --u32 6<3=1", IptFamily.IPv4);
        Assert.Contains("at char 2", e.Message, StringComparison.Ordinal);
        Assert.Equal(14, e.Location.Column); // the argument word; "at char 2" points inside it
    }

    [Fact]
    public void Srh_sids_keep_the_address_as_written()
    {
        // Witnessed: `--srh-psid a::1/64` stays unmasked.
        var s = Match<SrhMatch>("-m srh ! --srh-segs-left-gt 1 --srh-psid a::1/64");
        Assert.Equal(Ip6tSrhFlags.SegmentsLeftGt | Ip6tSrhFlags.PreviousSid, s.Flags);
        Assert.Equal(Ip6tSrhFlags.SegmentsLeftGt, s.InvertFlags);
        Assert.Equal((byte)1, s.SegmentsLeft);
        Assert.Equal(new Ip6tSrhSid(IpAddr.Parse("a::1"), 64), s.PreviousSid);
        Assert.Equal("-m srh ! --srh-segs-left-gt 1 --srh-psid a::1/64", Rule("-m srh ! --srh-segs-left-gt 1 --srh-psid a::1/64").Text);
        Assert.Equal("256", Refused("-m srh --srh-next-hdr 256").Token);
    }

    [Fact]
    public void Protocols_print_as_ip6tables_1_8_9()
    {
        // Witnessed: `-p icmpv6` saves as `-p ipv6-icmp`, `-p mh` as `-p mobility-header`, 47 as `-p gre`.
        Assert.Equal("-p ipv6-icmp", Rule("-p icmpv6").Text);
        Assert.Equal("-p mobility-header", Rule("-p mh").Text);
        Assert.Equal("-p gre", Rule("-p 47", IptFamily.IPv4).Text);
    }
}
