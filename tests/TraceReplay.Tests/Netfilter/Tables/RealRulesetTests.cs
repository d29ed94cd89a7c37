using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Host.Parsing;
using TraceReplay.Netfilter.Conntrack;
using CtState = TraceReplay.Netfilter.Conntrack.CtState;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Tests.Host.Iptables;
using TraceReplay.Tests.Support;
using static TraceReplay.Tests.Netfilter.Tables.TableHarness;

namespace TraceReplay.Tests.Netfilter.Tables;

/// <summary>
/// Real rule sets: the bundled docker-host dump (iptables-save -c from a Docker host, Linux 6.18)
/// compiles and hand-made packets take the paths Docker's chains are built for; every dump of the
/// shared corpus compiles and traverses without an exception other than a parse error.
/// </summary>
public sealed class RealRulesetTests
{
    private static string DockerRules => Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot", "iptables.rules");

    /// <summary>addr.json of the snapshot: 127.0.0.1/8 on lo, 172.17.0.1/16 on docker0, 198.51.100.1/24 on eth0.</summary>
    private sealed class DockerHostFib : IXtAddrTypeResolver
    {
        public AddrType TypeOf(IpAddr address, bool isV6, string? device) => address.ToString() switch
        {
            "198.51.100.1" or "172.17.0.1" => AddrType.Local,
            var a when a.StartsWith("127.", StringComparison.Ordinal) => AddrType.Local,
            "172.17.255.255" or "198.51.100.255" or "255.255.255.255" => AddrType.Broadcast,
            _ => AddrType.Unicast,
        };
    }

    private static (XtTableInfo Filter, XtTableInfo Nat) Docker()
    {
        var rs = IptablesParser.Load(DockerRules);
        Assert.True(rs.HasCounters);
        var net = new XtNet { AddrTypes = new DockerHostFib() };
        return (XtTableInfo.Compile(rs.Table("filter")!, rs.Family, net), XtTableInfo.Compile(rs.Table("nat")!, rs.Family, net));
    }

    private static ParamSetup Dev(string? inDev, string? outDev, CtState state) => (ref XtActionParam p) =>
    {
        p.InDev = inDev;
        p.OutDev = outDev;
        p.Ct = new NfCtInfo { State = state };
    };

