using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Host.Net;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Tests.Support;
using CtState = TraceReplay.Netfilter.Conntrack.CtState;

namespace TraceReplay.Tests.Netfilter.Tables;

/// <summary>One packet of a differential run: headers, hook, devices and what conntrack and the mark say.</summary>
internal sealed class DiffProbe
{
    public required byte[] Frame;
    public DecodedPacket Decoded;
    public NfInetHook Hook;
    public string? InDev, OutDev;
    public uint Mark;
    public CtState State;
    public long TimeNs;
}

/// <summary>
/// The differential harness: one table compiled twice, with and without the classifier, each with an
/// XtNet of its own (so limit buckets, recent lists and nth counters evolve separately, as they would
/// on two hosts fed the same packets), the same packets through both, everything compared.
/// </summary>
internal static class ClassifierDiff
{
    /// <summary>An addrtype answer that depends on the address only, so both tables get the same one and both branches occur.</summary>
    private sealed class HalfLocal : IXtAddrTypeResolver
    {
        public AddrType TypeOf(IpAddr address, bool isV6, string? device) => (address.Lo & 3) == 1 ? AddrType.Local : AddrType.Unicast;
    }

    public static (XtTableInfo On, XtTableInfo Off) CompileBoth(IptTable table, IptFamily family, UnknownMatchPolicy policy = UnknownMatchPolicy.NoMatch)
    {
        var on = XtTableInfo.Compile(table, family, new XtNet { Random = new XtRandom(7), AddrTypes = new HalfLocal(), UnknownPolicy = policy });
        var off = XtTableInfo.Compile(table, family, new XtNet { Random = new XtRandom(7), AddrTypes = new HalfLocal(), UnknownPolicy = policy, Classifier = false });
        return (on, off);
    }

    /// <summary>Runs every probe through both and fails on the first difference (verdict, entry, flags, first unknown, outputs), then on any counter.</summary>
    public static void Compare(XtTableInfo on, XtTableInfo off, IReadOnlyList<DiffProbe> probes, string what)
    {
        Assert.Equal(0, off.ClassifiedChains);
        for (int n = 0; n < probes.Count; n++)
        {
            var a = Run(on, probes[n]);
            var b = Run(off, probes[n]);
            if (a != b)
                Assert.Fail($"{what}: packet {n} ({Describe(probes[n])}) classifier {a} but walk {b}");
        }
        for (int i = 0; i < on.EntryCount; i++)
        {
            if (on.Counters(i) != off.Counters(i))
            {
                var (chain, num, _) = on.Describe(i);
                Assert.Fail($"{what}: {chain}:{num} counted {on.Counters(i)} with the classifier, {off.Counters(i)} by the walk");
            }
        }
    }

    private static (IptVerdict, uint, uint, XtNatRequest, XtRejectRecord, XtCtRequest, bool, bool) Run(XtTableInfo t, DiffProbe probe)
    {
        var d = probe.Decoded;
        var p = new XtActionParam(ref d, probe.Frame, probe.Hook)
        {
            InDev = probe.InDev,
            OutDev = probe.OutDev,
            Mark = probe.Mark,
            Ct = new NfCtInfo { State = probe.State, Entry = -1 },
            TimeNs = probe.TimeNs,
        };
        var v = t.DoTable(ref p);
        return (v, p.Mark, p.Ct.Mark, p.Nat, p.Reject, p.CtRequest, p.HotDrop, p.NfTrace);
    }

    private static string Describe(DiffProbe p) =>
        $"{p.Hook} {p.Decoded.Src}->{p.Decoded.Dst} proto {p.Decoded.Protocol} dport {p.Decoded.DstPort} frag {p.Decoded.FragmentOffset} in {p.InDev ?? "-"} out {p.OutDev ?? "-"}";

    /// <summary>
    /// Packets for a table: one aimed at each rule (its destination, source, protocol, port and
    /// devices, on a hook that reaches its chain when it is built in), then <paramref name="random"/>
    /// mixing the values the rules name with random ones; some are non-first fragments, some lack
    /// their transport header (snapped or short), some carry another protocol.
    /// </summary>
    public static List<DiffProbe> Probes(IptTable table, IptFamily family, int random, int seed, int maxAimed = 20_000)
    {
        var rng = new Random(seed);
        bool v6 = family == IptFamily.IPv6;
        var addrs = new List<IpNetwork>();
        var ports = new List<ushort> { 22, 53, 80, 443 };
        var devs = new List<string> { "eth0", "eth1", "lo", "docker0" };
        var protos = new List<byte> { 6, 17, 1, 58, 47 };
        var rules = new List<(IptRule Rule, string Chain)>();
        foreach (var c in table.Chains)
        {
            foreach (var r in c.Rules)
            {
                rules.Add((r, c.Name));
                if (r.Header.Destination is { IsAny: false } d)
                    addrs.Add(d);
                if (r.Header.Source is { IsAny: false } s)
                    addrs.Add(s);
                if (r.Header.Protocol != 0)
                    protos.Add(r.Header.Protocol);
                foreach (var dev in new[] { r.Header.InInterface, r.Header.OutInterface })
                {
                    if (!dev.IsAny)
                        devs.Add(dev.IsWildcard ? dev.Name[..^1] + "7" : dev.Name);
                }
                ports.AddRange(RulePorts(r));
            }
        }

        var hooks = Enum.GetValues<NfInetHook>();
        var probes = new List<DiffProbe>();
        long time = 1_700_000_000_000_000_000;
        int step = Math.Max(1, rules.Count / maxAimed);
        for (int k = 0; k < rules.Count; k += step)
        {
            var (r, chain) = rules[k];
            var hook = XtTableInfo.HookOf(chain) ?? hooks[rng.Next(hooks.Length)];
            var rp = RulePorts(r).ToList();
            string? inDev = r.Header.InInterface.IsAny ? Pick(rng, devs) : Device(r.Header.InInterface);
            string? outDev = r.Header.OutInterface.IsAny ? Pick(rng, devs) : Device(r.Header.OutInterface);
            probes.Add(Make(rng, v6, hook,
                Host(rng, r.Header.Source, v6, addrs), Host(rng, r.Header.Destination, v6, addrs),
                r.Header.Protocol != 0 && !r.Header.InvertProtocol ? r.Header.Protocol : Pick(rng, protos),
                rp.Count > 0 ? rp[rng.Next(rp.Count)] : Pick(rng, ports), inDev, outDev, time += rng.Next(1_000_000_000)));
        }
        for (int k = 0; k < random; k++)
        {
            var hook = hooks[rng.Next(hooks.Length)];
            probes.Add(Make(rng, v6, hook, Host(rng, null, v6, addrs), Host(rng, null, v6, addrs), Pick(rng, protos),
                rng.Next(4) == 0 ? (ushort)rng.Next(65536) : Pick(rng, ports), Pick(rng, devs), Pick(rng, devs), time += rng.Next(100_000_000)));
        }
        return probes;
    }

