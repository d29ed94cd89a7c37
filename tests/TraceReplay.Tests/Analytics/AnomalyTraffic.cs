using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using TraceReplay.Analytics.Anomaly;
using TraceReplay.Capture;
using TraceReplay.Capture.Points;
using TraceReplay.Capture.Readers;
using TraceReplay.Capture.Writers;
using TraceReplay.Host;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Replay.Pipeline;

namespace TraceReplay.Tests.Analytics;

/// <summary>An injected anomaly: when, and the windows (entity, time) that it makes anomalous.</summary>
/// <param name="EffectEndUs">Until when the stateful entities (conntrack table, NAT address) carry the attack's entries (its end plus their timeout).</param>
public sealed record AttackLabel(string Name, long StartUs, long EndUs, long EffectEndUs, IReadOnlyList<(EntityKind Kind, string Entity)> Entities, IReadOnlyList<(EntityKind Kind, string Entity)> Stateful)
{
    /// <summary>Whether the window is one this attack made: an attacking or attacked entity during the attack, or a stateful one while its entries live.</summary>
    public bool Covers(FeatureWindow w, long bucketUs)
    {
        ArgumentNullException.ThrowIfNull(w);
        long end = w.BucketStartUs + bucketUs;
        bool during = w.BucketStartUs < EndUs && end > StartUs;
        bool effect = w.BucketStartUs < EffectEndUs && end > StartUs;
        return (during && Entities.Contains((w.Kind, w.Entity))) || (effect && Stateful.Contains((w.Kind, w.Entity)));
    }

    /// <summary>Windows the attack touches that the evaluation leaves out (neither hit nor miss): the closed ports a scan probed, one dropped SYN each; finding the scanner is what matters.</summary>
    public IReadOnlyList<(EntityKind Kind, string Entity)> Ignored { get; init; } = [];

    public bool Ignores(FeatureWindow w, long bucketUs)
    {
        ArgumentNullException.ThrowIfNull(w);
        return w.BucketStartUs < EndUs && w.BucketStartUs + bucketUs > StartUs && Ignored.Contains((w.Kind, w.Entity));
    }
}