    [Fact]
    public void Docker_host_filter_paths()
    {
        var (filter, _) = Docker();

        // Container to the internet: DOCKER-USER and both isolation stages return, FORWARD:5
        // (-i docker0 ! -o docker0) accepts.
        var trace = new ListTrace();
        var v = Run(filter, Tcp(src: "172.17.0.2", dst: "203.0.113.9", dport: 443), setup: Dev("docker0", "eth0", CtState.New), trace: trace);
        Assert.Equal((XtVerdict.Accept, "FORWARD:5"), (v.Verdict, Where(filter, v)));
        Assert.Equal(
            [
                "TRACE: filter:FORWARD:rule:1 True", "TRACE: filter:DOCKER-USER:rule:1 False", "TRACE: filter:DOCKER-USER:rule:2 False",
                "TRACE: filter:DOCKER-USER:rule:3 True",
                "TRACE: filter:FORWARD:rule:2 True", "TRACE: filter:DOCKER-ISOLATION-STAGE-1:rule:1 True",
                "TRACE: filter:DOCKER-ISOLATION-STAGE-2:rule:1 False", "TRACE: filter:DOCKER-ISOLATION-STAGE-2:rule:2 True",
                "TRACE: filter:DOCKER-ISOLATION-STAGE-1:rule:2 True", "TRACE: filter:FORWARD:rule:3 False", "TRACE: filter:FORWARD:rule:4 False",
                "TRACE: filter:FORWARD:rule:5 True",
            ], trace.Lines);

        // SMTP from a container: DOCKER-USER:1 rejects with a RST.
        var smtp = RunFull(filter, Tcp(src: "172.17.0.2", dst: "203.0.113.9", dport: 25), setup: Dev("docker0", "eth0", CtState.New));
        Assert.Equal((XtVerdict.Drop, "DOCKER-USER:1"), (smtp.Verdict.Verdict, Where(filter, smtp.Verdict)));
        Assert.Equal(TraceReplay.Host.Iptables.Extensions.Targets.RejectWith.TcpReset, smtp.Reject.With);

        // The published port after DNAT: FORWARD:4 → DOCKER:1 accepts.
        var pub = Run(filter, Tcp(src: "203.0.113.9", dst: "172.17.0.2", dport: 80), setup: Dev("eth0", "docker0", CtState.New));
        Assert.Equal((XtVerdict.Accept, "DOCKER:1"), (pub.Verdict, Where(filter, pub)));

        // Another port of the container: DOCKER returns, nothing else matches, FORWARD's policy drops.
        var ssh = Run(filter, Tcp(src: "203.0.113.9", dst: "172.17.0.2", dport: 22), setup: Dev("eth0", "docker0", CtState.New));
        Assert.Equal((XtVerdict.Drop, "FORWARD:policy"), (ssh.Verdict, Where(filter, ssh)));

        // The reply to the container's connection: FORWARD:3 (RELATED,ESTABLISHED to docker0).
        var reply = Run(filter, Tcp(src: "203.0.113.9", sport: 443, dst: "172.17.0.2", dport: 40000, syn: true, ack: true), setup: Dev("eth0", "docker0", CtState.Established));
        Assert.Equal((XtVerdict.Accept, "FORWARD:3"), (reply.Verdict, Where(filter, reply)));

        // INPUT: new SSH to the host falls to the DROP policy; loopback is accepted.
        var inSsh = Run(filter, Tcp(dst: "198.51.100.1", dport: 22), NfInetHook.LocalIn, setup: Dev("eth0", null, CtState.New));
        Assert.Equal((XtVerdict.Drop, "INPUT:policy"), (inSsh.Verdict, Where(filter, inSsh)));
        var lo = Run(filter, Tcp(src: "127.0.0.1", dst: "127.0.0.1"), NfInetHook.LocalIn, setup: Dev("lo", null, CtState.New));
        Assert.Equal((XtVerdict.Accept, "INPUT:1"), (lo.Verdict, Where(filter, lo)));

        // Counters: each packet above counted once on FORWARD:1; the two policy drops counted on their policies.
        Assert.Equal(5UL, filter.Counters(filter.EntryOf("FORWARD", 1)).Packets);
        Assert.Equal(new XtCounters(1, 40), filter.Counters(filter.PolicyEntry("FORWARD")));
        Assert.Equal(new XtCounters(1, 40), filter.Counters(filter.PolicyEntry("INPUT")));
        Assert.Equal(4UL, filter.Counters(filter.EntryOf("DOCKER-USER", 3)).Packets); // all but the SMTP one returned (rule 2 drops only docker0 to docker0 port 5000)
    }

    [Fact]
    public void Docker_host_nat_paths()
    {
        var (_, nat) = Docker();

        // To the published port 8080 on the host's address: PREROUTING:1 (dst-type LOCAL) → DOCKER:2 DNAT.
        var dnat = RunFull(nat, Tcp(src: "203.0.113.9", dst: "198.51.100.1", dport: 8080), NfInetHook.PreRouting,
            setup: (ref XtActionParam p) => p.InDev = "eth0");
        Assert.Equal((XtVerdict.Accept, "DOCKER:2", XtNatKind.Dnat), (dnat.Verdict.Verdict, Where(nat, dnat.Verdict), dnat.Nat.Kind));
        Assert.Equal((IpAddr.Parse("172.17.0.2"), (ushort)80), (dnat.Nat.Range.MinAddr, dnat.Nat.Range.MinProto));

        // From a container to the host's address: DOCKER:1 (-i docker0) returns; PREROUTING's policy accepts without NAT.
        var fromContainer = RunFull(nat, Tcp(src: "172.17.0.2", dst: "198.51.100.1", dport: 8080), NfInetHook.PreRouting,
            setup: (ref XtActionParam p) => p.InDev = "docker0");
        Assert.Equal((XtVerdict.Accept, "PREROUTING:policy", XtNatKind.None), (fromContainer.Verdict.Verdict, Where(nat, fromContainer.Verdict), fromContainer.Nat.Kind));

        // A container to the internet leaves by eth0: MASQUERADE.
        var masq = RunFull(nat, Tcp(src: "172.17.0.2", dst: "203.0.113.9", dport: 443), NfInetHook.PostRouting,
            setup: (ref XtActionParam p) => p.OutDev = "eth0");
        Assert.Equal((XtNatKind.Masquerade, "POSTROUTING:1"), (masq.Nat.Kind, Where(nat, masq.Verdict)));
    }

