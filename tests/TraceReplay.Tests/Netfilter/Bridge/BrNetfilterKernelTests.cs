using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Replay.Pipeline;
using static TraceReplay.Tests.Netfilter.Bridge.KernelWitnessTests;

namespace TraceReplay.Tests.Netfilter.Bridge;

/// <summary>
/// The real kernel as witness for br_netfilter: a bridge br0 (10.9.0.254/24) in a network namespace with
/// two veth ports to two host namespaces, bridge-nf-call-iptables=1 and iptables rules with physdev
/// matches in raw PREROUTING, filter INPUT/FORWARD and nat POSTROUTING. Pings and UDP between the hosts
/// (bridged: accepted by a physdev rule, dropped by FORWARD's policy or a rule, an ICMP error RELATED)
/// and pings to br0's address (up to INPUT through the bridge), inside those namespaces only. Every frame
/// the ports received is captured (tcpdump -Q in) and replayed through NfHost built from the namespace's
/// own `ip -j` and `sysctl -a` output; the counters must equal `iptables-save -c`'s, rule by rule and
/// policy by policy. Everything created is deleted.
/// </summary>
public sealed class BrNetfilterKernelTests(ITestOutputHelper output)
{
    private const string Rules = """
        *raw
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A PREROUTING -i br0 -m physdev --physdev-in p2 -j ACCEPT
        COMMIT
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A POSTROUTING -o br0 -m physdev --physdev-is-bridged -j ACCEPT
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -i br0 -m physdev --physdev-in p1 ! --physdev-is-bridged -p icmp -j ACCEPT
        -A INPUT -p icmp -j ACCEPT
        -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A FORWARD -i br0 -o br0 -m physdev --physdev-in p1 --physdev-out p2 --physdev-is-bridged -p icmp -j ACCEPT
        -A FORWARD -p udp -m udp --dport 7 -j DROP
        -A FORWARD -m physdev --physdev-is-bridged -p udp -j ACCEPT
        COMMIT
        """;

    [Fact]
    public void Iptables_counters_of_bridged_and_bridge_local_traffic_equal_the_kernels()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
            Assert.Skip("needs root on Linux to create network namespaces");
        foreach (var tool in new[] { "/usr/sbin/ip", "/usr/sbin/iptables-restore", "/usr/bin/tcpdump", "/usr/bin/ping", "/usr/bin/nc" })
        {
            if (!File.Exists(tool) && !File.Exists(tool.Replace("/usr", "", StringComparison.Ordinal)))
                Assert.Skip($"{tool} not installed");
        }
        if (!Directory.Exists("/proc/sys/net/bridge"))
            Assert.Skip("br_netfilter is not loaded (no /proc/sys/net/bridge)");

