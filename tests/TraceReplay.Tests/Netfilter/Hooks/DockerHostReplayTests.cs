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
/// (`tcpdump -i any`, SLL2) replayed through the simulated host built from the snapshot, and the
/// simulated counters of every rule and policy compared with the kernel's own (`iptables-save -c`
/// right after the traffic). The rules were loaded 1.5 s before tcpdump started, with nothing but
/// the namespaces' own link-local chatter in between (IPv6, which iptables does not count), so
/// every IPv4 packet the counters saw is in the capture.
/// </summary>
public sealed class DockerHostReplayTests
{
    private static string Dir => Path.Combine(Corpus.Root, "datasets", "docker-host");

    internal sealed record Replayed(string Dev, bool Outgoing, string Text, NfHookResult Result);

    /// <summary>
    /// Feeds each packet at its first sighting. Incoming on eth0: received on eth0. Incoming on the
    /// bridge port veth1 addressed to docker0's MAC (SLL2 has no destination MAC: PACKET_HOST): received on docker0 with physdev-in veth1
    /// (br_netfilter runs iptables PREROUTING once for it, ip_sabotage_in stops the second run); its
    /// sighting on docker0 when the bridge hands it up is the same packet and skipped. Frames on veth1
    /// not for docker0's MAC (IPv6 multicast here) are the bridge's, not this layer's. Outgoing on a
    /// bridge port is the later sighting of a frame sent on docker0 — or the RST br_netfilter's REJECT
    /// sends straight out of the port, past OUTPUT. Outgoing on eth0/docker0: a later sighting of a
    /// packet that came in (same IP id, protocol, length, TCP sequence / ICMP type and sequence), else
    /// made by the host and sent through OUTPUT (bound to the capture device for multicast, as IGMP's
    /// socket is).
    /// </summary>
    internal static (NfHost Host, List<Replayed> Packets) Replay()
    {
        var snapshot = HostSnapshot.Load(Path.Combine(Dir, "snapshot"));

        // conntrack.txt was taken after the traffic (record.sh), so it is not the table at capture start.
        var host = NfHost.Create(snapshot, new NfHostOptions { LoadConntrack = false });
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
            if (!outgoing)
            {
                if (dev.Kind == "bridge")
                    continue;
                string l3 = dev.Name;
                string? phys = null;
                if (dev.Master is { } bridge)
                {
                    // SLL2 keeps no destination MAC: PACKET_HOST on the port says it was docker0's
                        // (the port shares the bridge's address here; NETFILTER.md's recording saw OTHERHOST).
                    bool toBridge = (d.Layers & Layers.Link) != 0 && d.DstMac.Value != 0
                        ? ifaces.ByName(bridge)?.Mac == d.DstMac
                        : d.LinkPacketType == 0;
                    if (!toBridge)
                        continue;
                    (l3, phys) = (bridge, dev.Name);
                }
                if (d.IsIpv4)
                    seen.Add(key);
                var r = host.Receive(frame, ref d, new NfIngress(l3, rec.TimestampNs, (PacketType)Math.Min(d.LinkPacketType, (byte)3), phys));
                list.Add(new Replayed(l3, false, text, r));
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
        var kernel = IptablesParser.Load(Path.Combine(Dir, "snapshot", "iptables.rules"));
        var (differ, compared) = TraceReplay.Replay.Pipeline.CounterComparison.Compare(host, kernel);
        Assert.Equal(28, compared); // filter: 3 policies + 16 rules; nat: 4 policies + 5 rules
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
        var smtp = v4.Single(p => p.Text.Contains(" 53410>25 ", StringComparison.Ordinal)).Result;
        Assert.Equal((NfFate.Dropped, "filter:DOCKER-USER:rule:1", true, false), (smtp.Fate, smtp.DropDescription(), smtp.HasReject, smtp.RejectViaOutput));

        // 4. the published port: DNATed to 172.17.0.2:80 and forwarded to docker0; its replies leave eth0 as 198.51.100.1:8080.
        var pub = v4.First(p => p.Text.Contains(" 58354>8080 ", StringComparison.Ordinal)).Result;
        Assert.Equal((NfFate.Forwarded, "docker0", "172.17.0.2", (ushort)80), (pub.Fate, pub.OutDev, pub.TupleAfter.Dst.ToString(), pub.TupleAfter.DstPort));
        var pubReply = v4.First(p => p.Text.Contains(" 80>58354 ", StringComparison.Ordinal)).Result;
        Assert.Equal((NfFate.Forwarded, "eth0", "198.51.100.1", (ushort)8080), (pubReply.Fate, pubReply.OutDev, pubReply.TupleAfter.Src.ToString(), pubReply.TupleAfter.SrcPort));

        // 5. SSH to the host, twice (the retransmitted SYN is NEW again: the first left no entry): INPUT's policy.
        var ssh = v4.Where(p => p.Text.Contains(">22 ", StringComparison.Ordinal)).Select(p => p.Result).ToList();
        Assert.Equal(2, ssh.Count);
        Assert.All(ssh, r => Assert.Equal((NfFate.Dropped, "filter:INPUT:policy", TraceReplay.Netfilter.Conntrack.CtState.New), (r.Fate, r.DropDescription(), r.CtState)));

        // 6. the remote pings the host: delivered; the host's replies are sent out of eth0.
        Assert.Equal(2, v4.Count(p => p.Text.StartsWith("198.51.100.2 > 198.51.100.1 icmp", StringComparison.Ordinal) && p.Result.Fate == NfFate.DeliveredLocally));
        Assert.Equal(2, v4.Count(p => p.Outgoing && p.Text.StartsWith("198.51.100.1 > 198.51.100.2 icmp", StringComparison.Ordinal) && p.Result.Fate == NfFate.Sent));

        // Nothing is left half-made: every entry the replay created was confirmed or aborted.
        Assert.Equal(0, host.Defrag.Pending);
    }
}