    [Fact]
    public void Counters_read_back_in_save_order()
    {
        var rs = IptablesParser.Load(DockerRules);
        var tables = XtTableInfo.CompileAll(rs, new XtNet { AddrTypes = new DockerHostFib() });
        Assert.Equal(["filter", "nat"], tables.Keys.Order(StringComparer.Ordinal));
        var filter = tables["filter"];
        Run(filter, Tcp(src: "172.17.0.2", dst: "203.0.113.9", dport: 443), setup: Dev("docker0", "eth0", CtState.New));

        // One line per policy and per rule of the dump, nothing for the user chains' RETURN entries.
        var all = filter.AllCounters().ToList();
        var table = rs.Table("filter")!;
        Assert.Equal(table.Chains.Count(c => c.IsBuiltin) + table.Chains.Sum(c => c.Rules.Count), all.Count);
        Assert.Equal(("INPUT", 0, true), (all[0].Chain, all[0].RuleNum, all[0].IsPolicy));
        Assert.Contains(all, c => c is { Chain: "FORWARD", RuleNum: 5, Counters.Packets: 1, Counters.Bytes: 40 });
        Assert.Equal(("INPUT", 1, false), (all[3].Chain, all[3].RuleNum, all[3].IsPolicy)); // after the three policies
        Assert.Equal(("FORWARD", 1, false), (all[6].Chain, all[6].RuleNum, all[6].IsPolicy)); // after INPUT's three rules

        // The path of Docker_host_filter_paths' first packet: FORWARD:1, DOCKER-USER:3, FORWARD:2,
        // DOCKER-ISOLATION-STAGE-1:1, STAGE-2:2, STAGE-1:2, FORWARD:5.
        Assert.Equal(7, all.Count(c => c.Counters.Packets == 1));
    }

    [Theory]
    [MemberData(nameof(CorpusDumpTests.Dumps), MemberType = typeof(CorpusDumpTests))]
    public void Every_corpus_dump_compiles_and_traverses(string relative)
    {
        string folder = CorpusDumpTests.Folder;
        if (!Directory.Exists(folder))
            Assert.Skip($"shared rule dumps not found at {folder} (clone ../shared beside the repository to run this test)");
        IptRuleset rs;
        try
        {
            rs = IptablesParser.Load(Path.Combine(folder, relative));
        }
        catch (HostParseException)
        {
            return; // the parser's tests cover the dumps it refuses, with their messages
        }

        var net = new XtNet();
        bool v6 = rs.Family == IptFamily.IPv6;
        TestPacket[] packets = v6
            ? [new TestPacket(Frames.TcpV6("2001:db8::1", 40000, "2001:db8::2", 22))]
            : [Tcp(dport: 22), Udp(), Tcp(src: "192.168.1.10", dst: "10.1.2.3", dport: 443, syn: false, ack: true)];
        foreach (var table in rs.Tables)
        {
            XtTableInfo t;
            try
            {
                t = XtTableInfo.Compile(table, rs.Family, net);
            }
            catch (HostParseException e)
            {
                // Only a loop may be refused at compile time, and it must say where.
                Assert.Contains("loop", e.Message, StringComparison.Ordinal);
                continue;
            }
            foreach (var hook in Enum.GetValues<NfInetHook>())
            {
                foreach (var pkt in packets)
                {
                    var v = Run(t, pkt, hook);
                    Assert.True(v.Verdict is XtVerdict.Accept or XtVerdict.Drop or XtVerdict.Queue or XtVerdict.Unknown, v.ToString());
                }
            }
        }
    }
}

