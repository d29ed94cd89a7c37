using System.Buffers.Binary;
using System.Diagnostics;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Ebtables;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Bridge;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Tests.Netfilter.Bridge;

/// <summary>
/// The real kernel as witness: a bridge in a network namespace with two veth ports to two host
/// namespaces, ebtables rules loaded, pings between the hosts (and to an address whose MAC no port
/// has, so it floods into a DROP rule) inside those namespaces only. Every frame the bridge received
/// is captured with tcpdump -Q in on its ports; replaying them through <see cref="BridgeDecision"/>
/// must give the counters `ebtables-save -c` reports, rule by rule. Everything created is deleted.
/// </summary>
public sealed class KernelWitnessTests(ITestOutputHelper output)
{
    private const string Rules = """
        *filter
        :INPUT ACCEPT
        :FORWARD ACCEPT
        :OUTPUT ACCEPT
        :CNT RETURN
        -A INPUT -p ARP -j CONTINUE
        -A INPUT -j CONTINUE
        -A FORWARD -p ARP --arp-op Request -j CONTINUE
        -A FORWARD -p ARP --arp-op Reply -j CONTINUE
        -A FORWARD -p IPv4 --ip-dst 10.9.0.99 -j DROP
        -A FORWARD -p IPv4 --ip-proto icmp --ip-icmp-type echo-request -j mark --mark-set 0x1 --mark-target CONTINUE
        -A FORWARD --mark 0x1 -j CNT
        -A FORWARD -i p2 -o p1 -j CONTINUE
        -A FORWARD -s 02:aa:00:00:00:0a -j CONTINUE
        -A FORWARD --pkttype-type otherhost -j CONTINUE
        -A FORWARD --pkttype-type broadcast -j CONTINUE
        -A FORWARD -p IPv4 --ip-proto icmp --ip-icmp-type echo-reply --ip-src 10.9.0.2 -j CONTINUE
        -A CNT -p IPv4 --ip-src 10.9.0.1 -j RETURN
        -A CNT -j CONTINUE
        *nat
        :PREROUTING ACCEPT
        :OUTPUT ACCEPT
        :POSTROUTING ACCEPT
        -A PREROUTING -p IPv4 -j CONTINUE
        -A PREROUTING -p ARP -j CONTINUE
        -A PREROUTING -d 02:aa:00:00:00:99 -j CONTINUE
        -A POSTROUTING -o p2 -j CONTINUE
        -A POSTROUTING -o p1 -p ARP -j CONTINUE
        """;

    [Fact]
    public void Counters_of_replayed_captures_equal_the_kernels()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
            Assert.Skip("needs root on Linux to create network namespaces");
        foreach (var tool in new[] { "/usr/sbin/ip", "/usr/sbin/ebtables-restore", "/usr/bin/tcpdump", "/usr/bin/ping" })
        {
            if (!File.Exists(tool) && !File.Exists(tool.Replace("/usr", "", StringComparison.Ordinal)))
                Assert.Skip($"{tool} not installed");
        }

