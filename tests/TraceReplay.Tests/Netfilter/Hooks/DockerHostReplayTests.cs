using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;
using TraceReplay.Host;
using TraceReplay.Host.Iptables;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Routing;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Netfilter.Hooks;

/// <summary>
/// The bundled docker-host scenario (datasets/docker-host/record.sh, Linux 6.18): the capture
/// (`tcpdump -i any`, SLL2) replayed through the simulated host built from the snapshot (with its
/// conntrack.txt, the table when capture started), and the simulated counters of every rule and
/// policy compared with the kernel's own (kernel/iptables-save-c.rules, right after the traffic; the
/// counters were zeroed when the capture started), so every IPv4 packet the counters saw is in the capture.
/// </summary>
public sealed class DockerHostReplayTests
{
    private static string Dir => Path.Combine(Corpus.Root, "datasets", "docker-host");

    internal sealed record Replayed(string Dev, bool Outgoing, string Text, NfHookResult Result);

    /// <summary>
    /// Feeds each packet at its first sighting. Incoming on eth0: received on eth0. Incoming on a
    /// bridge port (veth1, veth2): received there, so it goes through the bridge — br_netfilter's
    /// PREROUTING, the FDB, then FORWARD/POSTROUTING to the other port or up to IP on docker0 (SLL2 has
    /// no destination MAC: NfHost.CookedDestination stands in for it). Its sighting on docker0 when the
    /// bridge hands it up, and outgoing sightings on a port (a bridged frame leaving, a frame docker0
    /// sent, or the RST br_netfilter's REJECT sends straight out of the port) are not new packets.
    /// Outgoing on eth0/docker0: a later sighting of a packet that came in (same IP id, protocol,
    /// length, TCP sequence / ICMP type and sequence), else made by the host and sent through OUTPUT
    /// (bound to the capture device for multicast, as IGMP's socket is).
    /// </summary>
    internal static (NfHost Host, List<Replayed> Packets) Replay()
    {
        var snapshot = HostSnapshot.Load(Path.Combine(Dir, "snapshot"));
        var host = NfHost.Create(snapshot);
        var ifaces = InterfaceTable.Load(Path.Combine(Dir, "snapshot", "link.json"));
        var seen = new HashSet<(uint, byte, int, uint, byte, ushort)>();
        var list = new List<Replayed>();
        using var reader = CaptureFile.Open(Path.Combine(Dir, "captures", "any.pcap"));
        while (reader.MoveNext())
        {
            var rec = reader.Current;
            byte[] frame = reader.Data.ToArray();
            PacketDecoder.Decode(frame, rec.LinkType, rec.WireLength, out var d);
            if (!d.HasIp)
                continue;
            var dev = ifaces.ByIndex(d.LinkIfIndex) ?? throw new InvalidDataException($"record {rec.RecordNumber}: ifindex {d.LinkIfIndex} not in link.json");
            bool outgoing = d.LinkPacketType == 4;
            var key = (d.IpId, d.Protocol, d.IpTotalLength, d.TcpSeq, d.IcmpType, d.IcmpSeq);
            string text = $"{d.Src} > {d.Dst} {L4Protocol.Name(d.Protocol)} {d.SrcPort}>{d.DstPort} type {d.IcmpType} len {d.IpTotalLength}";
            var type = (PacketType)Math.Min(d.LinkPacketType, (byte)3);
            if (!outgoing)
            {
                if (dev.Kind == "bridge")
                    continue;
                if (host.Bridges.Port(dev.Name) is { } port)
                    d.DstMac = host.CookedDestination(port, d, type);
                if (d.IsIpv4)
                    seen.Add(key);
                var r = host.Receive(frame, ref d, new NfIngress(dev.Name, rec.TimestampNs, type));
                list.Add(new Replayed(dev.Name, false, text, r));
            }
            else
            {
                if (dev.Master is not null || (d.IsIpv4 && seen.Contains(key)))
                    continue;
                bool multicast = d.IsIpv4 ? (d.Dst.V4 >> 28) == 0xE : (d.Dst.Hi >> 56) == 0xFF;
                var r = host.Output(frame, ref d, new NfEgress(rec.TimestampNs, BoundDev: multicast ? dev.Name : null));
                list.Add(new Replayed(dev.Name, true, text, r));
            }
        }
        return (host, list);
    }

