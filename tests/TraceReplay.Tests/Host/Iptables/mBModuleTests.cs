using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Host.Parsing;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Host.Iptables;

/// <summary>
/// Group B matches (connection state and stateful modules): the typed values a packet evaluator
/// will read, save forms witnessed with the real tool, and bad input naming file:line:column.
/// </summary>
public sealed class MbModuleTests
{
    private static IptRule Rule(string spec, IptFamily family = IptFamily.IPv4, string table = "filter", string chain = "FORWARD") =>
        IptablesParser.ParseRule(spec, family, table, chain, file: "rules.v4", line: 7)[0];

    private static T Match<T>(string spec, IptFamily family = IptFamily.IPv4, string chain = "FORWARD") => Rule(spec, family, chain: chain).Matches.OfType<T>().Single();

    private static HostParseException Bad(string spec, string chain = "FORWARD") =>
        Assert.Throws<HostParseException>(() => Rule(spec, chain: chain));

    /// <summary>
    /// Each input was added with `iptables -A` (iptables v1.8.9, nf_tables back end) in a scratch
    /// network namespace, and the right-hand side is what its iptables-save printed back.
    /// </summary>
    [Theory]
    [InlineData("-m time --timestart 01:00 --timestop 02:00", "-m time --timestart 01:00:00 --timestop 02:00:00 --datestop 2038-01-19T03:14:07")]
    [InlineData("-m time --datestart 2020-02-31 --monthdays 1,31 ! --weekdays Sat,Sun --contiguous --timestart 22:00 --timestop 06:00 --kerneltz",
        "-m time --timestart 22:00:00 --timestop 06:00:00 --monthdays 1,31 --weekdays Mon,Tue,Wed,Thu,Fri --datestart 2020-03-02T00:00:00 --datestop 2038-01-19T03:14:07 --kerneltz --contiguous")]
    [InlineData("-m devgroup --src-group 0", "-m devgroup --src-group default")]
    [InlineData("-m devgroup --src-group 5", "-m devgroup --src-group 0x5")]
    [InlineData("-m connlabel --label 3", "-m connlabel --label \"3\"")]
    [InlineData("-m hashlimit --hashlimit-upto 10/min --hashlimit-name a", "-m hashlimit --hashlimit-upto 10/min --hashlimit-burst 5 --hashlimit-name a")]
    [InlineData("-m hashlimit --hashlimit-upto 10/min --hashlimit-name b --hashlimit-rate-match",
        "-m hashlimit --hashlimit-upto 10/sec --hashlimit-burst 5 --hashlimit-name b --hashlimit-htable-expire 60000 --hashlimit-rate-match --hashlimit-rate-interval 60")]
    [InlineData("-m hashlimit --hashlimit-above 1kb/s --hashlimit-burst 3k --hashlimit-mode srcip,dstport --hashlimit-srcmask 24 --hashlimit-name c",
        "-m hashlimit --hashlimit-above 1kb/s --hashlimit-burst 3kb --hashlimit-mode srcip,dstport --hashlimit-name c --hashlimit-srcmask 24")]
    [InlineData("-m limit --limit 7/min", "-m limit --limit 7/min")]
    [InlineData("-m statistic --mode random --probability 0.3", "-m statistic --mode random --probability 0.29999999981")]
    [InlineData("-m recent --rcheck --seconds 10 --reap --name k", "-m recent --rcheck --seconds 10 --reap --name k --mask 255.255.255.255 --rsource")]
    [InlineData("-m recent ! --update --hitcount 3 --rttl --name n --mask 255.255.255.0 --rdest", "-m recent ! --update --hitcount 3 --rttl --name n --mask 255.255.255.0 --rdest")]
    [InlineData("-m connbytes ! --connbytes 100 --connbytes-mode bytes --connbytes-dir both", "-m connbytes ! --connbytes 100 --connbytes-mode bytes --connbytes-dir both")]
    [InlineData("-m conntrack --ctorigsrc 10.1.2.3/8 --ctstatus ASSURED,CONFIRMED ! --ctexpire 5:10", "-m conntrack --ctorigsrc 10.1.2.3/8 --ctstatus ASSURED,CONFIRMED ! --ctexpire 5:10")]
    [InlineData("-m policy --dir out --pol none", "-m policy --dir out --pol none")]
    [InlineData("-m cluster --cluster-total-nodes 4 --cluster-local-node 2 --cluster-hash-seed 1", "-m cluster --cluster-local-nodemask 0x00000002 --cluster-total-nodes 4 --cluster-hash-seed 0x00000001")]
    [InlineData("-m bpf --bytecode \"1,6 0 0 0\"", "-m bpf --bytecode \"1,6 0 0 0\"")]
    [InlineData("-m set ! --match-set s1 src,dst --return-nomatch ! --update-counters ! --packets-eq 3 --bytes-gt 9", "-m set ! --match-set s1 src,dst --return-nomatch ! --update-counters ! --packets-eq 3 --bytes-gt 9")]
    [InlineData("-m physdev --physdev-out eth+ --physdev-is-bridged", "-m physdev --physdev-out eth+ --physdev-is-bridged")]
    [InlineData("-m connmark ! --mark 0x10/0xf0", "-m connmark ! --mark 0x10/0xf0")]
    [InlineData("-m connlimit ! --connlimit-upto 3 --connlimit-mask 24 --connlimit-daddr", "-m connlimit --connlimit-above 3 --connlimit-mask 24 --connlimit-daddr")]
    public void Prints_what_the_real_iptables_save_printed(string input, string saved) => Assert.Equal(saved, Rule(input).Text);

