using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Host.Parsing;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Host.Iptables;

/// <summary>
/// The common targets (REJECT, LOG, NFLOG, MARK, CONNMARK, DNAT, SNAT, MASQUERADE, REDIRECT, NETMAP,
/// CT, NOTRACK, TRACE): the typed values a packet evaluator reads, bad input, and the real dumps of
/// the shared corpus printing back as dumped.
/// </summary>
public sealed class TaModuleTests(ITestOutputHelper output)
{
    private const string File = "t.rules";

    /// <summary>One rule in a fresh table, parsed and load-checked; the target it got.</summary>
    private static T Target<T>(string table, string chain, string rule, IptFamily family = IptFamily.IPv4)
        where T : XtTarget
    {
        string dump = $"*{table}\n:{chain} ACCEPT [0:0]\n-A {chain} {rule}\nCOMMIT\n";
        var rs = IptablesParser.Parse(dump, File, family);
        Assert.Empty(RulesetChecker.Check(rs));
        return Assert.IsType<T>(rs.Table(table)!.Chain(chain)!.Rules[0].Target);
    }

    private static HostParseException Refused(string table, string chain, string rule, IptFamily family = IptFamily.IPv4) =>
        Assert.Throws<HostParseException>(() => IptablesParser.Parse($"*{table}\n:{chain} ACCEPT [0:0]\n-A {chain} {rule}\nCOMMIT\n", File, family));

    /// <summary>The column (1-based) where <paramref name="token"/> starts in `-A CHAIN rule` on line 3.</summary>
    private static int Column(string chain, string rule, string token) => $"-A {chain} {rule}".IndexOf(token, StringComparison.Ordinal) + 1;

    private static IpAddr V4(string s) => IpAddr.Parse(s);

    [Fact]
    public void Dnat_range_has_addresses_ports_base_and_flags_as_nf_nat_range2()
    {
        var t = Target<DnatTarget>("nat", "PREROUTING", "-p tcp -j DNAT --to-destination 1.1.1.1-1.1.1.10:1000-2000/1500 --random --persistent");
        var r = t.Range;
        Assert.Equal(V4("1.1.1.1"), r.MinAddr);
        Assert.Equal(V4("1.1.1.10"), r.MaxAddr);
        Assert.Equal((ushort)1000, r.MinProto);
        Assert.Equal((ushort)2000, r.MaxProto);
        Assert.Equal((ushort)1500, r.BaseProto);
        // MAP_IPS 0x1 | PROTO_SPECIFIED 0x2 | PROTO_RANDOM 0x4 | PERSISTENT 0x8 | PROTO_OFFSET 0x20 (nf_nat.h).
        Assert.Equal(0x2Fu, (uint)r.Flags);
    }

    [Fact]
    public void Dnat_port_by_service_name_and_hex_number()
    {
        // parse_ports: a single port may be a service name (ssh = 22) and is read with base 0 (0x50 = 80).
        Assert.Equal((ushort)22, Target<DnatTarget>("nat", "OUTPUT", "-p tcp -j DNAT --to-destination 10.0.0.1:ssh").Range.MinProto);
        var r = Target<DnatTarget>("nat", "OUTPUT", "-p udp -j DNAT --to-destination 10.0.0.1:0x50").Range;
        Assert.Equal(((ushort)80, (ushort)80), (r.MinProto, r.MaxProto));
        // No address part: ports only, NF_NAT_RANGE_MAP_IPS clear.
        var portsOnly = Target<DnatTarget>("nat", "PREROUTING", "-p tcp -j DNAT --to-destination :8080").Range;
        Assert.Equal(NfNatRangeFlags.ProtoSpecified, portsOnly.Flags);
    }