    [Fact]
    public void Every_rule_and_policy_counter_agrees_with_the_kernel()
    {
        if (!File.Exists(Path.Combine(Dir, "captures", "any.pcap")))
            Assert.Skip("datasets/docker-host is not in this checkout");
        var (host, _) = Replay();
        var kernel = IptablesParser.Load(Path.Combine(Dir, "kernel", "iptables-save-c.rules"));
        var (differ, compared) = TraceReplay.Replay.Pipeline.CounterComparison.Compare(host, kernel);
        Assert.Equal(29, compared); // filter: 3 policies + 17 rules; nat: 4 policies + 5 rules
        Assert.Empty(differ);
    }

    [Fact]
    public void Each_flow_of_record_sh_meets_its_fate()
    {
        if (!File.Exists(Path.Combine(Dir, "captures", "any.pcap")))
            Assert.Skip("datasets/docker-host is not in this checkout");
        var (host, packets) = Replay();
        var v4 = packets.Where(p => p.Text.Contains('.', StringComparison.Ordinal) && !p.Text.Contains(':', StringComparison.Ordinal)).ToList();

        // 1. ping to the remote: forwarded out of eth0, MASQUERADEd to 198.51.100.1; the replies come back un-NATed to the container.
        var ping = v4.First(p => p.Text.StartsWith("172.17.0.2 > 203.0.113.9 icmp", StringComparison.Ordinal)).Result;
        Assert.Equal((NfFate.Forwarded, "eth0", "198.51.100.2"), (ping.Fate, ping.OutDev, ping.NextHop.ToString()));
        Assert.Equal("198.51.100.1", ping.TupleAfter.Src.ToString());
        var pong = v4.First(p => p.Text.StartsWith("203.0.113.9 > 198.51.100.1 icmp", StringComparison.Ordinal)).Result;
        Assert.Equal((NfFate.Forwarded, "docker0", "172.17.0.2"), (pong.Fate, pong.OutDev, pong.TupleAfter.Dst.ToString()));
        Assert.Equal(TraceReplay.Netfilter.Conntrack.CtDirection.Reply, pong.CtDirection);

        // 3. SMTP from the container: DOCKER-USER:1 REJECTs with a RST sent out of the port, not through OUTPUT.
        var smtp = v4.Single(p => p.Text.Contains(">25 ", StringComparison.Ordinal)).Result;
        Assert.Equal((NfFate.Dropped, "filter:DOCKER-USER:rule:1", true, false), (smtp.Fate, smtp.DropDescription(), smtp.HasReject, smtp.RejectViaOutput));

        // 4. the published port: DNATed to 172.17.0.2:80 and forwarded to docker0; its replies leave eth0 as 198.51.100.1:8080.
        var pubIn = v4.First(p => p.Text.Contains(">8080 ", StringComparison.Ordinal));
        var pub = pubIn.Result;
        Assert.Equal((NfFate.Forwarded, "docker0", "172.17.0.2", (ushort)80), (pub.Fate, pub.OutDev, pub.TupleAfter.Dst.ToString(), pub.TupleAfter.DstPort));
        string remotePort = pubIn.Text.Split(' ')[4].Split('>')[0];
        var pubReply = v4.First(p => p.Text.StartsWith("172.17.0.2 > 198.51.100.2 tcp 80>" + remotePort + " ", StringComparison.Ordinal)).Result;
        Assert.Equal((NfFate.Forwarded, "eth0", "198.51.100.1", (ushort)8080), (pubReply.Fate, pubReply.OutDev, pubReply.TupleAfter.Src.ToString(), pubReply.TupleAfter.SrcPort));

        // 5. SSH to the host, twice (the retransmitted SYN is NEW again: the first left no entry): INPUT's policy.
        var ssh = v4.Where(p => p.Text.Contains(">22 ", StringComparison.Ordinal)).Select(p => p.Result).ToList();
        Assert.Equal(2, ssh.Count);
        Assert.All(ssh, r => Assert.Equal((NfFate.Dropped, "filter:INPUT:policy", TraceReplay.Netfilter.Conntrack.CtState.New), (r.Fate, r.DropDescription(), r.CtState)));

        // 6. the remote pings the host: delivered; the host's replies are sent out of eth0.
        Assert.Equal(2, v4.Count(p => p.Text.StartsWith("198.51.100.2 > 198.51.100.1 icmp", StringComparison.Ordinal) && p.Result.Fate == NfFate.DeliveredLocally));
        Assert.Equal(2, v4.Count(p => p.Outgoing && p.Text.StartsWith("198.51.100.1 > 198.51.100.2 icmp", StringComparison.Ordinal) && p.Result.Fate == NfFate.Sent));

        // 7. ctr2 pings ctr1 across docker0: bridged veth2 → veth1 (br_netfilter's FORWARD accepted it,
        // `-i docker0 -o docker0 -j ACCEPT`), the reply bridged back veth1 → veth2, no TTL decrement, no NAT.
        var c2c = v4.First(p => p.Text.StartsWith("172.17.0.3 > 172.17.0.2 icmp", StringComparison.Ordinal)).Result;
        Assert.Equal((NfFate.Bridged, "docker0", "veth2", "veth1", 1), (c2c.Fate, c2c.InDev, c2c.PhysInDev, c2c.PhysOutDev, c2c.BridgeOutPorts));
        Assert.Equal((TraceReplay.Netfilter.Conntrack.CtState.New, true), (c2c.CtState, c2c.Visited(TraceReplay.Netfilter.Nat.NfInetHook.Forward, NfTableId.Filter)));
        Assert.Equal(c2c.TupleBefore, c2c.TupleAfter);
        var c2cBack = v4.First(p => p.Text.StartsWith("172.17.0.2 > 172.17.0.3 icmp", StringComparison.Ordinal)).Result;
        Assert.Equal((NfFate.Bridged, "veth1", "veth2", TraceReplay.Netfilter.Conntrack.CtDirection.Reply), (c2cBack.Fate, c2cBack.PhysInDev, c2cBack.PhysOutDev, c2cBack.CtDirection));

        // 8. and 10. TCP to the web port and UDP: every packet of both ways bridged.
        Assert.All(v4.Where(p => p.Text.Contains(">80 ", StringComparison.Ordinal) && p.Text.StartsWith("172.17.0.3", StringComparison.Ordinal)), p => Assert.Equal(NfFate.Bridged, p.Result.Fate));
        Assert.Equal(NfFate.Bridged, v4.Single(p => p.Text.Contains(">9999 ", StringComparison.Ordinal)).Result.Fate);

        // 9. TCP 5000 between the containers: DOCKER-USER:2 drops it in br_netfilter's FORWARD, twice (the SYN
        // retried is NEW again: the first left no entry).
        var blocked = v4.Where(p => p.Text.Contains(">5000 ", StringComparison.Ordinal)).Select(p => p.Result).ToList();
        Assert.Equal(2, blocked.Count);
        Assert.All(blocked, r => Assert.Equal((NfFate.Dropped, "filter:DOCKER-USER:rule:2", TraceReplay.Netfilter.Nat.NfInetHook.Forward, TraceReplay.Netfilter.Conntrack.CtState.New, "veth2"),
            (r.Fate, r.DropDescription(), r.DropHook, r.CtState, r.PhysInDev)));

        // 11. ctr2 pings docker0's address: up through the bridge to INPUT on docker0 (icmp-type 8 accepted), with
        // PREROUTING run once, inside the bridge; the host's replies go out through OUTPUT.
        var toHost = v4.Where(p => p.Text.StartsWith("172.17.0.3 > 172.17.0.1 icmp", StringComparison.Ordinal)).Select(p => p.Result).ToList();
        Assert.Equal(2, toHost.Count);
        Assert.All(toHost, r => Assert.Equal((NfFate.DeliveredLocally, "docker0", "veth2", true), (r.Fate, r.InDev, r.PhysInDev, (r.Path & NfPath.Bridge) != 0)));
        Assert.Equal(2, v4.Count(p => p.Outgoing && p.Text.StartsWith("172.17.0.1 > 172.17.0.3 icmp", StringComparison.Ordinal) && p.Result.Fate == NfFate.Sent));

        // 12. the connection older than the capture (conntrack.txt: ESTABLISHED, MASQUERADEd): never NEW, still translated.
        var old = v4.Where(p => p.Text.Contains(">7000 ", StringComparison.Ordinal)).Select(p => p.Result).ToList();
        Assert.NotEmpty(old);
        Assert.All(old, r => Assert.Equal((NfFate.Forwarded, TraceReplay.Netfilter.Conntrack.CtState.Established, "198.51.100.1"), (r.Fate, r.CtState, r.TupleAfter.Src.ToString())));

        // Nothing is left half-made: every entry the replay created was confirmed or aborted.
        Assert.Equal(0, host.Defrag.Pending);
    }
}