    private static IEnumerable<ushort> RulePorts(IptRule r)
    {
        foreach (var m in r.Matches)
        {
            switch (m)
            {
                case TcpMatch t:
                    yield return (ushort)t.DestinationPorts.Min;
                    yield return (ushort)t.DestinationPorts.Max;
                    yield return (ushort)t.SourcePorts.Min;
                    break;
                case UdpMatch u:
                    yield return (ushort)u.DestinationPorts.Min;
                    yield return (ushort)u.DestinationPorts.Max;
                    break;
                case MultiportMatch mp:
                    foreach (var range in mp.Ports)
                        yield return (ushort)range.Min;
                    break;
            }
        }
    }

    private static string Device(InterfaceMatch m) => m.Invert ? "eth9" : m.IsWildcard ? m.Name[..^1] + "3" : m.Name;

    private static T Pick<T>(Random rng, List<T> list) => list[rng.Next(list.Count)];

    /// <summary>An address in the network (any host of it), or from the rules' pool, or random.</summary>
    private static IpAddr Host(Random rng, IpNetwork? net, bool v6, List<IpNetwork> pool)
    {
        if (net is not { IsAny: false } n || n.IsV6 != v6 || rng.Next(8) == 0)
        {
            var candidates = pool.Where(a => a.IsV6 == v6).ToList();
            if (candidates.Count == 0 || rng.Next(3) == 0)
                return v6 ? new IpAddr(0x2001_0db8_0000_0000UL + (ulong)rng.Next(16), (ulong)rng.NextInt64()) : IpAddr.FromV4((uint)rng.NextInt64(1L << 32));
            n = candidates[rng.Next(candidates.Count)];
        }
        ulong hostHi = (ulong)rng.NextInt64() & ~n.Mask.Hi, hostLo = (ulong)rng.NextInt64() & ~n.Mask.Lo;
        if (rng.Next(2) == 0)
            (hostHi, hostLo) = (0, rng.Next(2) == 0 ? 0 : 1UL & ~n.Mask.Lo); // the network address or its first host: what /32 rules name
        return new IpAddr(n.Address.Hi | hostHi, n.Address.Lo | hostLo);
    }

    private static readonly byte[] TcpV4 = Frames.TcpV4("10.0.0.1", 40000, "192.0.2.7", 80, payload: 16);
    private static readonly byte[] TcpV6 = Frames.TcpV6("2001:db8::1", 40000, "2001:db8::2", 80);

    private static DiffProbe Make(Random rng, bool v6, NfInetHook hook, IpAddr src, IpAddr dst, byte proto, ushort dport, string? inDev, string? outDev, long time)
    {
        var frame = v6 ? TcpV6 : TcpV4;
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
        d.Src = src;
        d.Dst = dst;
        d.Protocol = proto;
        d.DstPort = dport;
        d.SrcPort = (ushort)(rng.Next(3) == 0 ? 53 : 1024 + rng.Next(60000));
        d.TcpFlags = (TcpFlags)rng.Next(64);
        d.IcmpType = (byte)rng.Next(16);
        switch (rng.Next(20))
        {
            case 0:
                d.FragmentOffset = 8; // fragoff 1: tcp_mt hotdrops
                break;
            case 1:
                d.FragmentOffset = 1480;
                break;
            case 2:
                d.Layers &= ~Layers.Transport; // a short packet: the port matches hotdrop
                break;
            case 3:
                d.Layers &= ~Layers.Transport;
                d.Flags |= PacketFlags.Truncated; // snapped: the port matches answer unknown
                break;
        }
        return new DiffProbe
        {
            Frame = frame,
            Decoded = d,
            Hook = hook,
            InDev = hook is NfInetHook.LocalOut or NfInetHook.PostRouting ? null : inDev,
            OutDev = hook is NfInetHook.PreRouting or NfInetHook.LocalIn ? null : outDev,
            Mark = rng.Next(4) switch { 0 => 0x4000, 1 => (uint)rng.Next(256), _ => 0 },
            State = (CtState)rng.Next(4),
            TimeNs = time,
        };
    }
}
