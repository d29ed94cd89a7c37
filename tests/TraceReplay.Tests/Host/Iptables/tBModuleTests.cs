using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Host.Parsing;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Host.Iptables;

/// <summary>
/// Group T-B targets (TCPMSS, DSCP, TOS, CLASSIFY, TTL/HL, NFQUEUE, SET, SECMARK, CONNSECMARK, AUDIT,
/// CHECKSUM, TEE, TPROXY, IDLETIMER, LED, HMARK, SYNPROXY, TCPOPTSTRIP, ECN, RATEEST, DNPT/SNPT):
/// the typed values a packet evaluator will read, save forms witnessed with the real tool beyond the
/// upstream vectors, and one malformed line per family with file:line:column and token.
/// </summary>
public sealed class tBModuleTests
{
    private const string File = "tB.rules";

    /// <summary>One rule in a one-chain table; line 3 of the dump is the `-A` line.</summary>
    private static IptRule Rule(string table, string chain, string rule, IptFamily family = IptFamily.IPv4)
    {
        var rs = IptablesParser.Parse(Dump(table, chain, rule), File, family);
        Assert.Empty(RulesetChecker.Check(rs));
        return Assert.Single(rs.Table(table)!.Chain(chain)!.Rules);
    }

    private static string Dump(string table, string chain, string rule) => $"*{table}\n:{chain} ACCEPT [0:0]\n-A {chain} {rule}\nCOMMIT\n";

    private static T Target<T>(string table, string chain, string rule, IptFamily family = IptFamily.IPv4) where T : XtTarget =>
        Assert.IsType<T>(Rule(table, chain, rule, family).Target);

    private static HostParseException Refused(string table, string chain, string rule, IptFamily family = IptFamily.IPv4) =>
        Assert.Throws<HostParseException>(() => IptablesParser.Parse(Dump(table, chain, rule), File, family));

    /// <summary>Column of <paramref name="token"/> in the `-A` line (1-based), to check errors point at it.</summary>
    private static int ColumnOf(string chain, string rule, string token) => $"-A {chain} {rule}".IndexOf(token, StringComparison.Ordinal) + 1;

    [Fact]
    public void Tcpmss_keeps_the_mss_or_the_clamp_marker()
    {
        // XT_TCPMSS_CLAMP_PMTU is 0xffff in xt_tcpmss_info.mss; --set-mss 1400 is kept as 1400.
        var set = Target<TcpMssTarget>("mangle", "FORWARD", "-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400");
        Assert.Equal(1400, set.Mss);
        Assert.False(set.ClampToPmtu);
        var clamp = Target<TcpMssTarget>("mangle", "FORWARD", "-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu");
        Assert.Equal(0xffff, clamp.Mss);
        Assert.True(clamp.ClampToPmtu);
        Assert.False(clamp.IsTerminating);
    }

    [Fact]
    public void Tos_actions_reduce_to_value_and_mask()
    {
        // --and-tos 0x12 clears every bit not in 0x12: value 0, mask ~0x12 = 0xed (libxt_TOS.t: 0x00/0xed).
        var and = Target<TosTarget>("mangle", "PREROUTING", "-j TOS --and-tos 0x12");
        Assert.Equal((0, 0xed), (and.Value, and.Mask));
        // A symbolic name takes the option's .max 0x3f as mask: Minimize-Delay is 0x10/0x3f.
        var sym = Target<TosTarget>("mangle", "PREROUTING", "-j TOS --set-tos minimize-delay");
        Assert.Equal((0x10, 0x3f), (sym.Value, sym.Mask));
    }

    [Fact]
    public void Dscp_class_and_classify_handle_are_numbers()
    {
        // AF41 is 100 010 binary = 34 = 0x22 (RFC 2597); iptables prints --set-dscp 0x22 (witnessed).
        Assert.Equal(0x22, Target<DscpTarget>("mangle", "POSTROUTING", "-j DSCP --set-dscp-class af41").Dscp);
        // 1:10 are hex halves of skb->priority: 0x0001_0010.
        var rule = Rule("mangle", "POSTROUTING", "-j CLASSIFY --set-class 1:10");
        Assert.Equal(0x0001_0010u, Assert.IsType<ClassifyTarget>(rule.Target).Priority);
        Assert.Equal("-j CLASSIFY --set-class 0001:0010", rule.Text);
    }