    [Fact]
    public void Ipv6_snat_takes_bracketed_addresses_and_prints_brackets_only_with_ports()
    {
        var t = Target<SnatTarget>("nat", "POSTROUTING", "-p tcp -j SNAT --to-source [dead::beef-dead::fee7]:1025-65535 --random-fully", IptFamily.IPv6);
        Assert.Equal(IpAddr.Parse("dead::beef"), t.Range.MinAddr);
        Assert.Equal(IpAddr.Parse("dead::fee7"), t.Range.MaxAddr);
        Assert.Equal(((ushort)1025, (ushort)65535), (t.Range.MinProto, t.Range.MaxProto));
        Assert.True(t.Range.Has(NfNatRangeFlags.ProtoRandomFully));
        // Without `:` + port an unbracketed IPv6 text is all address; a bracketed one prints without brackets.
        Assert.Equal("-j SNAT --to-source dead::1", Print("nat", "POSTROUTING", "-j SNAT --to-source [dead::1]", IptFamily.IPv6));
        Assert.Equal("-p tcp -j SNAT --to-source [dead::1]:80", Print("nat", "POSTROUTING", "-p tcp -j SNAT --to-source [dead::1]:80", IptFamily.IPv6));
    }

    private static string Print(string table, string chain, string rule, IptFamily family = IptFamily.IPv4)
    {
        var rs = IptablesParser.Parse($"*{table}\n:{chain} ACCEPT [0:0]\n-A {chain} {rule}\nCOMMIT\n", File, family);
        return rs.Table(table)!.Chain(chain)!.Rules[0].Text;
    }

    [Fact]
    public void Masquerade_and_redirect_map_ports_only()
    {
        var m = Target<MasqueradeTarget>("nat", "POSTROUTING", "-p udp -j MASQUERADE --to-ports 1024-65535 --random");
        Assert.Equal(NfNatRangeFlags.ProtoSpecified | NfNatRangeFlags.ProtoRandom, m.Range.Flags);
        Assert.Equal(((ushort)1024, (ushort)65535), (m.Range.MinProto, m.Range.MaxProto));
        var r = Target<RedirectTarget>("nat", "PREROUTING", "-p tcp -j REDIRECT --to-ports ftp-data");
        Assert.Equal(((ushort)20, (ushort)20), (r.Range.MinProto, r.Range.MaxProto));
        Assert.False(r.Range.MapsIps);
    }

    [Fact]
    public void Netmap_range_spans_the_whole_network()
    {
        // 1.2.3.4/24: host bits cleared for the minimum (iptables-save prints 1.2.3.0/24), all set for the maximum.
        var t = Target<NetmapTarget>("nat", "POSTROUTING", "-j NETMAP --to 1.2.3.4/24");
        Assert.Equal(V4("1.2.3.0"), t.Range.MinAddr);
        Assert.Equal(V4("1.2.3.255"), t.Range.MaxAddr);
        Assert.Equal("-j NETMAP --to 1.2.3.0/24", Print("nat", "POSTROUTING", "-j NETMAP --to 1.2.3.4/24"));
        var v6 = Target<NetmapTarget>("nat", "PREROUTING", "-j NETMAP --to dead::/64", IptFamily.IPv6);
        Assert.Equal(IpAddr.Parse("dead::ffff:ffff:ffff:ffff"), v6.Range.MaxAddr);
    }

    [Fact]
    public void Mark_options_fold_into_mark_and_mask_as_mark_tg_applies_them()
    {
        // --and-mark 5: mark 0, mask ~5; applied to 0xff: (0xff & 5) ^ 0 = 0x05.
        var and = Target<MarkTarget>("mangle", "PREROUTING", "-j MARK --and-mark 5");
        Assert.Equal((0u, 0xFFFFFFFAu), (and.Mark, and.Mask));
        Assert.Equal(0x05u, and.Apply(0xFF));
        // --set-mark 5/0xf0: mask = value | mask = 0xf5 is cleared, then 5 XORed in; bits 0x10a outside
        // the mask survive: (0x1ff & ~0xf5) ^ 0x5 = 0x10a ^ 0x5 = 0x10f.
        var set = Target<MarkTarget>("mangle", "PREROUTING", "-j MARK --set-mark 5/0xf0");
        Assert.Equal((5u, 0xF5u), (set.Mark, set.Mask));
        Assert.Equal(0x10Fu, set.Apply(0x1FF));
        var xor = Target<MarkTarget>("filter", "INPUT", "-j MARK --xor-mark 0x3");
        Assert.Equal(0x0Cu, xor.Apply(0x0F));
    }