/// <summary>Malformed and mutated packets: the traversal never throws; a header the packet itself lacks hotdrops as the kernel does.</summary>
public sealed class TableBadPacketTests
{
    [Fact]
    public void A_tcp_header_shorter_than_five_words_hotdrops()
    {
        // Data offset 4 (16 bytes): the decoder flags it malformed (not truncated); tcp_mt's header
        // read fails in the kernel too, which sets hotdrop: the table drops without a target.
        var f = Frames.TcpV4("10.0.0.1", 40000, "192.0.2.7", 80);
        f[14 + 20 + 12] = 4 << 4;
        var pkt = new TestPacket(f);
        Assert.True(pkt.Decoded.IsMalformed);
        Assert.False(pkt.Decoded.IsTruncated);
        var t = Filter("-A FORWARD -p tcp -m tcp --dport 80 -j ACCEPT");
        var v = Run(t, pkt);
        Assert.Equal((XtVerdict.Drop, "FORWARD:1"), (v.Verdict, Where(t, v)));
        Assert.True((v.Flags & IptVerdictFlags.HotDrop) != 0);
        Assert.Equal(new XtCounters(0, 0), t.Counters(v.Entry));
    }

    [Fact]
    public void Mutated_frames_never_throw()
    {
        // 20000 fixed-seed mutations of TCP, UDP and ICMP frames through a table that uses most modules.
        var t = Filter("""
            :A - [0:0]
            -A FORWARD -p tcp -m tcp --tcp-flags SYN,ACK SYN --tcp-option 2 -m tcpmss --mss 1:1400 -j A
            -A FORWARD -p tcp -m multiport --dports 22,80 -m string --string GET --algo bm -j A
            -A FORWARD -p udp -m udp --dport 53 -m length --length 0:512 -m hashlimit --hashlimit-upto 5/sec --hashlimit-mode srcip,dstport --hashlimit-name f -j A
            -A FORWARD -p icmp -m icmp --icmp-type 8 -m limit -j A
            -A FORWARD -m iprange --src-range 10.0.0.0-10.255.255.255 -m recent --set --name f
            -A FORWARD -m dscp --dscp 0x2e -m ttl --ttl-lt 5 -m pkttype --pkt-type unicast -j DROP
            -A A -m statistic --mode nth --every 3 --packet 0 -j RETURN
            -A A -j ACCEPT
            """);
        byte[][] seeds = [Frames.TcpV4("10.0.0.1", 40000, "192.0.2.7", 80, payload: 20), Frames.UdpV4("10.1.0.1", 5353, "192.0.2.7", 53), Frames.TcpV6("2001:db8::1", 1, "2001:db8::2", 22)];
        var rng = new Random(7);
        for (int i = 0; i < 20_000; i++)
        {
            var f = (byte[])seeds[i % seeds.Length].Clone();
            int flips = 1 + rng.Next(4);
            for (int k = 0; k < flips; k++)
                f[14 + rng.Next(f.Length - 14)] = (byte)rng.Next(256);
            int len = rng.Next(3) == 0 ? 14 + rng.Next(f.Length - 14) : f.Length;
            var cut = f[..len];
            TraceReplay.Capture.Decode.PacketDecoder.Decode(cut, TraceReplay.Capture.LinkType.Ethernet, f.Length, out var d);
            if (!d.HasIp)
                continue;
            var pkt = new TestPacket(cut) { Decoded = d };
            var v = Run(t, pkt, timeNs: i * 1_000_000L);
            Assert.True(v.Verdict is XtVerdict.Accept or XtVerdict.Drop);
        }
    }
}