    [Fact]
    public void Nfqueue_balance_is_first_queue_and_count()
    {
        // 4:7 spreads flows over queues 4, 5, 6 and 7: queuenum 4, queues_total 4.
        var q = Target<NfQueueTarget>("filter", "INPUT", "-j NFQUEUE --queue-balance 4:7 --queue-bypass");
        Assert.Equal((4, 4, 7u), (q.QueueNum, q.QueuesTotal, q.LastQueue));
        Assert.True(q.QueueBypass);
        Assert.True(q.IsTerminating);
    }

    [Fact]
    public void Set_target_names_its_sets_with_dimension_flags()
    {
        var s = Target<SetTarget>("mangle", "FORWARD", "-j SET --add-set foo src --exist --timeout 5 --del-set bar src,dst --map-set foo dst --map-mark");
        // src,dst: dimension 2, bit 1 (first dimension) is the source.
        Assert.Equal(new XtSetRef("bar", 2, 0b010), s.DelSet);
        Assert.True(s.DelSet!.Value.IsSource(1));
        Assert.False(s.DelSet!.Value.IsSource(2));
        Assert.Equal(5u, s.Timeout);
        Assert.Equal(["foo", "bar"], s.SetNames);
        // The checker asks the ipset dump about every set named.
        var rs = IptablesParser.Parse(Dump("mangle", "FORWARD", "-j SET --add-set foo src --del-set bar src"), File, IptFamily.IPv4);
        var problem = Assert.Single(RulesetChecker.Check(rs, n => n == "foo"));
        Assert.Contains("'bar'", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tproxy_tee_and_npt_addresses_are_typed()
    {
        var t = Target<TProxyTarget>("mangle", "PREROUTING", "-p udp -j TPROXY --on-port domain --tproxy-mark 0x1/0x1");
        Assert.Equal(53, t.OnPort); // service name read as /etc/services says
        Assert.Equal(IpAddr.FromV4(0), t.OnIp); // unspecified: iptables-save prints --on-ip 0.0.0.0
        Assert.Equal(new XtMarkMask(1, 1, true), t.TProxyMark);
        var tee = Target<TeeTarget>("mangle", "PREROUTING", "-j TEE --gateway fe80::1 --oif eth0", IptFamily.IPv6);
        Assert.Equal(IpAddr.Parse("fe80::1"), tee.GatewayAddress);
        var npt = Target<DnptTarget>("mangle", "PREROUTING", "-j DNPT --src-pfx dead::/64 --dst-pfx 1c3::/48", IptFamily.IPv6);
        Assert.Equal(48, npt.DestinationPrefix.PrefixLength);
    }

    [Fact]
    public void Hmark_rateest_and_tcpoptstrip_values()
    {
        // tuple src in ip6tables means a /128 source mask; dport a 0xffff port mask.
        var h = Target<HMarkTarget>("filter", "INPUT", "-j HMARK --hmark-tuple src,dport,ct --hmark-rnd 0xdeadbeef --hmark-mod 10 --hmark-offset 100", IptFamily.IPv6);
        Assert.Equal((128, 0xffff, 0xdeadbeefu, 10u, 100u), (h.SourcePrefix, h.DestinationPortMask, h.Random, h.Modulus, h.Offset));
        Assert.True(h.Fields.HasFlag(HMarkFields.Conntrack));
        // 3s needs the 4s interval code (2^(2+2)/4 s: Interval 2); 100s over a 3s interval: the first k
        // with 3s / -ln(1 - 2^-k) > 100s is 6, minus one: EwmaLog 5, printed as 4s * 2^5 = 128.0s (witnessed).
        var r = Target<RateEstTarget>("filter", "INPUT", "-j RATEEST --rateest-name r --rateest-interval 3s --rateest-ewmalog 100s");
        Assert.Equal((2, 5), ((int)r.Interval, (int)r.EwmaLog));
        var strip = Target<TcpOptStripTarget>("mangle", "PREROUTING", "-p tcp -j TCPOPTSTRIP --strip-options 255,md5,2");
        Assert.Equal([2, 19, 255], strip.StrippedKinds);
        Assert.True(strip.Strips(19));
        Assert.False(strip.Strips(3));
    }

    [Fact]
    public void Ttl_ecn_and_synproxy_modes()
    {
        var ttl = Target<TtlTarget>("mangle", "PREROUTING", "-j TTL --ttl-dec 2");
        Assert.Equal((HopLimitMode.Decrement, 2), (ttl.Mode, ttl.Value));
        var ecn = Target<EcnTarget>("mangle", "PREROUTING", "-p tcp -j ECN --ecn-tcp-remove --ecn-ip-ect 3");
        Assert.Equal(EcnOperations.SetEce | EcnOperations.SetCwr | EcnOperations.SetIp, ecn.Operations);
        Assert.Equal(3, ecn.IpEct);
        var syn = Target<SynProxyTarget>("filter", "INPUT", "-p tcp -j SYNPROXY --ecn --mss 1460 --sack-perm --wscale 7 --timestamp");
        Assert.Equal(SynProxyOptions.Mss | SynProxyOptions.WindowScale | SynProxyOptions.SackPermitted | SynProxyOptions.Timestamp | SynProxyOptions.Ecn, syn.Options);
        Assert.Equal((1460, 7), (syn.Mss, syn.WindowScale));
    }

    /// <summary>
    /// Save forms printed by the installed iptables/ip6tables v1.8.9 (nf_tables) in a scratch network
    /// namespace, for cases the upstream vectors do not cover.
    /// </summary>
    [Theory]
    [InlineData(4, "mangle", "POSTROUTING", "-j TOS --and-tos 0xff", "-j TOS --set-tos 0x00/0x00")]
    [InlineData(6, "mangle", "POSTROUTING", "-j TOS --set-tos 0x1", "-j TOS --set-tos 0x01/0xff")]
    [InlineData(6, "mangle", "POSTROUTING", "-p tcp -j TCPMSS --set-mss 65495", "-p tcp -j TCPMSS --set-mss 65495")]
    [InlineData(4, "mangle", "POSTROUTING", "-p tcp -j TCPMSS --set-mss 1400 --clamp-mss-to-pmtu", "-p tcp -j TCPMSS --clamp-mss-to-pmtu")]
    [InlineData(6, "filter", "INPUT", "-j TEE --gateway fe80::1 --oif eth0", "-j TEE --gateway fe80::1 --oif eth0")]
    [InlineData(4, "mangle", "PREROUTING", "-p tcp -j TPROXY --on-port 80", "-p tcp -j TPROXY --on-port 80 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0")]
    [InlineData(4, "mangle", "PREROUTING", "-p tcp -j TPROXY --on-port 80 --tproxy-mark 5", "-p tcp -j TPROXY --on-port 80 --on-ip 0.0.0.0 --tproxy-mark 0x5/0xffffffff")]
    [InlineData(6, "mangle", "PREROUTING", "-p tcp -j TPROXY --on-port 80", "-p tcp -j TPROXY --on-port 80 --on-ip :: --tproxy-mark 0x0/0x0")]
    [InlineData(4, "mangle", "PREROUTING", "-p tcp -j ECN --ecn-tcp-cwr 1 --ecn-tcp-ece 0", "-p tcp -j ECN --ecn-tcp-ece 0 --ecn-tcp-cwr 1")]
    [InlineData(4, "mangle", "PREROUTING", "-p tcp -j ECN --ecn-ip-ect 2 --ecn-tcp-remove", "-p tcp -j ECN --ecn-tcp-remove")]
    [InlineData(4, "mangle", "PREROUTING", "-p tcp -j ECN --ecn-tcp-remove --ecn-ip-ect 3", "-p tcp -j ECN --ecn-tcp-ece 0 --ecn-tcp-cwr 0 --ecn-ip-ect 3")]
    [InlineData(4, "filter", "INPUT", "-p tcp -j SYNPROXY --ecn --mss 1460 --sack-perm --wscale 7 --timestamp", "-p tcp -j SYNPROXY --sack-perm --timestamp --wscale 7 --mss 1460 --ecn")]
    [InlineData(4, "mangle", "PREROUTING", "-p tcp -j TCPOPTSTRIP --strip-options mss,wscale,sack-permitted,sack,timestamp,md5", "-p tcp -j TCPOPTSTRIP --strip-options 2,3,4,5,8,19")]
    [InlineData(4, "filter", "INPUT", "-j RATEEST --rateest-name x --rateest-interval 2 --rateest-ewmalog 16", "-j RATEEST --rateest-name x --rateest-interval 250.0ms --rateest-ewmalog 2.0s")]
    [InlineData(4, "filter", "INPUT", "-j RATEEST --rateest-name x --rateest-interval 1s --rateest-ewmalog 4s", "-j RATEEST --rateest-name x --rateest-interval 1.0s --rateest-ewmalog 4.0s")]
    [InlineData(4, "filter", "INPUT", "-j RATEEST --rateest-name r --rateest-interval 1e6 --rateest-ewmalog 4s", "-j RATEEST --rateest-name r --rateest-interval 1.0s --rateest-ewmalog 4.0s")]
    [InlineData(4, "filter", "INPUT", "-j HMARK --hmark-tuple src,dst,sport --hmark-rnd 1 --hmark-mod 1", "-j HMARK --hmark-src-prefix 32 --hmark-dst-prefix 32 --hmark-sport-mask 0xffff --hmark-rnd 0x00000001 --hmark-mod 1")]
    [InlineData(4, "mangle", "FORWARD", "-j SET --map-set foo dst --map-mark --map-prio --map-queue --del-set bar src,dst --timeout 5 --exist --add-set foo src", "-j SET --add-set foo src --exist --timeout 5 --del-set bar src,dst --map-set foo dst --map-mark --map-prio --map-queue")]
    [InlineData(4, "filter", "INPUT", "-j SET --add-set foo src --exist --timeout 0x10", "-j SET --add-set foo src --exist --timeout 16")]
    [InlineData(4, "raw", "PREROUTING", "-j AUDIT --type ACCEPT", "-j AUDIT --type accept")]
    [InlineData(4, "nat", "PREROUTING", "-j NFQUEUE --queue-num 3", "-j NFQUEUE --queue-num 3")]
    [InlineData(4, "filter", "INPUT", "-j IDLETIMER --timeout 2147482 --label x", "-j IDLETIMER --timeout 2147482 --label x")]
    public void Prints_what_the_real_iptables_prints(int family, string table, string chain, string rule, string expected) =>
        Assert.Equal(expected, Rule(table, chain, rule, family == 6 ? IptFamily.IPv6 : IptFamily.IPv4).Text);

    /// <summary>Rules the real tool refused (in userspace or at RULE_APPEND): the parse or the checker refuses them too.</summary>
    [Theory]
    [InlineData(6, "mangle", "POSTROUTING", "-p tcp -j TCPMSS --set-mss 65496")] // 65535 - 40
    [InlineData(4, "mangle", "PREROUTING", "-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu")] // hook
    [InlineData(4, "filter", "INPUT", "-j TCPMSS --set-mss 1000")] // -p tcp
    [InlineData(4, "filter", "INPUT", "-j DSCP --set-dscp 1")] // mangle only
    [InlineData(4, "mangle", "INPUT", "-j CLASSIFY --set-class 1:1")] // hooks
    [InlineData(4, "filter", "INPUT", "-j NFQUEUE --queue-num 1 --queue-balance 2:3")]
    [InlineData(4, "filter", "INPUT", "-j NFQUEUE --queue-cpu-fanout")]
    [InlineData(4, "filter", "INPUT", "-j AUDIT --type accept --type drop")]
    [InlineData(4, "filter", "INPUT", "-j TEE --gateway 0.0.0.0")]
    [InlineData(4, "filter", "INPUT", "-j CONNSECMARK --save")]
    [InlineData(4, "nat", "OUTPUT", "-p tcp -j TPROXY --on-port 1")]
    [InlineData(4, "mangle", "PREROUTING", "-j ECN --ecn-tcp-cwr 1")]
    [InlineData(4, "filter", "INPUT", "-j HMARK --hmark-tuple sp,pro --hmark-rnd 1 --hmark-mod 10 --hmark-sport 5 --hmark-spi 7")]
    [InlineData(4, "filter", "INPUT", "-j RATEEST --rateest-name r --rateest-interval 9s --rateest-ewmalog 100s")]
    [InlineData(4, "filter", "INPUT", "-j RATEEST --rateest-name r --rateest-interval 8s --rateest-ewmalog 1h")]
    [InlineData(4, "filter", "INPUT", "-j IDLETIMER --timeout 2147483 --label x")]
    [InlineData(4, "filter", "INPUT", "-j IDLETIMER --timeout 10 --label power")]
    [InlineData(4, "raw", "PREROUTING", "-p tcp -j SYNPROXY --mss 1460")]
    [InlineData(4, "filter", "INPUT", "-j SET --add-set foo src --map-mark")]
    [InlineData(4, "filter", "INPUT", "-j SET --add-set foo SRC")]
    [InlineData(4, "filter", "INPUT", "-j SET --add-set foo src,dst,src,dst,src,dst,src")]
    [InlineData(4, "filter", "INPUT", "-j SET --add-set foo src --add-set bar dst")]
    [InlineData(4, "filter", "INPUT", "-j SET --timeout 3")]
    [InlineData(4, "filter", "FORWARD", "-j SET --map-set foo dst --map-mark --map-prio --map-queue")] // mangle only
    [InlineData(4, "mangle", "INPUT", "-j SET --map-set foo dst --map-queue")] // hook
    [InlineData(6, "mangle", "OUTPUT", "-j SNPT --src-pfx dead::/64 --dst-pfx 1c3::/64")] // SNPT hooks INPUT, POSTROUTING
    [InlineData(6, "mangle", "INPUT", "-j DNPT --src-pfx dead::/64 --dst-pfx 1c3::/64")] // DNPT hooks PREROUTING, OUTPUT
    [InlineData(4, "mangle", "FORWARD", "-j TOS --set-tos 0x100")]
    [InlineData(4, "mangle", "FORWARD", "-j CLASSIFY --set-class 1")]
    [InlineData(4, "mangle", "FORWARD", "-j DSCP --set-dscp-class ef --set-dscp-class cs1")]
    [InlineData(4, "filter", "INPUT", "-j LED --led-trigger-id 12345678901234567")] // at most 16 characters
    public void Refuses_what_the_real_iptables_refuses(int family, string table, string chain, string rule)
    {
        var f = family == 6 ? IptFamily.IPv6 : IptFamily.IPv4;
        try
        {
            var rs = IptablesParser.Parse(Dump(table, chain, rule), File, f);
            Assert.NotEmpty(RulesetChecker.Check(rs));
        }
        catch (HostParseException e)
        {
            Assert.StartsWith(File + ":3:", e.Message, StringComparison.Ordinal);
        }
    }

    private static readonly string[] GroupTargets =
    [
        "TCPMSS", "DSCP", "TOS", "CLASSIFY", "TTL", "HL", "NFQUEUE", "SET", "SECMARK", "CONNSECMARK", "AUDIT", "CHECKSUM", "TEE",
        "TPROXY", "IDLETIMER", "LED", "HMARK", "SYNPROXY", "TCPOPTSTRIP", "ECN", "RATEEST", "DNPT", "SNPT",
    ];

    /// <summary>
    /// Every rule of the shared iptables-save corpus that uses one of these targets was printed by a
    /// real iptables-save, so it must read and print back unchanged (in its own table and chain).
    /// </summary>
    [Fact]
    public void Corpus_dump_rules_print_back_unchanged()
    {
        string folder = Path.Combine(Corpus.External, "iptables-save");
        if (!Directory.Exists(folder))
            Assert.Skip($"iptables-save corpus not found at {folder}");
        int seen = 0;
        foreach (var path in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string table = "filter";
            foreach (var raw in System.IO.File.ReadLines(path))
            {
                string line = raw.Trim();
                if (line.StartsWith('*'))
                    table = line[1..];
                if (line.StartsWith('[') && line.IndexOf("] ", StringComparison.Ordinal) is int close and > 0)
                    line = line[(close + 2)..]; // iptables-save -c counters
                if (!line.StartsWith("-A ", StringComparison.Ordinal))
                    continue;
                int j = line.IndexOf(" -j ", StringComparison.Ordinal);
                if (j < 0 || !GroupTargets.Contains(line[(j + 4)..].Split(' ')[0]))
                    continue;
                string chain = line.Split(' ')[1];
                string spec = line[(4 + chain.Length)..];
                bool builtin = IptablesParser.BuiltinChains.TryGetValue(table, out var b) && b.Contains(chain);
                var family = path.Contains("ip6tables", StringComparison.Ordinal) ? IptFamily.IPv6 : IptFamily.IPv4;
                var rs = IptablesParser.Parse($"*{table}\n:{chain} {(builtin ? "ACCEPT" : "-")} [0:0]\n-A {chain} {spec}\nCOMMIT\n", path, family);
                Assert.Equal(spec, Assert.Single(rs.Table(table)!.Chain(chain)!.Rules).Text);
                seen++;
            }
        }
        // 16 + 1 CHECKSUM and 1 TCPMSS rule in the corpus (grep -rE -- '-j (CHECKSUM|TCPMSS)').
        Assert.True(seen >= 18, $"only {seen} rules with these targets found");
    }

    /// <summary>One malformed line per family of targets: the message names file:line:column and the token.</summary>
    [Theory]
    [InlineData("mangle", "PREROUTING", "-j DSCP --set-dscp 0x40", "0x40")] // value targets (DSCP/TOS/TTL/HL/TCPMSS/CLASSIFY)
    [InlineData("mangle", "PREROUTING", "-j TOS --set-tos Fast-Please", "Fast-Please")]
    [InlineData("mangle", "FORWARD", "-j CLASSIFY --set-class 1:10000", "1:10000")]
    [InlineData("mangle", "PREROUTING", "-j TTL --ttl-inc 0", "0")]
    [InlineData("filter", "INPUT", "-j NFQUEUE --queue-balance 4:3", "4:3")] // queueing
    [InlineData("filter", "INPUT", "-j SET --add-set foo src,any", "src,any", "any")] // ipset
    [InlineData("filter", "INPUT", "-j AUDIT --type wrong", "wrong")] // labels and marks
    [InlineData("filter", "INPUT", "-j TEE --gateway 1.2.3", "1.2.3")] // forwarding
    [InlineData("mangle", "PREROUTING", "-p udp -j TPROXY --on-port 70000", "70000")]
    [InlineData("mangle", "PREROUTING", "-p tcp -j TCPOPTSTRIP --strip-options 1,2", "1,2", "1")] // TCP rewriting
    [InlineData("filter", "INPUT", "-j RATEEST --rateest-name r --rateest-interval 1h --rateest-ewmalog 1s", "1h")] // estimators
    [InlineData("filter", "INPUT", "-j HMARK --hmark-tuple src,port --hmark-rnd 1 --hmark-mod 1", "src,port", "port")]
    public void Bad_values_name_the_column_and_token(string table, string chain, string rule, string argument, string? token = null)
    {
        // The column is the argument's; in a comma list the token is the bad element.
        var e = Refused(table, chain, rule);
        Assert.Equal(new SourceLocation(File, 3, ColumnOf(chain, rule, argument)), e.Location);
        Assert.Equal(token ?? argument, e.Token);
        Assert.Contains($"'{token ?? argument}'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_ipv6_prefix_names_the_column_and_token()
    {
        // dead::beef without a length is a /128 prefix; ip6t_npt_checkentry allows at most 64 bits.
        const string rule = "-j SNPT --src-pfx dead::beef --dst-pfx 1c3::/64";
        var e = Refused("mangle", "POSTROUTING", rule, IptFamily.IPv6);
        Assert.Equal(ColumnOf("POSTROUTING", rule, "dead::beef"), e.Location.Column);
        Assert.Equal("dead::beef", e.Token);
        var bits = Refused("mangle", "POSTROUTING", "-j SNPT --src-pfx dead::1/64 --dst-pfx 1c3::/64", IptFamily.IPv6);
        Assert.Contains("bits set beyond", bits.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_required_option_points_at_the_target()
    {
        const string rule = "-j CHECKSUM";
        var e = Refused("mangle", "POSTROUTING", rule);
        Assert.Equal(ColumnOf("POSTROUTING", rule, "-j"), e.Location.Column);
        Assert.Equal("-j CHECKSUM", e.Token);
        Assert.Contains("--checksum-fill", e.Message, StringComparison.Ordinal);
    }
}