    [Fact]
    public void Connmark_restore_with_mask_and_shift()
    {
        var t = Target<ConnmarkTarget>("mangle", "PREROUTING", "-j CONNMARK --restore-mark --mask 0xff --right-shift-mark 4");
        Assert.Equal(ConnmarkMode.Restore, t.Mode);
        Assert.Equal((0xFFu, 0xFFu), (t.NfMask, t.CtMask));
        Assert.True(t.ShiftRight);
        Assert.Equal((byte)4, t.ShiftBits);
        Assert.Equal("-j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff --right-shift-mark 4",
            Print("mangle", "PREROUTING", "-j CONNMARK --restore-mark --mask 0xff --right-shift-mark 4"));
        var or = Target<ConnmarkTarget>("mangle", "PREROUTING", "-j CONNMARK --or-mark 0x10");
        Assert.Equal((ConnmarkMode.Set, 0x10u, 0x10u), (or.Mode, or.CtMark, or.CtMask));
    }

    [Fact]
    public void Log_and_nflog_values()
    {
        // "alert" is LOG_ALERT = 1; the default level 4 (warning) is not printed back.
        var log = Target<LogTarget>("filter", "INPUT", "-j LOG --log-prefix \"x: \" --log-level alert --log-uid --log-tcp-options");
        Assert.Equal((byte)1, log.Level);
        Assert.Equal("x: ", log.Prefix);
        Assert.Equal(XtLogFlags.Uid | XtLogFlags.TcpOptions, log.Flags);
        Assert.Equal((byte)4, Target<LogTarget>("filter", "INPUT", "-j LOG").Level);
        // The prefix lives in char prefix[30]: cut to 29 characters, as iptables does silently.
        Assert.Equal(29, Target<LogTarget>("filter", "INPUT", "-j LOG --log-prefix " + new string('p', 40)).Prefix.Length);
        var nflog = Target<NflogTarget>("filter", "INPUT", "-j NFLOG --nflog-group 5 --nflog-size 128 --nflog-threshold 10");
        Assert.Equal(((ushort)5, 128u, true, (ushort)10), (nflog.Group, nflog.Len, nflog.CopyLen, nflog.Threshold));
    }

    [Fact]
    public void Reject_types_abbreviate_and_default_per_family()
    {
        Assert.Equal(RejectWith.IcmpHostUnreachable, Target<RejectTarget>("filter", "INPUT", "-j REJECT --reject-with host-unr").With);
        Assert.Equal(RejectWith.IcmpPortUnreachable, Target<RejectTarget>("filter", "FORWARD", "-j REJECT").With);
        Assert.Equal(RejectWith.Icmp6PortUnreachable, Target<RejectTarget>("filter", "INPUT", "-j REJECT", IptFamily.IPv6).With);
        Assert.Equal(RejectWith.TcpReset, Target<RejectTarget>("filter", "INPUT", "-p tcp -j REJECT --reject-with tcp-rst").With);
        Assert.Equal("-p tcp -j REJECT --reject-with tcp-reset", Print("filter", "INPUT", "-p tcp -j REJECT --reject-with tcp-rst"));
    }