/// <summary>
/// Labelled traffic for the bundled docker-host snapshot (datasets/docker-host): eth0 198.51.100.1/24
/// with the default route via 198.51.100.2, docker0 172.17.0.1/16 with the container 172.17.0.2,
/// DNAT of 8080 to the container's port 80, MASQUERADE of 172.17.0.0/16 out of eth0, INPUT policy
/// DROP. Only what arrives at the host is generated (packets into eth0 and docker0, in one SLL2
/// capture as `tcpdump -i any` writes it); the replay makes the rest, so conntrack and NAT state are
/// the simulated kernel's. TCP conversations have consistent sequence numbers, so tcp_in_window accepts
/// them. Same seed, same bytes.
/// </summary>
public sealed class AnomalyTraffic(int seed, long startNs)
{
    private static readonly byte[] Eth0Mac = [0x42, 0x57, 0x95, 0xfb, 0x9d, 0x63];
    private static readonly byte[] Docker0Mac = [0x0a, 0x31, 0xb2, 0xe4, 0x4a, 0xaa];
    private static readonly byte[] PeerMac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x42];

    private const byte Syn = 0x02, Fin = 0x01, Rst = 0x04, Psh = 0x08, Ack = 0x10;

    private readonly Random _rng = new(seed);
    private readonly List<(long Ns, int Order, bool Eth0, byte[] Frame)> _frames = [];
    private readonly List<AttackLabel> _labels = [];

    // Set by RuleChange (call it before Normal): from then on web clients get no answer.
    private double _webDownFrom = double.MaxValue;

    public const string HostAddr = "198.51.100.1";
    public const string Container = "172.17.0.2";
    public const string Web = "198.51.100.1:8080/tcp";

    public IReadOnlyList<AttackLabel> Labels => _labels;

    public int Packets => _frames.Count;

    private long Ns(double seconds) => startNs + (long)(seconds * 1e9);

    public long Us(double seconds) => Ns(seconds) / 1000;

    /// <summary>
    /// Normal background over [from, to): web clients 198.51.100.10-.39 fetching from the container
    /// through the DNAT (full handshake, request, response, FIN), the container fetching from
    /// 203.0.113.9:80/443 through MASQUERADE, and its DNS queries to 203.0.113.53 answered.
    /// </summary>
    public void Normal(double from, double to, double webPerSecond = 3, double outPerSecond = 1, double dnsPerSecond = 1)
    {
        for (double t = from; t < to; t += 1)
        {
            foreach (var _ in Poisson(webPerSecond))
            {
                string client = "198.51.100." + _rng.Next(10, 40).ToString(CultureInfo.InvariantCulture);
                double at = t + _rng.NextDouble();
                if (at >= _webDownFrom)
                {
                    // The rule drops the SYN: no answer, and the client retransmits it after 1 s and 3 s (tcp_syn_retries' backoff).
                    ushort port = (ushort)_rng.Next(32768, 61000);
                    uint isn = (uint)_rng.Next();
                    foreach (double retry in new[] { 0.0, 1, 3 })
                        Add(at + retry, true, Tcp(client, port, HostAddr, 8080, Syn, isn, 0, 0));
                    continue;
                }
                Conversation(at, client, (ushort)_rng.Next(32768, 61000), HostAddr, 8080, Container, 80, clientOnEth0: true, _rng.Next(50, 400), _rng.Next(300, 1400));
            }
            foreach (var _ in Poisson(outPerSecond))
                Conversation(t + _rng.NextDouble(), Container, (ushort)_rng.Next(32768, 61000), "203.0.113.9", (ushort)(_rng.Next(2) == 0 ? 80 : 443), "203.0.113.9", 0, clientOnEth0: false, _rng.Next(100, 600), _rng.Next(500, 1400));
            foreach (var _ in Poisson(dnsPerSecond))
            {
                double at = t + _rng.NextDouble();
                ushort port = (ushort)_rng.Next(32768, 61000);
                Add(at, false, Udp(Container, port, "203.0.113.53", 53, 40));
                Add(at + 0.01 + _rng.NextDouble() * 0.02, true, Udp("203.0.113.53", 53, HostAddr, port, 120));
            }
        }
    }

    /// <summary>One source sending SYNs to the web service that nobody completes.</summary>
    public AttackLabel SynFlood(double at, double seconds, int perSecond, string attacker = "198.51.100.66")
    {
        int n = (int)(seconds * perSecond);
        for (int i = 0; i < n; i++)
            Add(at + i / (double)perSecond, true, Tcp(attacker, (ushort)(1024 + i % 60000), HostAddr, 8080, Syn, (uint)_rng.Next(), 0, 0));
        return Label("SYN flood", at, seconds, 120, [(EntityKind.Host, attacker), (EntityKind.Service, Web)], [(EntityKind.Table, "conntrack")]);
    }

    /// <summary>One source sending a SYN to each of <paramref name="ports"/> ports of the host (dropped by the INPUT policy).</summary>
    public AttackLabel PortScan(double at, double seconds, int ports, string attacker = "198.51.100.77")
    {
        var probed = new List<(EntityKind, string)>();
        for (int p = 1; p <= ports; p++)
        {
            Add(at + (p - 1) * seconds / ports, true, Tcp(attacker, 40000, HostAddr, (ushort)p, Syn, (uint)_rng.Next(), 0, 0));
            probed.Add((EntityKind.Service, $"{HostAddr}:{p}/tcp"));
        }
        var l = Label("port scan", at, seconds, 0, [(EntityKind.Host, attacker)], [(EntityKind.Table, "conntrack")]) with { Ignored = probed };
        _labels[^1] = l;
        return l;
    }

    /// <summary>A second container, 172.17.0.3, opening UDP flows to one resolver from many source ports: MASQUERADE binds a port of the NAT address for each.</summary>
    public AttackLabel NatPressure(double at, double seconds, int perSecond, string src = "172.17.0.3")
    {
        int n = (int)(seconds * perSecond);
        for (int i = 0; i < n; i++)
            Add(at + i / (double)perSecond, false, Udp(src, (ushort)(10000 + i), "203.0.113.53", 53, 40));
        return Label("NAT port pressure", at, seconds, 30,
            [(EntityKind.Host, src), (EntityKind.Service, "203.0.113.53:53/udp")], [(EntityKind.Host, src), (EntityKind.Nat, HostAddr), (EntityKind.Table, "conntrack")]);
    }

    /// <summary>Many sources each opening a few connections to the web service: the table fills (run with a small nf_conntrack_max) and the kernel drops with "table full".</summary>
    public AttackLabel ConntrackFill(double at, double seconds, int perSecond, int sources = 100)
    {
        int n = (int)(seconds * perSecond);
        var entities = new List<(EntityKind, string)> { (EntityKind.Service, Web) };
        for (int i = 0; i < n; i++)
        {
            string src = "198.51.100." + (100 + i % sources).ToString(CultureInfo.InvariantCulture);
            Add(at + i / (double)perSecond, true, Tcp(src, (ushort)(20000 + i / sources), HostAddr, 8080, Syn, (uint)_rng.Next(), 0, 0));
        }
        for (int s = 0; s < sources; s++)
            entities.Add((EntityKind.Host, "198.51.100." + (100 + s).ToString(CultureInfo.InvariantCulture)));
        // While the table is full (until the attack's SYN_SENT entries time out), the kernel drops the
        // first packet of every new connection: the web clients, the container and the services they use are its victims.
        var stateful = new List<(EntityKind, string)>
        {
            (EntityKind.Table, "conntrack"), (EntityKind.Service, Web), (EntityKind.Host, Container), (EntityKind.Nat, HostAddr),
            (EntityKind.Service, "203.0.113.9:80/tcp"), (EntityKind.Service, "203.0.113.9:443/tcp"), (EntityKind.Service, "203.0.113.53:53/udp"),
        };
        for (int c = 10; c < 40; c++)
            stateful.Add((EntityKind.Host, "198.51.100." + c.ToString(CultureInfo.InvariantCulture)));
        return Label("conntrack table filling", at, seconds, 120, entities, stateful);
    }

    /// <summary>
    /// From <paramref name="at"/> on, a rule drops the web service: the rule set to replay with --rules
    /// is the snapshot's plus a DOCKER-USER rule with `-m time --datestart` (evaluated on the capture
    /// clock), which is the change made at that moment without splitting the run in two. Call it
    /// before <see cref="Normal"/>, which then makes the web clients' SYNs go unanswered from then on.
    /// </summary>
    public (AttackLabel Label, string Rules) RuleChange(string snapshotRules, double at, double end)
    {
        ArgumentNullException.ThrowIfNull(snapshotRules);
        string when = DateTimeOffset.FromUnixTimeMilliseconds(Ns(at) / 1_000_000).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
        string rule = $"-A DOCKER-USER -d {Container}/32 -p tcp -m tcp --dport 80 -m time --datestart {when} -j DROP";
        int i = snapshotRules.IndexOf("-A DOCKER-USER -j RETURN", StringComparison.Ordinal);
        int lineStart = snapshotRules.LastIndexOf('\n', i) + 1;
        string rules = snapshotRules[..lineStart] + rule + "\n" + snapshotRules[lineStart..];
        _webDownFrom = at;
        var entities = new List<(EntityKind, string)> { (EntityKind.Service, Web) };
        for (int c = 10; c < 40; c++)
            entities.Add((EntityKind.Host, "198.51.100." + c.ToString(CultureInfo.InvariantCulture)));
        return (Label("rule change drops the web service", at, end - at, 0, entities, [(EntityKind.Table, "conntrack")]), rules);
    }

    private AttackLabel Label(string name, double at, double seconds, double timeout, List<(EntityKind, string)> entities, List<(EntityKind, string)> stateful)
    {
        var l = new AttackLabel(name, Us(at), Us(at + seconds), Us(at + seconds + timeout), entities, stateful);
        _labels.Add(l);
        return l;
    }

    /// <summary>
    /// Writes the frames in time order as one `tcpdump -i any` capture (LINUX_SLL2, any.pcap in
    /// <paramref name="dir"/>), each record naming its interface by index (link.json: docker0 3,
    /// eth0 4) with packet type 0, "to us": plain Ethernet would leave the pipeline to guess whether
    /// a frame was for the host. Returns the capture arguments.
    /// </summary>
    public string[] Write(string dir)
    {
        string any = Path.Combine(dir, "any.pcap");
        using (var w = PcapWriter.Create(any, LinkType.LinuxSll2))
        {
            var buffer = new byte[65536];
            foreach (var f in _frames.OrderBy(f => f.Ns).ThenBy(f => f.Order))
            {
                var sll = buffer.AsSpan(0, 20 + f.Frame.Length - 14);
                sll.Clear();
                BinaryPrimitives.WriteUInt16BigEndian(sll, 0x0800);
                BinaryPrimitives.WriteUInt32BigEndian(sll[4..], f.Eth0 ? 4u : 3u);
                BinaryPrimitives.WriteUInt16BigEndian(sll[8..], 1); // ARPHRD_ETHER
                sll[10] = 0; // PACKET_HOST
                sll[11] = 6;
                PeerMac.CopyTo(sll[12..]);
                f.Frame.AsSpan(14).CopyTo(sll[20..]);
                w.Write(f.Ns, sll);
            }
        }
        return [any];
    }

    /// <summary>Replays captures through the docker-host snapshot into a run database, as `tracereplay replay --no-initial-conntrack --out` does.</summary>
    public static void Replay(string snapshotDir, IReadOnlyList<string> captures, string outDb, string? rulesFile = null, int conntrackMax = 0)
    {
        var snapshot = HostSnapshot.Load(snapshotDir, rulesOverride: rulesFile);
        if (conntrackMax > 0)
            snapshot.Network.Sysctls.Set("net.netfilter.nf_conntrack_max", conntrackMax.ToString(CultureInfo.InvariantCulture));
        var relay = new RunDatabaseSink.EventRelay();
        var nf = NfHost.Create(snapshot, new NfHostOptions { Seed = 1, LoadConntrack = false, Events = relay });
        using var db = new RunDatabaseSink(outDb, snapshot, nf);
        relay.Target = db;
        var summary = new ReplayJob(snapshot, nf).Run([.. captures.Select(CaptureSource.Parse)], db);
        db.Complete(summary, [("command", "anomaly traffic replay")]);
    }

    private IEnumerable<int> Poisson(double lambda)
    {
        // Knuth's method: fine for the small rates of background traffic.
        double l = Math.Exp(-lambda), p = 1;
        int k = 0;
        do
        {
            k++;
            p *= _rng.NextDouble();
        }
        while (p > l);
        return Enumerable.Range(0, k - 1);
    }

    /// <summary>A whole TCP conversation. <paramref name="serverReal"/>:<paramref name="serverRealPort"/> is where replies come from (the container behind the DNAT), or 0 for the same as the destination.</summary>
    private void Conversation(double t, string client, ushort cport, string server, ushort sport, string serverReal, ushort serverRealPort, bool clientOnEth0, int request, int response)
    {
        // Replies to a MASQUERADEd client come back to the NAT address, with the port kept (nothing else holds it).
        string replySrc = serverReal;
        ushort replySport = serverRealPort == 0 ? sport : serverRealPort;
        string replyDst = clientOnEth0 ? client : HostAddr;
        uint c = (uint)_rng.Next(), s = (uint)_rng.Next();
        double rtt = 0.002 + _rng.NextDouble() * 0.03;
        bool cIn = clientOnEth0, sIn = !clientOnEth0;
        Add(t, cIn, Tcp(client, cport, server, sport, Syn, c, 0, 0));
        Add(t + rtt, sIn, Tcp(replySrc, replySport, replyDst, cport, Syn | Ack, s, c + 1, 0));
        Add(t + rtt * 1.5, cIn, Tcp(client, cport, server, sport, Ack, c + 1, s + 1, 0));
        Add(t + rtt * 1.6, cIn, Tcp(client, cport, server, sport, Psh | Ack, c + 1, s + 1, request));
        Add(t + rtt * 2.6, sIn, Tcp(replySrc, replySport, replyDst, cport, Psh | Ack, s + 1, c + 1 + (uint)request, response));
        Add(t + rtt * 3.5, cIn, Tcp(client, cport, server, sport, Fin | Ack, c + 1 + (uint)request, s + 1 + (uint)response, 0));
        Add(t + rtt * 4.5, sIn, Tcp(replySrc, replySport, replyDst, cport, Fin | Ack, s + 1 + (uint)response, c + 2 + (uint)request, 0));
        Add(t + rtt * 5, cIn, Tcp(client, cport, server, sport, Ack, c + 2 + (uint)request, s + 2 + (uint)response, 0));
    }

    private void Add(double t, bool eth0, byte[] frame) => _frames.Add((Ns(t), _frames.Count, eth0, frame));

    private static byte[] Tcp(string src, ushort sport, string dst, ushort dport, byte flags, uint seq, uint ack, int payload)
    {
        var f = Ip(src, dst, 6, 20 + payload, out int l4, out var eth0);
        var t = f.AsSpan(l4);
        BinaryPrimitives.WriteUInt16BigEndian(t, sport);
        BinaryPrimitives.WriteUInt16BigEndian(t[2..], dport);
        BinaryPrimitives.WriteUInt32BigEndian(t[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(t[8..], (flags & Ack) != 0 ? ack : 0);
        t[12] = 5 << 4;
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t[14..], 64240);
        BinaryPrimitives.WriteUInt16BigEndian(t[16..], L4Checksum(f, l4, 6));
        return f;
    }

    private static byte[] Udp(string src, ushort sport, string dst, ushort dport, int payload)
    {
        var f = Ip(src, dst, 17, 8 + payload, out int l4, out _);
        var u = f.AsSpan(l4);
        BinaryPrimitives.WriteUInt16BigEndian(u, sport);
        BinaryPrimitives.WriteUInt16BigEndian(u[2..], dport);
        BinaryPrimitives.WriteUInt16BigEndian(u[4..], (ushort)(8 + payload));
        BinaryPrimitives.WriteUInt16BigEndian(u[6..], L4Checksum(f, l4, 17));
        return f;
    }

    /// <summary>Ethernet + IPv4 header; the destination MAC is the receiving interface's (eth0 for outside sources, docker0 for containers).</summary>
    private static byte[] Ip(string src, string dst, byte proto, int l4Length, out int l4, out bool eth0)
    {
        eth0 = !src.StartsWith("172.17.", StringComparison.Ordinal);
        var f = new byte[14 + 20 + l4Length];
        (eth0 ? Eth0Mac : Docker0Mac).CopyTo(f, 0);
        PeerMac.CopyTo(f, 6);
        f[12] = 0x08;
        var ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + l4Length));
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = proto;
        IPAddress.Parse(src).GetAddressBytes().CopyTo(ip[12..]);
        IPAddress.Parse(dst).GetAddressBytes().CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip[..20], 0));
        l4 = 34;
        return f;
    }

    private static ushort L4Checksum(byte[] f, int l4, byte proto)
    {
        int len = f.Length - l4;
        uint sum = 0;
        var ip = f.AsSpan(14);
        for (int i = 12; i < 20; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        sum += proto;
        sum += (uint)len;
        ushort c = Checksum(f.AsSpan(l4), sum);
        return proto == 17 && c == 0 ? (ushort)0xffff : c;
    }

    private static ushort Checksum(ReadOnlySpan<byte> data, uint sum)
    {
        for (int i = 0; i + 1 < data.Length; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if ((data.Length & 1) != 0)
            sum += (uint)data[^1] << 8;
        while (sum >> 16 != 0)
            sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}
