using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Readers;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Routing;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Netfilter.Routing;

/// <summary>
/// The bundled docker-host snapshot (datasets/docker-host). Expectations come from record.sh, which built the
/// host: docker0 172.17.0.1/16 with the container 172.17.0.2 behind veth1, eth0 198.51.100.1/24 with
/// `default via 198.51.100.2`, ip_forward=1, rp_filter 0, the kernel's three default rules.
/// </summary>
public sealed class DockerHostRoutingTests
{
    private static readonly Lazy<IpRouter> Host = new(() =>
        new IpRouter(NetworkConfig.Load(Path.Combine(Corpus.Root, "datasets", "docker-host", "snapshot"))));

    private static IpAddr Ip(string s) => IpAddr.Parse(s);

    private static RouteResult In(string src, string dst, string dev, byte ttl = 64) =>
        Host.Value.RouteInput(new RouteKey { Src = Ip(src), Dst = Ip(dst), Dev = dev, Ttl = ttl, Protocol = 6, IsV6 = dst.Contains(':', StringComparison.Ordinal) });

    [Fact]
    public void Container_traffic_to_the_internet_is_forwarded_out_eth0_via_the_gateway()
    {
        // The bridge hands the container's packet up to IP on docker0 (capture sighting #2); main's default route sends it
        // to 198.51.100.2 on eth0, and MASQUERADE will take eth0's address toward that gateway.
        var r = In("172.17.0.2", "203.0.113.9", "docker0");
        Assert.Equal((RouteVerdict.Forward, "eth0", Ip("198.51.100.2"), Ip("198.51.100.1"), "main"),
            (r.Verdict, r.OutDev, r.Gateway, r.PrefSrc, r.Route!.Table));
        Assert.Equal(Ip("198.51.100.1"), Host.Value.SelectSourceAddress("eth0", Ip("198.51.100.2")));
        Assert.Equal(RouteNotes.None, r.Notes);
    }

    [Fact]
    public void Traffic_to_the_host_is_local_on_either_address()
    {
        // Step 5/6 of record.sh: the remote's SSH and ping to 198.51.100.1 are delivered locally (then INPUT decides).
        Assert.Equal((RouteVerdict.Local, RouteType.Local), In("203.0.113.9", "198.51.100.1", "eth0") is var a ? (a.Verdict, a.Type) : default);
        // docker0's address is the host's too, whichever device the packet came in on (weak host model).
        Assert.Equal(RouteVerdict.Local, In("203.0.113.9", "172.17.0.1", "eth0").Verdict);
        Assert.Equal(RouteVerdict.Local, In("172.17.0.2", "198.51.100.1", "docker0").Verdict);
        Assert.Equal(RouteType.Broadcast, In("172.17.0.2", "172.17.255.255", "docker0").Type);
    }

    [Fact]
    public void Dnat_and_unmasqueraded_replies_are_forwarded_to_the_container_on_link()
    {
        // nat PREROUTING rewrote 198.51.100.1:8080 to 172.17.0.2:80 (step 4), and conntrack rewrote replies to the
        // MASQUERADEd flows back to 172.17.0.2, before routing: the connected route 172.17.0.0/16 dev docker0 answers.
        var r = In("203.0.113.9", "172.17.0.2", "eth0");
        Assert.Equal((RouteVerdict.Forward, "docker0", (IpAddr?)null, Ip("172.17.0.1")), (r.Verdict, r.OutDev, r.Gateway, r.PrefSrc));
    }

    [Fact]
    public void Host_output_ttl_and_martians()
    {
        var o = Host.Value.RouteOutput(new RouteKey { Src = Ip("198.51.100.1"), Dst = Ip("203.0.113.9"), Ttl = 64 });
        Assert.Equal((RouteVerdict.Output, "eth0", Ip("198.51.100.2")), (o.Verdict, o.OutDev, o.Gateway));
        Assert.Equal(RouteDropReason.TtlExceeded, In("172.17.0.2", "203.0.113.9", "docker0", ttl: 1).DropReason);
        // A packet from outside claiming the host's own address as its source (rp_filter 0: fib_validate_source's local-address check).
        Assert.Equal(RouteDropReason.MartianSource, In("198.51.100.1", "172.17.0.2", "eth0").DropReason);
        Assert.Equal(RouteDropReason.MartianDestination, In("203.0.113.9", "127.0.0.1", "eth0").DropReason);
    }

    [Fact]
    public void Captured_container_packets_are_predicted_to_leave_by_eth0_and_do()
    {
        // any.pcap (SLL2): every IPv4 packet the container sent that docker0 handed up to IP (ifindex 2, type host)
        // must route out eth0; the simulation is then checked against the capture: the same datagram (IP id,
        // protocol, destination; MASQUERADE changes only the source) is seen leaving eth0 (ifindex 5, type outgoing)
        // — except SMTP, which DOCKER-USER rejects in FORWARD after routing.
        var path = Path.Combine(Corpus.Root, "datasets", "docker-host", "captures", "any.pcap");
        var handedUp = new List<(uint Id, byte Proto, IpAddr Dst, ushort DstPort, RouteResult Route)>();
        var leftEth0 = new HashSet<(uint, byte, IpAddr)>();
        using (var reader = CaptureFile.Open(path))
        {
            while (reader.MoveNext())
            {
                PacketDecoder.Decode(reader.Data, reader.Current.LinkType, reader.Current.WireLength, out var d);
                if (d.IpVersion != 4)
                    continue;
                if (d.LinkIfIndex == 2 && d.LinkPacketType == 0 && d.Src == Ip("172.17.0.2"))
                {
                    var key = new RouteKey { Src = d.Src, Dst = d.Dst, Dev = "docker0", Ttl = d.Ttl, Tos = d.Tos, Protocol = d.Protocol };
                    handedUp.Add((d.IpId, d.Protocol, d.Dst, d.DstPort, Host.Value.RouteInput(key)));
                }
                else if (d.LinkIfIndex == 5 && d.LinkPacketType == 4)
                {
                    leftEth0.Add((d.IpId, d.Protocol, d.Dst));
                }
            }
        }
        Assert.True(handedUp.Count >= 10, $"only {handedUp.Count} container packets in {path}");
        foreach (var (id, proto, dst, port, route) in handedUp)
        {
            Assert.Equal((RouteVerdict.Forward, "eth0"), (route.Verdict, route.OutDev));
            bool seen = leftEth0.Contains((id, proto, dst));
            Assert.True(seen == (port != 25), $"IP id {id} proto {proto} to {dst}:{port}: {(seen ? "left" : "did not leave")} by eth0");
        }
    }

    [Fact]
    public void Ipv6_link_local_is_per_interface_and_nothing_else_routes()
    {
        // The snapshot has IPv6 link-local addresses only and forwarding is 0 for IPv6: a global destination has no
        // route at all (ICMPv6 no route, 1/0), a link-local one to the host's own address is local on its device.
        var global = In("fe80::1", "2001:db8::1", "eth0");
        Assert.Equal((RouteDropReason.NoRoute, (byte)1, (byte)0), (global.DropReason, global.IcmpType, global.IcmpCode));
        var cfg = Host.Value.Config;
        var eth0LinkLocal = cfg.Device("eth0")!.Addresses.First(a => a.IsV6).Local;
        Assert.Equal(RouteVerdict.Local, In("fe80::1", eth0LinkLocal.ToString(), "eth0").Verdict);
    }
}