        string id = $"trbn{Environment.ProcessId % 100000}x{Random.Shared.Next(1000)}";
        string br = id + "b", h1 = id + "1", h2 = id + "2";
        string dir = Directory.CreateTempSubdirectory("trbn").FullName;
        var captures = new List<System.Diagnostics.Process>();
        string saved;
        long savedAtNs;
        try
        {
            BuildBridge(br, h1, h2, bridgeAddress: "10.9.0.254/24", bridgeNfCallIptables: true);

            // Rules (and so counters) only after the links settled: link-up chatter is not ours to replay.
            Thread.Sleep(1000);
            ShIn(Rules.Replace("\r", "", StringComparison.Ordinal) + "\n", "ip", "netns", "exec", br, "iptables-restore");
            foreach (var port in new[] { "p1", "p2" })
                captures.Add(StartCapture(br, port, Path.Combine(dir, port + ".pcap")));

            Sh("ip", "netns", "exec", h1, "ping", "-c", "3", "-i", "0.2", "-q", "10.9.0.2");            // bridged p1 → p2, accepted
            ShTry("ip", "netns", "exec", h2, "ping", "-c", "2", "-i", "0.2", "-q", "-W", "1", "10.9.0.1"); // bridged p2 → p1: FORWARD's policy
            Sh("ip", "netns", "exec", h1, "ping", "-c", "2", "-i", "0.2", "-q", "10.9.0.254");          // up to INPUT on br0
            Sh("ip", "netns", "exec", h2, "ping", "-c", "1", "-q", "10.9.0.254");
            ShIn("x\n", "ip", "netns", "exec", h1, "nc", "-u", "-w", "1", "-q", "1", "10.9.0.2", "7");  // dropped by FORWARD:3
            ShIn("y\n", "ip", "netns", "exec", h1, "nc", "-u", "-w", "1", "-q", "1", "10.9.0.2", "9");  // accepted; port unreachable back, RELATED
            Thread.Sleep(300);
            (saved, savedAtNs) = SettledSave(() => Sh("ip", "netns", "exec", br, "iptables-save", "-c"));
            File.WriteAllText(Path.Combine(dir, "addr.json"), Sh("ip", "-n", br, "-j", "addr"));
            File.WriteAllText(Path.Combine(dir, "link.json"), Sh("ip", "-n", br, "-j", "-d", "link"));
            File.WriteAllText(Path.Combine(dir, "route.json"), Sh("ip", "-n", br, "-j", "route", "show", "table", "all"));
            File.WriteAllText(Path.Combine(dir, "rule.json"), Sh("ip", "-n", br, "-j", "rule"));
            File.WriteAllText(Path.Combine(dir, "sysctl.conf"), string.Join('\n',
                Sh("ip", "netns", "exec", br, "sysctl", "-a").Split('\n').Where(l => l.StartsWith("net.", StringComparison.Ordinal) && !l.Contains("stable_secret", StringComparison.Ordinal))) + "\n");
        }
        finally
        {
            foreach (var c in captures)
            {
                if (!c.HasExited)
                    ShTry("kill", "-INT", c.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
                if (!c.WaitForExit(5000))
                    c.Kill();
                c.WaitForExit();
                c.Dispose();
            }
            foreach (var ns in new[] { br, h1, h2 })
                ShTry("ip", "netns", "del", ns);
        }

        NetworkConfig network;
        List<(long Ns, string Port, byte[] Frame)> frames;
        try
        {
            network = NetworkConfig.Load(dir);
            frames = [.. ReadPcap(Path.Combine(dir, "p1.pcap"), "p1").Concat(ReadPcap(Path.Combine(dir, "p2.pcap"), "p2"))
                .Where(f => f.Ns <= savedAtNs).OrderBy(f => f.Ns)];
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        output.WriteLine($"{frames.Count} frames replayed");
        output.WriteLine(saved);

        var kernel = IptablesParser.Parse(saved, "iptables-save", IptFamily.IPv4);
        var host = new NfHost(network, IptablesParser.Parse(Rules, "rules", IptFamily.IPv4), null, null, new NfHostOptions { LoadConntrack = false });
        var fates = new Dictionary<NfFate, int>();
        foreach (var (ns, port, bytes) in frames)
        {
            PacketDecoder.Decode(bytes, TraceReplay.Capture.LinkType.Ethernet, bytes.Length, out DecodedPacket p);
            var r = host.Receive(bytes, ref p, new NfIngress(port, ns));
            fates[r.Fate] = fates.GetValueOrDefault(r.Fate) + 1;
        }
        output.WriteLine(string.Join(", ", fates.Select(kv => $"{kv.Key} {kv.Value}")));

        // OUTPUT and POSTROUTING also count what the bridge's own address sent (echo replies, ARP is not
        // iptables'): those packets are not received on a port, so they are not in this replay. Every chain
        // a received frame can reach is compared.
        var (differ, compared) = CounterComparison.Compare(host, kernel);
        var relevant = differ.Where(d => !d.StartsWith("filter:OUTPUT", StringComparison.Ordinal) && !d.StartsWith("raw:OUTPUT", StringComparison.Ordinal)
            && !d.StartsWith("nat:OUTPUT", StringComparison.Ordinal) && !d.StartsWith("nat:POSTROUTING:policy", StringComparison.Ordinal)).ToList();
        Assert.True(relevant.Count == 0, string.Join("\n", relevant));
        Assert.Equal(17, compared); // raw 2 policies + 1 rule; nat 4 + 1; filter 3 + 2 + 4

        // Not vacuous: the first echo request crossed by the physdev rule (the rest of that ping, both ways, is
        // ESTABLISHED), two the other way fell to the policy, UDP port 7 met its DROP, and br0's address was
        // pinged from p1 through INPUT's physdev rule.
        Assert.Equal((1UL, 2UL, 1UL, 2UL), (host.Counters(IptFamily.IPv4, "filter", "FORWARD", 1).Packets, host.Counters(IptFamily.IPv4, "filter", "FORWARD", -1).Packets,
            host.Counters(IptFamily.IPv4, "filter", "FORWARD", 2).Packets, host.Counters(IptFamily.IPv4, "filter", "INPUT", 0).Packets));
    }
}