    [Fact]
    public void Owner_in_output_prints_as_iptables_save()
    {
        // Witnessed in OUTPUT (the kernel refuses owner in FORWARD: hooks OUTPUT/POSTROUTING only).
        var r = Rule("-m owner ! --socket-exists --uid-owner 5-9 --gid-owner 3", chain: "OUTPUT");
        Assert.Equal("-m owner ! --socket-exists --uid-owner 5-9 --gid-owner 3", r.Text);
        var m = r.Matches.OfType<OwnerMatch>().Single();
        Assert.Equal(new(5u, 9u), m.UidRange);
        Assert.Equal(OwnerMatch.Uid | OwnerMatch.Gid | OwnerMatch.SocketExists, m.Match);
        Assert.Equal(OwnerMatch.SocketExists, m.Invert);
        Assert.True(m.IsOfflineUnknowable);
    }

    [Fact]
    public void Conntrack_keeps_state_bits_ports_and_the_unmasked_address()
    {
        var m = Match<ConntrackMatch>("-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT --ctorigsrc 10.1.2.3/8 --ctorigdstport 4: --ctdir REPLY");
        // XT_CONNTRACK_STATE_BIT(IP_CT_RELATED) = 1<<2, ESTABLISHED = 1<<1, DNAT = 1 << (IP_CT_NUMBER + 2) = 1<<7.
        Assert.Equal((ushort)((1 << 2) | (1 << 1) | (1 << 7)), (ushort)m.State);
        Assert.True(m.Inverted(ConntrackMatch.Field.State));
        Assert.Equal(new(4u, 65535u), m.OrigDestinationPorts);
        Assert.Equal(IpAddr.Parse("10.1.2.3"), m.OrigSource.Address);
        Assert.True(m.OrigSource.Matches(IpAddr.Parse("10.200.0.1")));
        Assert.False(m.OrigSource.Matches(IpAddr.Parse("11.0.0.1")));
        Assert.True(m.DirectionReply);
    }

    [Fact]
    public void Limit_and_hashlimit_hold_the_kernel_intervals()
    {
        // XT_LIMIT_SCALE 10000: 3/hour is one packet every 3600/3 s = 12000000 units; burst 5 by default.
        var l = Match<LimitMatch>("-m limit --limit 3/hour");
        Assert.Equal(12_000_000u, l.Average);
        Assert.Equal(5u, l.Burst);
        // XT_HASHLIMIT_SCALE_v2 1000000: 40/sec is 25000 units; expire defaults to the unit (1 s = 1000 ms).
        var h = Match<HashlimitMatch>("-m hashlimit --hashlimit-upto 40/sec --hashlimit-burst 20 --hashlimit-mode srcip --hashlimit-name syn");
        Assert.Equal(25_000UL, h.Average);
        Assert.Equal(20UL, h.Burst);
        Assert.Equal(HashlimitMode.SourceIp, h.Mode);
        Assert.Equal(1000u, h.Expire);
        Assert.Equal((byte)32, h.SourceMask);
    }

