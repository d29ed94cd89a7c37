using System.Buffers.Binary;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Net;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Routing;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Netfilter.Hooks;

/// <summary>
/// Each path of the hook graph on hand-built packets, on the docker-host network (eth0
/// 198.51.100.1/24 with the default route via 198.51.100.2, docker0 172.17.0.1/16, ip_forward=1)
/// and a small Docker-like rule set. Expected values are reasoned from the kernel's paths in the
/// comments beside them.
/// </summary>
public sealed class NfHostTests
{
    private const long S = 1_000_000_000L;

    private const string Rules = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A PREROUTING -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
        -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
        COMMIT
        *filter
        :INPUT DROP [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
        -A INPUT -p udp -m udp --dport 53 -j NFQUEUE --queue-num 3 --queue-bypass
        -A INPUT -p udp -m udp --dport 54 -j NFQUEUE --queue-num 4
        -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A FORWARD -i docker0 -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset
        -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
        -A FORWARD -d 172.17.0.2/32 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
        COMMIT
        """;

    private static string SnapshotDir => Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot");

    private static NfHost Host(Func<NetworkConfig, NetworkConfig>? change = null)
    {
        var network = NetworkConfig.Load(SnapshotDir);
        if (change is not null)
            network = change(network);
        var rules = IptablesParser.Parse(Rules, "test.rules", IptFamily.IPv4);
        return new NfHost(network, rules, null, null, new NfHostOptions { LoadConntrack = false });
    }

    /// <summary>A TCP segment without options or data: 40 bytes of IP datagram (what the counters count).</summary>
    private static (byte[] Frame, DecodedPacket Packet) Tcp(string src, ushort sport, string dst, ushort dport, bool syn = true, bool ack = false,
        uint seq = 1000, uint ackNumber = 0)
    {
        byte[] frame = Frames.TcpV4(src, sport, dst, dport, syn, ack, seq: seq, ackNumber: ackNumber);
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        return (frame, d);
    }

    private static (byte[] Frame, DecodedPacket Packet) Udp(string src, string dst, ushort dport, int payload = 8)
    {
        byte[] frame = Frames.UdpV4(src, 5000, dst, dport, payload);
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        return (frame, d);
    }

    private static NfHookResult In(NfHost host, (byte[] Frame, DecodedPacket Packet) pkt, string dev, long t, string? phys = null)
    {
        var d = pkt.Packet;
        return host.Receive(pkt.Frame, ref d, new NfIngress(dev, t, PhysInDev: phys));
    }

    private static XtCountersOf Count(NfHost host, string table, string chain, int rule)
    {
        var t = host.Table(IptFamily.IPv4, Enum.Parse<NfTableId>(table, ignoreCase: true))!;
        var c = t.Counters(rule == 0 ? t.PolicyEntry(chain) : t.EntryOf(chain, rule));
        return new XtCountersOf(c.Packets, c.Bytes);
    }

    private readonly record struct XtCountersOf(ulong Packets, ulong Bytes);

    [Fact]
    public void To_the_host_through_prerouting_routing_and_input()
    {
        var host = Host();
        var r = In(host, Tcp("198.51.100.2", 40000, "198.51.100.1", 22), "eth0", 1 * S);

        // PREROUTING (conntrack NEW, nat: no rule → null binding), local route, INPUT filter:2 accepts, nat INPUT, confirm.
        Assert.Equal(NfFate.DeliveredLocally, r.Fate);
        Assert.Equal((CtState.New, CtDirection.Original), (r.CtState, r.CtDirection));
        Assert.True(r.CtEntry >= 0);
        Assert.True(host.Conntrack[r.CtEntry].IsConfirmed);
        Assert.Equal(RouteVerdict.Local, r.Route.Verdict);
        Assert.Equal("PREROUTING: conntrack nat | route-in | INPUT: filter nat confirm", r.PathDescription());
        Assert.Equal(new XtCountersOf(1, 40), Count(host, "filter", "INPUT", 2));
        Assert.Equal(new XtCountersOf(1, 40), Count(host, "nat", "INPUT", 0));
    }

    [Fact]
    public void Drop_by_policy_leaves_no_entry_so_the_retransmission_is_new_again()
    {
        var host = Host();
        var r = In(host, Tcp("198.51.100.2", 40000, "198.51.100.1", 23), "eth0", 1 * S);
        Assert.Equal((NfFate.Dropped, NfDropCause.Table, "filter:INPUT:policy"), (r.Fate, r.DropCause, r.DropDescription()));
        Assert.Equal(NfInetHook.LocalIn, r.DropHook);
        Assert.Equal(0, host.Conntrack.Count);
        var again = In(host, Tcp("198.51.100.2", 40000, "198.51.100.1", 23), "eth0", 2 * S);
        Assert.Equal((NfFate.Dropped, CtState.New), (again.Fate, again.CtState));
        Assert.Equal(new XtCountersOf(2, 80), Count(host, "filter", "INPUT", 0));
    }

    [Fact]
    public void Forwarded_with_masquerade_and_the_reply_comes_back_to_the_container()
    {
        var host = Host();
        var syn = Tcp("172.17.0.2", 40000, "203.0.113.9", 80);
        var r = In(host, syn, "docker0", 1 * S);

        // ip_forward: out of eth0 via the default gateway; MASQUERADE takes eth0's address, keeps the port; TTL 64 → 63.
        Assert.Equal((NfFate.Forwarded, "eth0", "198.51.100.2"), (r.Fate, r.OutDev, r.NextHop.ToString()));
        Assert.Equal(("172.17.0.2", "198.51.100.1", (ushort)40000), (r.TupleBefore.Src.ToString(), r.TupleAfter.Src.ToString(), r.TupleAfter.SrcPort));
        PacketDecoder.Decode(syn.Frame, LinkType.Ethernet, syn.Frame.Length, out var onWire);
        Assert.Equal(("198.51.100.1", (byte)63), (onWire.Src.ToString(), onWire.Ttl));
        Assert.Equal("PREROUTING: conntrack nat | route-in | FORWARD: filter | POSTROUTING: nat confirm", r.PathDescription());
        Assert.Single(host.Nat.OpenMappings());

        var back = In(host, Tcp("203.0.113.9", 80, "198.51.100.1", 40000, syn: true, ack: true, seq: 5000, ackNumber: 1001), "eth0", 2 * S);
        Assert.Equal((NfFate.Forwarded, "docker0", "172.17.0.2"), (back.Fate, back.OutDev, back.TupleAfter.Dst.ToString()));
        Assert.Equal((CtState.Established, CtDirection.Reply, r.CtEntry), (back.CtState, back.CtDirection, back.CtEntry));

        // The nat table saw the connection once (POSTROUTING:1) and FORWARD:1 accepted the reply as ESTABLISHED.
        Assert.Equal(1UL, Count(host, "nat", "POSTROUTING", 1).Packets);
        Assert.Equal(1UL, Count(host, "filter", "FORWARD", 1).Packets);
        Assert.Equal(1UL, Count(host, "filter", "FORWARD", 3).Packets);
    }

    [Fact]
    public void Dnat_to_the_container_then_forward_accepts_the_translated_port()
    {
        var host = Host();
        var r = In(host, Tcp("198.51.100.2", 50000, "198.51.100.1", 8080), "eth0", 1 * S);
        Assert.Equal((NfFate.Forwarded, "docker0", "172.17.0.2"), (r.Fate, r.OutDev, r.NextHop.ToString()));
        Assert.Equal(("198.51.100.1", (ushort)8080, "172.17.0.2", (ushort)80),
            (r.TupleBefore.Dst.ToString(), r.TupleBefore.DstPort, r.TupleAfter.Dst.ToString(), r.TupleAfter.DstPort));
        Assert.Equal(new XtCountersOf(1, 40), Count(host, "nat", "PREROUTING", 1));
        Assert.Equal(new XtCountersOf(1, 40), Count(host, "filter", "FORWARD", 4));

        // The container's answer leaves eth0 as 198.51.100.1:8080 (reverse DNAT from the entry).
        var back = In(host, Tcp("172.17.0.2", 80, "198.51.100.2", 50000, syn: true, ack: true, seq: 9000, ackNumber: 1001), "docker0", 2 * S);
        Assert.Equal((NfFate.Forwarded, "eth0", "198.51.100.1", (ushort)8080), (back.Fate, back.OutDev, back.TupleAfter.Src.ToString(), back.TupleAfter.SrcPort));
    }

    [Fact]
    public void Reject_drops_and_records_the_reset_through_output_unless_bridged()
    {
        var host = Host();
        var r = In(host, Tcp("172.17.0.2", 40001, "203.0.113.9", 25), "docker0", 1 * S);
        Assert.Equal((NfFate.Dropped, "filter:FORWARD:rule:2", true, true), (r.Fate, r.DropDescription(), r.HasReject, r.RejectViaOutput));
        Assert.Equal(TraceReplay.Host.Iptables.Extensions.Targets.RejectWith.TcpReset, r.Reject.With);
        Assert.Equal(0, host.Conntrack.Count);

        // Bridged (br_netfilter, physdev-in veth1): nf_send_reset sends the RST straight out of the port.
        var bridged = In(host, Tcp("172.17.0.2", 40002, "203.0.113.9", 25), "docker0", 2 * S, phys: "veth1");
        Assert.Equal((true, false), (bridged.HasReject, bridged.RejectViaOutput));
    }

    [Fact]
    public void No_route_is_a_routing_drop_before_forward()
    {
        // The docker-host network without its default route: 203.0.113.9 is unreachable.
        var host = Host(n => new NetworkConfig(n.Devices, n.Routes.Where(x => !x.Dst.IsAny), n.Rules, n.Sysctls));
        var r = In(host, Tcp("172.17.0.2", 40000, "203.0.113.9", 80), "docker0", 1 * S);
        Assert.Equal((NfFate.Dropped, NfDropCause.Routing, RouteDropReason.NoRoute), (r.Fate, r.DropCause, r.RouteDrop));
        Assert.True(r.Route.SendsIcmp);
        Assert.False(r.Visited(NfInetHook.Forward, NfTableId.Filter));
        Assert.Equal(0, host.Conntrack.Count);

        // A packet the host makes gets the error from ip_route_output before any hook.
        var (frame, d) = Tcp("198.51.100.1", 40000, "203.0.113.9", 80);
        var o = host.Output(frame, ref d, new NfEgress(2 * S));
        Assert.Equal((NfFate.Dropped, NfDropCause.Routing, NfPath.RouteOutput), (o.Fate, o.DropCause, o.Path));
    }

    [Fact]
    public void Ip_forward_0_drops_in_routing()
    {
        var host = Host(n =>
        {
            n.Sysctls.Set("net.ipv4.ip_forward", "0");
            n.Sysctls.Set("net.ipv4.conf.all.forwarding", "0");
            n.Sysctls.Set("net.ipv4.conf.docker0.forwarding", "0");
            return n;
        });
        var r = In(host, Tcp("172.17.0.2", 40000, "203.0.113.9", 80), "docker0", 1 * S);
        Assert.Equal((NfFate.Dropped, "routing:ForwardingDisabled"), (r.Fate, r.DropDescription()));
        Assert.Equal(new XtCountersOf(0, 0), Count(host, "filter", "FORWARD", 3));
    }

    [Fact]
    public void Ttl_1_is_not_forwarded()
    {
        var host = Host();
        var pkt = Tcp("172.17.0.2", 40000, "203.0.113.9", 80);
        pkt.Packet.Ttl = 1;
        var r = In(host, pkt, "docker0", 1 * S);
        Assert.Equal((NfFate.Dropped, RouteDropReason.TtlExceeded), (r.Fate, r.RouteDrop));
    }

    [Fact]
    public void Nfqueue_is_queued_and_queue_bypass_without_a_listener_accepts()
    {
        var host = Host();
        var bypass = In(host, Udp("198.51.100.2", "198.51.100.1", 53), "eth0", 1 * S);
        Assert.Equal(NfFate.DeliveredLocally, bypass.Fate);
        var queued = In(host, Udp("198.51.100.2", "198.51.100.1", 54), "eth0", 2 * S);
        Assert.Equal((NfFate.Queued, (ushort)4, "filter:INPUT:rule:4"), (queued.Fate, queued.QueueNum, queued.DropDescription()));
    }

    [Fact]
    public void Locally_generated_goes_output_then_postrouting()
    {
        var host = Host();
        var (frame, d) = Tcp("198.51.100.1", 40000, "203.0.113.9", 80);
        var r = host.Output(frame, ref d, new NfEgress(1 * S));
        Assert.Equal((NfFate.Sent, "eth0", "198.51.100.2"), (r.Fate, r.OutDev, r.NextHop.ToString()));
        Assert.Equal("route-out | OUTPUT: conntrack nat filter | POSTROUTING: nat confirm", r.PathDescription());
        Assert.Equal(new XtCountersOf(1, 40), Count(host, "filter", "OUTPUT", 0));

        // To the host's own address: out through lo and back in with the entry attached (no second conntrack pass).
        var (f2, d2) = Tcp("198.51.100.1", 40001, "198.51.100.1", 22);
        var local = host.Output(f2, ref d2, new NfEgress(2 * S));
        Assert.Equal(NfFate.DeliveredLocally, local.Fate);
        Assert.True((local.Path & NfPath.Loopback) != 0);
        Assert.False(local.Visited(NfInetHook.PreRouting, NfHookResult.StepConntrack));
    }

    [Fact]
    public void Fragments_are_held_then_the_whole_datagram_is_filtered()
    {
        var host = Host();

        // UDP to port 53 with 24 bytes of data (IP total 52), cut into two fragments of 16 bytes of IP payload (the UDP header and 8 bytes, then 16).
        var (first, second) = Fragments("198.51.100.2", "198.51.100.1", 53, 24, 16);
        var a = In(host, first, "eth0", 1 * S);
        Assert.Equal((NfFate.Held, NfPath.Defrag), (a.Fate, a.Path));
        Assert.Equal(1, host.Defrag.Pending);
        var b = In(host, second, "eth0", 1 * S + 1000);
        Assert.Equal(NfFate.DeliveredLocally, b.Fate);
        Assert.Equal(new XtCountersOf(1, 52), Count(host, "filter", "INPUT", 3));
        Assert.Equal(0, host.Defrag.Pending);

        // A lone first fragment times out after 30 s on the capture clock.
        var (lone, _) = Fragments("198.51.100.2", "198.51.100.1", 53, 24, 16, id: 0x4444);
        Assert.Equal(NfFate.Held, In(host, lone, "eth0", 2 * S).Fate);
        In(host, Tcp("198.51.100.2", 40000, "198.51.100.1", 22), "eth0", 33 * S);
        Assert.Equal((0, 1L), (host.Defrag.Pending, host.Defrag.Expired));
    }

    [Fact]
    public void Forwarding_an_established_flow_allocates_nothing()
    {
        var host = Host();
        In(host, Tcp("172.17.0.2", 40000, "203.0.113.9", 80), "docker0", 1 * S);
        In(host, Tcp("203.0.113.9", 80, "198.51.100.1", 40000, syn: true, ack: true, seq: 5000, ackNumber: 1001), "eth0", 1 * S + 1000);
        byte[] template = Frames.TcpV4("172.17.0.2", 40000, "203.0.113.9", 80, syn: false, ack: true, seq: 1001, ackNumber: 5001);
        byte[] frame = new byte[template.Length];
        long t = 2 * S;
        var ingress = new NfIngress("docker0", t);
        void Round()
        {
            for (int i = 0; i < 200; i++)
            {
                template.CopyTo(frame, 0);
                PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
                var r = host.Receive(frame, ref d, ingress with { TimeNs = t += 1000 });
                if (r.Fate != NfFate.Forwarded)
                    throw new InvalidOperationException(r.DropDescription());
            }
        }
        Round();
        Assert.Equal(0, Allocations.Quietest(Round));
    }

    /// <summary>Two IPv4 fragments of one UDP datagram (Ethernet, header checksums right): offset 0 with MF, then the rest.</summary>
    private static ((byte[], DecodedPacket) First, (byte[], DecodedPacket) Second) Fragments(string src, string dst, ushort dport, int data, int firstPayload,
        ushort id = 0x3333)
    {
        byte[] whole = Frames.UdpV4(src, 5000, dst, dport, data);
        const int l3 = 14, ihl = 20;
        byte[] udp = whole[(l3 + ihl)..];
        (byte[], DecodedPacket) Make(int offset, int length, bool more)
        {
            byte[] f = new byte[l3 + ihl + length];
            whole.AsSpan(0, l3 + ihl).CopyTo(f);
            udp.AsSpan(offset, length).CopyTo(f.AsSpan(l3 + ihl));
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 2), (ushort)(ihl + length));
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 4), id);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 6), (ushort)((more ? 0x2000 : 0) | (offset / 8)));
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 10), 0);
            uint sum = 0;
            for (int i = 0; i < ihl; i += 2)
                sum += BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(l3 + i));
            while (sum > 0xFFFF)
                sum = (sum & 0xFFFF) + (sum >> 16);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 10), (ushort)~sum);
            PacketDecoder.Decode(f, LinkType.Ethernet, f.Length, out var d);
            return (f, d);
        }
        return (Make(0, firstPayload, true), Make(firstPayload, udp.Length - firstPayload, false));
    }
}

/// <summary>The IPv6 path: ip6tables tables on the same hooks, the IPv4 tables never see the packet; bad input never throws.</summary>
public sealed class NfHostV6AndBadInputTests
{
    private const long S = 1_000_000_000L;

    private const string Rules6 = """
        *filter
        :INPUT DROP [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
        COMMIT
        """;

    private const string Rules4 = """
        *filter
        :INPUT DROP [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        COMMIT
        """;

    private static NfHost Host() => new(
        NetworkConfig.Load(Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot")),
        IptablesParser.Parse(Rules4, "test.rules", IptFamily.IPv4),
        IptablesParser.Parse(Rules6, "test6.rules", IptFamily.IPv6),
        null,
        new NfHostOptions { LoadConntrack = false });

    private static NfHookResult In6(NfHost host, ushort dport, long t)
    {
        // To eth0's link-local address (addr.json's fe80:: address on eth0) from its neighbour.
        string eth0 = host.Network.Device("eth0")!.Addresses.First(a => a.IsV6).Local.ToString();
        byte[] frame = Frames.TcpV6("fe80::9091:55ff:fefb:2c3d", 40000, eth0, dport);
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        return host.Receive(frame, ref d, new NfIngress("eth0", t));
    }

    [Fact]
    public void Ipv6_runs_ip6tables_and_leaves_iptables_counters_alone()
    {
        var host = Host();
        var ok = In6(host, 22, 1 * S);
        Assert.Equal((NfFate.DeliveredLocally, CtState.New), (ok.Fate, ok.CtState));
        var no = In6(host, 23, 2 * S);
        Assert.Equal((NfFate.Dropped, "filter:INPUT:policy"), (no.Fate, no.DropDescription()));
        Assert.Equal("ip6tables", no.DropTable!.Family == IptFamily.IPv6 ? "ip6tables" : "iptables");
        var v4 = host.Table(IptFamily.IPv4, NfTableId.Filter)!;
        Assert.Equal(0UL, v4.Counters(v4.PolicyEntry("INPUT")).Packets);
    }

    [Fact]
    public void Ipv6_multicast_source_is_dropped_by_ip6_rcv_core_before_any_hook()
    {
        var host = Host();
        byte[] frame = Frames.TcpV6("ff02::1", 40000, "fe80::4057:95ff:fefb:9d63", 22);
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        var r = host.Receive(frame, ref d, new NfIngress("eth0", S));
        Assert.Equal((NfFate.Dropped, RouteDropReason.MartianSource, NfPath.None), (r.Fate, r.RouteDrop, r.Path));
    }

    /// <summary>Every prefix and single-byte corruption of real frames, received and sent: no exception escapes, whatever the verdict.</summary>
    [Fact]
    public void Truncated_and_corrupted_frames_never_throw()
    {
        var host = Host();
        var rng = new Random(7);
        byte[][] seeds =
        [
            Frames.TcpV4("172.17.0.2", 40000, "203.0.113.9", 80),
            Frames.UdpV4("198.51.100.2", 5000, "198.51.100.1", 53),
            Frames.TcpV6("fe80::9091:55ff:fefb:2c3d", 40000, "fe80::4057:95ff:fefb:9d63", 22),
        ];
        int cases = 0;
        long t = S;
        foreach (var seed in seeds)
        {
            for (int cut = 0; cut <= seed.Length; cut++)
            {
                for (int k = 0; k < 8; k++)
                {
                    byte[] f = seed[..cut];
                    if (k > 0 && f.Length > 0)
                        f[rng.Next(f.Length)] = (byte)rng.Next(256);
                    PacketDecoder.Decode(f, LinkType.Ethernet, seed.Length, out var d);
                    var copy = d;
                    host.Receive(f, ref d, new NfIngress(k % 2 == 0 ? "docker0" : "eth0", t += 1000));
                    host.Output(f, ref copy, new NfEgress(t += 1000));
                    cases++;
                }
            }
        }
        Assert.True(cases > 1000);
    }
}

/// <summary>The raw table's CT --notrack and the nat targets that compute their range (REDIRECT, NETMAP) through the hook layer.</summary>
public sealed class NfHostTargetsTests
{
    private const long S = 1_000_000_000L;

    private const string Rules = """
        *raw
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A PREROUTING -p udp -m udp --dport 123 -j CT --notrack
        COMMIT
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A PREROUTING -i docker0 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 3128
        -A POSTROUTING -s 172.17.0.0/16 -o eth0 -j NETMAP --to 100.64.0.0/16
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        COMMIT
        """;

    private static NfHost Host() => new(
        NetworkConfig.Load(Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot")),
        IptablesParser.Parse(Rules, "test.rules", IptFamily.IPv4), null, null, new NfHostOptions { LoadConntrack = false });

    private static NfHookResult In(NfHost host, byte[] frame, string dev, long t)
    {
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        return host.Receive(frame, ref d, new NfIngress(dev, t));
    }

    [Fact]
    public void Notrack_in_raw_leaves_the_packet_untracked_and_out_of_nat()
    {
        var host = Host();
        var r = In(host, Frames.UdpV4("198.51.100.2", 5000, "198.51.100.1", 123), "eth0", S);
        Assert.Equal((NfFate.DeliveredLocally, CtState.Untracked, -1), (r.Fate, r.CtState, r.CtEntry));
        Assert.Equal(0, host.Conntrack.Count);
        Assert.True(r.Visited(NfInetHook.PreRouting, NfTableId.Raw));
        Assert.False(r.Visited(NfInetHook.PreRouting, NfTableId.Nat));
    }

    [Fact]
    public void Redirect_goes_to_the_input_device_address_and_is_delivered_locally()
    {
        // nf_nat_redirect_ipv4: the first address of docker0, 172.17.0.1, port 3128.
        var r = In(Host(), Frames.TcpV4("172.17.0.2", 40000, "203.0.113.9", 80), "docker0", S);
        Assert.Equal((NfFate.DeliveredLocally, "172.17.0.1", (ushort)3128), (r.Fate, r.TupleAfter.Dst.ToString(), r.TupleAfter.DstPort));
    }

    [Fact]
    public void Netmap_in_postrouting_maps_the_source_prefix()
    {
        // netmap_tg4 at POSTROUTING: 172.17.0.2 keeps its host bits in 100.64.0.0/16.
        var r = In(Host(), Frames.TcpV4("172.17.0.2", 40000, "203.0.113.9", 443), "docker0", S);
        Assert.Equal((NfFate.Forwarded, "100.64.0.2", (ushort)40000), (r.Fate, r.TupleAfter.Src.ToString(), r.TupleAfter.SrcPort));
    }
}

/// <summary>ipt_mangle_out: a MARK set in mangle OUTPUT re-routes the packet (ip_route_me_harder) through a fwmark policy rule.</summary>
public sealed class NfHostRerouteTests
{
    private const string Rules = """
        *mangle
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A OUTPUT -p tcp -m tcp --dport 443 -j MARK --set-xmark 0x1/0xffffffff
        COMMIT
        """;

    [Fact]
    public void Mark_in_mangle_output_reroutes_through_the_fwmark_table()
    {
        // `ip rule add fwmark 1 table 100` and `ip route add default via 172.17.0.3 dev docker0 table 100`.
        var n = NetworkConfig.Load(Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot"));
        var rules = n.Rules.Append(new FibRule { Priority = 100, FwMark = 1, Table = "100" });
        var routes = n.Routes.Append(new Route
        {
            Table = "100",
            Dst = IpNetwork.AnyV4,
            NextHops = [new NextHop(IpAddr.Parse("172.17.0.3"), "docker0", 1, false, [])],
        });
        var host = new NfHost(new NetworkConfig(n.Devices, routes, rules, n.Sysctls), IptablesParser.Parse(Rules, "test.rules", IptFamily.IPv4), null, null,
            new NfHostOptions { LoadConntrack = false });

        byte[] web = Frames.TcpV4("198.51.100.1", 40000, "203.0.113.9", 443);
        PacketDecoder.Decode(web, LinkType.Ethernet, web.Length, out var d);
        var r = host.Output(web, ref d, new NfEgress(1_000_000_000L));
        Assert.Equal((NfFate.Sent, "docker0", "172.17.0.3"), (r.Fate, r.OutDev, r.NextHop.ToString()));
        Assert.True((r.Path & NfPath.Reroute) != 0);

        // Port 80 keeps mark 0 and the main table's default route.
        byte[] plain = Frames.TcpV4("198.51.100.1", 40001, "203.0.113.9", 80);
        PacketDecoder.Decode(plain, LinkType.Ethernet, plain.Length, out var d2);
        var p = host.Output(plain, ref d2, new NfEgress(2_000_000_000L));
        Assert.Equal((NfFate.Sent, "eth0", NfPath.None), (p.Fate, p.OutDev, p.Path & NfPath.Reroute));
    }
}