    [Fact]
    public void Ct_events_and_zone()
    {
        // IPCT_NEW is bit 0, IPCT_MARK bit 7 (nf_conntrack_common.h): mask 0x81.
        var t = Target<CtTarget>("raw", "PREROUTING", "-j CT --ctevents new,mark --zone-orig mark --helper ftp");
        Assert.Equal(0x81u, t.CtEvents);
        Assert.Equal(XtCtFlags.ZoneDirOrig | XtCtFlags.ZoneMark, t.Flags);
        Assert.Equal("ftp", t.Helper);
        Assert.Equal("-j CT --helper ftp --ctevents new,mark --zone-orig mark", Print("raw", "PREROUTING", "-j CT --ctevents new,mark --zone-orig mark --helper ftp"));
        Assert.False(Target<NotrackTarget>("raw", "OUTPUT", "-j NOTRACK").IsTerminating);
    }

    [Fact]
    public void Nat_errors_name_the_argument_column_and_token()
    {
        const string rule = "-p tcp -j DNAT --to-destination 1.1.1.1:10-ssh";
        var e = Refused("nat", "PREROUTING", rule);
        Assert.Equal(new SourceLocation(File, 3, Column("PREROUTING", rule, "1.1.1.1:")), e.Location);
        Assert.Equal("10-ssh", e.Token);
        Assert.Contains("not valid", e.Message, StringComparison.Ordinal);

        // A port mapping without a protocol that has ports: refused at the argument.
        const string noProto = "-j SNAT --to-source 1.1.1.1:1025-65535";
        var p = Refused("nat", "POSTROUTING", noProto);
        Assert.Equal(Column("POSTROUTING", noProto, "1.1.1.1:"), p.Location.Column);
        Assert.Contains("-p tcp", p.Message, StringComparison.Ordinal);

        var brackets = Refused("nat", "PREROUTING", "-p tcp -j DNAT --to-destination [1.2.3.4]:80");
        Assert.Contains("brackets", brackets.Message, StringComparison.Ordinal);
        Assert.Contains("option --to-destination must be specified", Refused("nat", "PREROUTING", "-j DNAT").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mark_family_errors()
    {
        const string rule = "-j MARK --set-mark 1 --or-mark 2";
        var e = Refused("mangle", "PREROUTING", rule);
        Assert.Equal(Column("PREROUTING", rule, "--or-mark"), e.Location.Column);
        Assert.Contains("cannot be used together with --set-mark", e.Message, StringComparison.Ordinal);
        var twice = Refused("mangle", "PREROUTING", "-j CONNMARK --save-mark --save-mark");
        Assert.Contains("can only be used once", twice.Message, StringComparison.Ordinal);
        var big = Refused("filter", "INPUT", "-j MARK --set-xmark 4294967296");
        Assert.Equal("4294967296", big.Token);
    }

    [Fact]
    public void Log_family_and_reject_and_ct_errors()
    {
        const string rule = "-j LOG --log-level warn";
        var e = Refused("filter", "INPUT", rule);
        Assert.Equal(Column("INPUT", rule, "warn"), e.Location.Column);
        Assert.Equal("warn", e.Token);
        Assert.Contains("log level \"warn\" unknown", e.Message, StringComparison.Ordinal);
        Assert.Equal("bogus", Refused("filter", "INPUT", "-j REJECT --reject-with bogus").Token);
        Assert.Contains("tcp-reset needs -p tcp", Refused("filter", "INPUT", "-j REJECT --reject-with tcp-reset", IptFamily.IPv6).Message, StringComparison.Ordinal);
        Assert.Equal("bogus", Refused("raw", "PREROUTING", "-j CT --ctevents new,bogus").Token);
        Assert.Equal("65536", Refused("raw", "PREROUTING", "-j CT --zone 65536").Token);
    }

    [Theory]
    [InlineData("filter", "INPUT", "-j DNAT --to-destination 1.2.3.4")]
    [InlineData("nat", "POSTROUTING", "-j DNAT --to-destination 1.2.3.4")]
    [InlineData("nat", "PREROUTING", "-j SNAT --to-source 1.2.3.4")]
    [InlineData("nat", "OUTPUT", "-j MASQUERADE")]
    [InlineData("nat", "POSTROUTING", "-j REDIRECT")]
    [InlineData("mangle", "PREROUTING", "-j REJECT")]
    [InlineData("filter", "INPUT", "-j CT --notrack")]
    [InlineData("mangle", "PREROUTING", "-j NOTRACK")]
    [InlineData("filter", "INPUT", "-j TRACE")]
    public void Kernel_table_and_hook_restrictions_are_load_time_problems(string table, string chain, string rule)
    {
        // The kernel's xt_check_target refuses these (iptables 1.8.9 in a netns: "RULE_APPEND failed (Invalid argument)").
        var rs = IptablesParser.Parse($"*{table}\n:{chain} ACCEPT [0:0]\n-A {chain} {rule}\nCOMMIT\n", File, IptFamily.IPv4);
        Assert.NotEmpty(RulesetChecker.Check(rs));
    }

    private static readonly HashSet<Type> TaTargets =
    [
        typeof(RejectTarget), typeof(LogTarget), typeof(NflogTarget), typeof(MarkTarget), typeof(ConnmarkTarget), typeof(DnatTarget), typeof(SnatTarget),
        typeof(MasqueradeTarget), typeof(RedirectTarget), typeof(NetmapTarget), typeof(CtTarget), typeof(NotrackTarget), typeof(TraceTarget),
    ];

    /// <summary>
    /// Every rule of the shared iptables-save corpus whose target is one of these prints its `-j TARGET
    /// ...` part back exactly as the dump has it (the matches before it are other modules' business;
    /// iptables 1.4 left a trailing space after REJECT's option, trimmed). kube-proxy's
    /// `.iptables-restore` files are restore input, not save output, and are left out.
    /// </summary>
    [Fact]
    public void Corpus_rules_with_these_targets_print_back_as_dumped()
    {
        string folder = Path.Combine(Corpus.External, "iptables-save");
        if (!Directory.Exists(folder))
            Assert.Skip($"iptables-save corpus not found at {folder} (clone ../shared beside the repository to run this test)");
        int checkedRules = 0;
        var mismatches = new List<string>();
        foreach (var path in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string text = System.IO.File.ReadAllText(path);
            // Only what iptables-save wrote is canonical (hand-written files leave defaults such as --reject-with out).
            if (!text.Contains("\n-A ", StringComparison.Ordinal) || !text.Contains("COMMIT", StringComparison.Ordinal) || path.EndsWith(".iptables-restore", StringComparison.Ordinal)
                || !text.Contains("tables-save v", StringComparison.Ordinal) || CorpusDumpTests.HandEdited.Contains(Path.GetRelativePath(folder, path)))
                continue;
            IptRuleset rs;
            try
            {
                rs = IptablesParser.Parse(text, path, IptablesParser.GuessFamily(path, text));
            }
            catch (HostParseException e)
            {
                output.WriteLine($"skipped (not loadable here): {e.Message}");
                continue;
            }
            string[] lines = text.Split('\n');
            foreach (var rule in rs.AllRules.Where(r => TaTargets.Contains(r.Target.GetType())))
            {
                string line = lines[rule.Location.Line - 1].TrimEnd('\r', ' ');
                string jump = " -j " + rule.Target.Name;
                string expected = line[line.LastIndexOf(jump, StringComparison.Ordinal)..];
                string printed = " " + rule.Text;
                printed = printed[printed.LastIndexOf(jump, StringComparison.Ordinal)..];
                checkedRules++;
                if (printed != expected)
                    mismatches.Add($"{rule.Location}: dumped '{expected}' printed '{printed}'");
            }
        }
        foreach (var m in mismatches)
            output.WriteLine(m);
        output.WriteLine($"{checkedRules} rules checked");
        Assert.True(checkedRules > 100, $"only {checkedRules} corpus rules use these targets");
        Assert.Empty(mismatches);
    }
}