    [Fact]
    public void Statistic_and_recent_hold_the_kernel_values()
    {
        // lround(0.5 * 2^31) = 0x40000000; --every 5 is stored as 4 (the kernel counts 0..every).
        Assert.Equal(0x40000000u, Match<StatisticMatch>("-m statistic --mode random --probability 0.5").Probability);
        var nth = Match<StatisticMatch>("-m statistic --mode nth --every 5 --packet 2");
        Assert.Equal((4u, 2u), (nth.Every, nth.Packet));
        var r = Match<RecentMatch>("-m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-X --mask 255.255.255.0 --rsource");
        Assert.Equal((RecentCommand.Check, 10800u, true, "KUBE-SEP-X"), (r.Command, r.Seconds, r.Reap, r.ListName));
        Assert.Equal(0xFFFFFF00u, r.Mask.V4);
        Assert.Equal("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Match<RecentMatch>("-m recent --set", IptFamily.IPv6).Mask.ToString());
    }

    [Fact]
    public void Mark_set_time_and_policy_typed_values()
    {
        Assert.Equal(new(0x4000u, 0x4000u, true), Match<MarkMatch>("-m mark ! --mark 0x4000/0x4000").Mark);
        var s = Match<SetMatch>("-m set --match-set KUBE-LB src,dst");
        Assert.Equal(["KUBE-LB"], s.SetNames);
        Assert.Equal([true, false], s.FromSource);
        // 2001-02-03T04:05:06Z is 981173106 s after the epoch; 01:02:03 is 3723 s after midnight; Mon = bit 1, Sun = bit 7.
        var t = Match<TimeMatch>("-m time --timestart 01:02:03 --weekdays Mon,Sun --datestart 2001-02-03T04:05:06");
        Assert.Equal((981173106u, 3723u, (byte)0x82), (t.DateStart, t.DaytimeStart, t.WeekDaysMask));
        var p = Match<PolicyMatch>("-m policy --dir in --pol ipsec --strict --reqid 1 --proto esp --mode tunnel --tunnel-dst 10.0.0.0/8 --next --spi 0x10");
        Assert.Equal(2, p.Elements.Count);
        Assert.Equal((byte?)50, p.Elements[0].Protocol);
        Assert.Equal(16u, p.Elements[1].Spi);
        Assert.Equal(["PREROUTING", "INPUT", "FORWARD"], p.Hooks!);
    }

    [Fact]
    public void Ipvs_cluster_rateest_typed_values()
    {
        // Service names resolve as iptables does (http = 80); GATE is direct routing, IP_VS_CONN_F_DROUTE = 3.
        var v = Match<IpvsMatch>("-m ipvs --vproto tcp --vport http --vmethod GATE --vaddr 10.0.0.1/16");
        Assert.Equal((6, 80, IpvsMatch.ForwardMethod.DirectRoute), (v.Protocol, v.VirtualPort, v.Forwarding));
        Assert.True(v.VirtualAddress.Matches(IpAddr.Parse("10.0.200.1")));
        Assert.True(v.IsOfflineUnknowable);
        // Node n is bit n-1 of the mask.
        Assert.Equal(0b100u, Match<ClusterMatch>("-m cluster --cluster-total-nodes 3 --cluster-local-node 3 --cluster-hash-seed 7").NodeMask);
        // 5kbit = 5000 bit/s = 625 bytes/s (xt_rateest_match_info holds bytes per second).
        var r = Match<RateestMatch>("-m rateest --rateest RE1 --rateest-gt --rateest-bps 5kbit");
        Assert.Equal((625u, RateestMode.Gt, false), (r.Bps2, r.Mode, r.Relative));
    }

    [Fact]
    public void Kube_proxy_restore_input_prints_in_canonical_order()
    {
        // kube-proxy writes --name before --rcheck and 10 decimals; iptables-save orders and formats them its way.
        Assert.Equal("-m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-I --mask 255.255.255.255 --rsource",
            Rule("-m recent --name KUBE-SEP-I --rcheck --seconds 10800 --reap").Text);
        Assert.Equal("-m statistic --mode random --probability 0.50000000000", Rule("-m statistic --mode random --probability 0.5000000000").Text);
        Assert.Equal("-m nfacct --nfacct-name  localhost_nps_accepted_pkts", Rule("-m nfacct --nfacct-name localhost_nps_accepted_pkts").Text);
    }

    /// <summary>The error points at the argument word (its column) and names the offending part of it as the token.</summary>
    [Theory]
    [InlineData("-m conntrack --ctstate NEW,BOGUS", "NEW,BOGUS", "BOGUS")]
    [InlineData("-m state --state ESTABLISHED,RELATD", "ESTABLISHED,RELATD", "RELATD")]
    [InlineData("-m mark --mark 0x1/zz", "0x1/zz", "zz")]
    [InlineData("-m limit --limit 3/fortnight", "3/fortnight", "3/fortnight")]
    [InlineData("-m hashlimit --hashlimit-upto 1/sec --hashlimit-mode srcmac --hashlimit-name x", "srcmac", "srcmac")]
    [InlineData("-m recent --set --hitcount many", "many", "many")]
    [InlineData("-m statistic --mode sometimes", "sometimes", "sometimes")]
    [InlineData("-m time --timestart 25:00", "25:00", "25:00")]
    [InlineData("-m policy --dir sideways --pol ipsec", "sideways", "sideways")]
    [InlineData("-m set --match-set s1 src,both", "src,both", "both")]
    [InlineData("-m connlimit --connlimit-above -1", "-1", "-1")]
    [InlineData("-m physdev --physdev-in abcdefghijklmnopq", "abcdefghijklmnopq", "abcdefghijklmnopq")]
    [InlineData("-m owner --uid-owner somebody", "somebody", "somebody")]
    [InlineData("-m rateest --rateest RE1 --rateest-gt --rateest-bps 5furlongs", "5furlongs", "5furlongs")]
    [InlineData("-m ipvs --vmethod TELEPORT", "TELEPORT", "TELEPORT")]
    public void Bad_values_name_file_line_column_and_token(string spec, string argument, string token)
    {
        var e = Bad(spec, spec.Contains("owner", StringComparison.Ordinal) ? "OUTPUT" : "FORWARD");
        int column = spec.LastIndexOf(argument, StringComparison.Ordinal) + 1;
        Assert.Equal(new SourceLocation("rules.v4", 7, column), e.Location);
        Assert.Equal(token, e.Token);
        Assert.False(string.IsNullOrEmpty(e.Expected));
        Assert.Contains("rules.v4:7:" + column, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-m conntrack")]
    [InlineData("-m recent --set --rttl")]
    [InlineData("-m statistic --mode nth --every 5")]
    [InlineData("-m policy --dir in --pol ipsec --proto esp --tunnel-dst 10.0.0.0/8")]
    [InlineData("-m hashlimit --hashlimit-upto 1/sec")]
    [InlineData("-m cgroup --cgroup 1 --path /")]
    public void Incomplete_rules_are_refused_at_the_match(string spec)
    {
        var e = Bad(spec);
        Assert.Equal(("rules.v4", 7, 1), (e.Location.File, e.Location.Line, e.Location.Column));
        Assert.False(string.IsNullOrEmpty(e.Expected));
    }

    [Fact]
    public void Kernel_hook_limits_are_reported_by_the_checker()
    {
        string dump = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m owner --uid-owner 0\n-A INPUT -m policy --dir out --pol none\nCOMMIT\n*raw\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m rpfilter\nCOMMIT\n";
        var problems = RulesetChecker.Check(IptablesParser.Parse(dump, "hooks.v4", IptFamily.IPv4), _ => false);
        Assert.Equal(3, problems.Count);
        Assert.Contains(problems, p => p.Message.StartsWith("owner is only valid in OUTPUT, POSTROUTING", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Message.StartsWith("rpfilter is only valid in PREROUTING", StringComparison.Ordinal));
    }

    [Fact]
    public void Missing_ipsets_are_reported()
    {
        var rs = IptablesParser.Parse("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m set --match-set blocklist src -j DROP\nCOMMIT\n", "sets.v4", IptFamily.IPv4);
        Assert.Empty(RulesetChecker.Check(rs, n => n == "blocklist"));
        var p = Assert.Single(RulesetChecker.Check(rs, _ => false));
        Assert.Contains("'blocklist' does not exist", p.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kubernetes_dumps_load_with_every_group_b_module_known()
    {
        string folder = Path.Combine(Corpus.External, "iptables-save", "kubernetes");
        if (!Directory.Exists(folder))
            Assert.Skip($"kubernetes rule dumps not found at {folder}");
        int seen = 0;
        foreach (var f in Directory.EnumerateFiles(folder, "*.expected.iptables-restore"))
        {
            // Rule by rule (targets of other groups load as unknown): the whole-file parse is the core's business.
            // Only kube-proxy's expected output: TestTracePacket's input has unquoted multi-word comments iptables-restore refuses.
            string table = "filter";
            var matches = new List<XtMatch>();
            foreach (var line in File.ReadLines(f))
            {
                if (line.StartsWith('*'))
                    table = line[1..];
                if (!line.StartsWith("-A ", StringComparison.Ordinal))
                    continue;
                string[] parts = line.Split(' ', 3);
                matches.AddRange(IptablesParser.ParseRule(parts[2], IptFamily.IPv4, table, parts[1])[0].Matches);
            }
            seen += matches.Count(m => m is RecentMatch or StatisticMatch or NfacctMatch or MarkMatch or ConntrackMatch);
            Assert.DoesNotContain(matches, m => m is UnknownMatch && m.Name is "recent" or "statistic" or "nfacct" or "mark" or "conntrack");
            foreach (var m in matches.Where(m => m.GetType().Namespace == typeof(ConntrackMatch).Namespace && m is not CommentMatch and not TcpMatch and not UdpMatch))
            {
                // The canonical form of each group B match reads back to itself (a fixed point).
                var w = new SaveWriter(IptFamily.IPv4);
                m.Save(w);
                string spec = "-m " + m.Name + w;
                Assert.Equal(spec, IptablesParser.ParseRule(spec, IptFamily.IPv4, "filter", "FORWARD")[0].Text);
            }
        }
        Assert.True(seen > 0, "no group B match in the kubernetes dumps");
    }
}