        string id = $"trbr{Environment.ProcessId % 100000}x{Random.Shared.Next(1000)}";
        string br = id + "b", h1 = id + "1", h2 = id + "2";
        string dir = Directory.CreateTempSubdirectory("trbr").FullName;
        var captures = new List<Process>();
        string saved;
        long savedAtNs;
        try
        {
            BuildBridge(br, h1, h2, bridgeAddress: null, bridgeNfCallIptables: false);
            Sh("ip", "-n", h1, "neigh", "add", "10.9.0.99", "lladdr", "02:aa:00:00:00:99", "dev", "eth0");

            // Rules (and so counters) only after the links settled: the bridge's own frames at link-up are not ours to replay.
            Thread.Sleep(1000);
            ShIn(Rules.Replace("\r", "", StringComparison.Ordinal) + "\n", "ip", "netns", "exec", br, "ebtables-restore");
            foreach (var port in new[] { "p1", "p2" })
                captures.Add(StartCapture(br, port, Path.Combine(dir, port + ".pcap")));

            Sh("ip", "netns", "exec", h1, "ping", "-c", "4", "-i", "0.2", "-q", "10.9.0.2");
            ShTry("ip", "netns", "exec", h1, "ping", "-c", "2", "-i", "0.2", "-q", "-W", "1", "10.9.0.99");
            Sh("ip", "netns", "exec", h2, "ping", "-c", "2", "-i", "0.2", "-q", "10.9.0.1");
            Thread.Sleep(200);
            (saved, savedAtNs) = SettledSave(() => Sh("ip", "netns", "exec", br, "ebtables-save", "-c"));
        }
        finally
        {
            // SIGINT (to the tcpdump we started, by its id) lets it write out what it still holds.
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

        List<(long Ns, string Port, byte[] Frame)> frames;
        try
        {
            frames = [.. ReadPcap(Path.Combine(dir, "p1.pcap"), "p1").Concat(ReadPcap(Path.Combine(dir, "p2.pcap"), "p2"))
                .Where(f => f.Ns <= savedAtNs).OrderBy(f => f.Ns)];
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        output.WriteLine($"{frames.Count} frames replayed");
        output.WriteLine(saved);

        var network = new NetworkConfig(
        [
            new NetDevice { IfIndex = 2, Name = "br0", Kind = "bridge", Mac = BridgeHarness.Mac("02:00:00:00:00:01") },
            new NetDevice { IfIndex = 3, Name = "p1", Kind = "veth", SlaveKind = "bridge", Master = "br0", Mac = BridgeHarness.Mac("02:00:00:00:00:10") },
            new NetDevice { IfIndex = 4, Name = "p2", Kind = "veth", SlaveKind = "bridge", Master = "br0", Mac = BridgeHarness.Mac("02:00:00:00:00:11") },
        ], [], []);
        var d = new BridgeDecision(network, EbtablesParser.Parse(Rules, "witness.rules"), new XtNet());
        foreach (var (ns, port, bytes) in frames)
        {
            TraceReplay.Capture.Decode.PacketDecoder.Decode(bytes, TraceReplay.Capture.LinkType.Ethernet, bytes.Length, out DecodedPacket p);
            d.Receive(port, ref p, bytes, ns);
        }

        var kernel = EbtablesParser.Parse(saved, "ebtables-save");
        int compared = 0;
        foreach (var (kind, ours) in new[] { (EbtTableKind.Filter, d.Filter!), (EbtTableKind.Nat, d.Nat!) })
        {
            foreach (var chain in kernel.Table(kind)!.Chains)
            {
                for (int i = 0; i < chain.Rules.Count; i++)
                {
                    var simulated = ours.Counters(ours.EntryOf(chain.Name, i + 1));
                    Assert.True(chain.Rules[i].Counters == simulated,
                        $"{ours.Name}:{chain.Name}:{i + 1}: kernel {chain.Rules[i].Counters}, simulated {simulated}");
                    compared++;
                }
            }
        }
        Assert.Equal(19, compared);

        // Not vacuous: the pings crossed, and the frames to the unknown MAC met the DROP rule.
        Assert.Equal(2UL, d.Filter!.Counters(d.Filter.EntryOf("FORWARD", 3)).Packets);
        Assert.True(d.Filter.Counters(d.Filter.EntryOf("FORWARD", 10)).Packets >= 4);
    }

    internal static Process StartCapture(string ns, string port, string file)
    {
        var psi = new ProcessStartInfo("ip", ["netns", "exec", ns, "tcpdump", "-q", "-U", "--immediate-mode", "-i", port, "-Q", "in", "-w", file])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        var p = Process.Start(psi)!;

        // tcpdump says "listening on …" once the socket is open; frames before that would be lost.
        var ready = p.StandardError.ReadLineAsync();
        if (!ready.Wait(TimeSpan.FromSeconds(10)))
            throw new TimeoutException($"tcpdump on {port} did not start");
        _ = p.StandardError.ReadToEndAsync();
        return p;
    }

    /// <summary>ebtables-save's text without its "# Generated … on DATE" lines: what the counters say.</summary>
    private static string Counters(string save) => string.Join('\n', save.Split('\n').Where(l => !l.StartsWith('#')));

    /// <summary>
    /// The counters (an *-save -c text) and a time no counted frame is later than. The counters are a snapshot
    /// at the moment the save reads them, and a late frame (a delayed reply, a neighbour probe) may still be
    /// crossing: read, note the time, read again — when the two reads agree, no frame was counted in between,
    /// so exactly the frames captured up to that time are the ones the first read counted.
    /// </summary>
    internal static (string Saved, long AtNs) SettledSave(Func<string> save)
    {
        string saved = save();
        for (int attempt = 0; ; attempt++)
        {
            long atNs = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
            string again = save();
            if (Counters(again) == Counters(saved) || attempt == 20)
                return (saved, atNs);
            saved = again;
            Thread.Sleep(100);
        }
    }

    /// <summary>
    /// Namespace <paramref name="br"/> with bridge br0 (02:00:00:00:00:01) and ports p1, p2 (…:10, …:11) to hosts
    /// <paramref name="h1"/> (10.9.0.1, 02:aa:00:00:00:0a) and <paramref name="h2"/> (10.9.0.2, …:0b), IPv6 off, all up.
    /// </summary>
    internal static void BuildBridge(string br, string h1, string h2, string? bridgeAddress, bool bridgeNfCallIptables)
    {
        foreach (var ns in new[] { br, h1, h2 })
        {
            Sh("ip", "netns", "add", ns);
            Sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
            Sh("ip", "-n", ns, "link", "set", "lo", "up");
        }
        if (bridgeNfCallIptables)
            Sh("ip", "netns", "exec", br, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1");
        Sh("ip", "-n", br, "link", "add", "br0", "address", "02:00:00:00:00:01", "type", "bridge");
        Sh("ip", "-n", br, "link", "add", "p1", "address", "02:00:00:00:00:10", "type", "veth", "peer", "name", "eth0", "netns", h1);
        Sh("ip", "-n", br, "link", "add", "p2", "address", "02:00:00:00:00:11", "type", "veth", "peer", "name", "eth0", "netns", h2);
        Sh("ip", "-n", h1, "link", "set", "eth0", "address", "02:aa:00:00:00:0a");
        Sh("ip", "-n", h2, "link", "set", "eth0", "address", "02:aa:00:00:00:0b");
        Sh("ip", "-n", br, "link", "set", "p1", "master", "br0");
        Sh("ip", "-n", br, "link", "set", "p2", "master", "br0");
        if (bridgeAddress is not null)
            Sh("ip", "-n", br, "addr", "add", bridgeAddress, "dev", "br0");
        foreach (var l in new[] { "br0", "p1", "p2" })
            Sh("ip", "-n", br, "link", "set", l, "up");
        Sh("ip", "-n", h1, "addr", "add", "10.9.0.1/24", "dev", "eth0");
        Sh("ip", "-n", h2, "addr", "add", "10.9.0.2/24", "dev", "eth0");
        Sh("ip", "-n", h1, "link", "set", "eth0", "up");
        Sh("ip", "-n", h2, "link", "set", "eth0", "up");
    }

    /// <summary>Classic pcap (tcpdump -w): 24-byte file header, then 16-byte record headers (µs or ns timestamps by the magic).</summary>
    internal static IEnumerable<(long Ns, string Port, byte[] Frame)> ReadPcap(string path, string port)
    {
        var b = File.ReadAllBytes(path);
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(b);
        long unit = magic == 0xA1B23C4D ? 1 : 1000;
        Assert.True(magic is 0xA1B2C3D4 or 0xA1B23C4D, $"{path}: not a little-endian pcap file");
        for (int at = 24; at + 16 <= b.Length;)
        {
            long sec = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));
            long frac = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at + 4));
            int caplen = (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at + 8));
            if (at + 16 + caplen > b.Length)
                break;
            yield return ((sec * 1_000_000_000) + (frac * unit), port, b.AsSpan(at + 16, caplen).ToArray());
            at += 16 + caplen;
        }
    }

    internal static string Sh(params string[] args) => Exec(null, true, args);

    internal static string ShTry(params string[] args) => Exec(null, false, args);

    internal static string ShIn(string stdin, params string[] args) => Exec(stdin, true, args);

    private static string Exec(string? stdin, bool check, string[] args)
    {
        var psi = new ProcessStartInfo(args[0], args[1..])
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        var err = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (check && p.ExitCode != 0)
            throw new InvalidOperationException($"{string.Join(' ', args)} exited {p.ExitCode}: {err.Result}");
        return stdout;
    }
}
