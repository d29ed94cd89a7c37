using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Tests.Netfilter.Conntrack;

/// <summary>Decoded packets built field by field, as PacketDecoder would fill them, for driving the tracker.</summary>
internal static class CtPackets
{
    public const long S = 1_000_000_000L;

    public static DecodedPacket Ip(string src, string dst, byte proto, int payload)
    {
        var s = IpAddr.Parse(src);
        bool v6 = !s.IsV4;
        int ipHeader = v6 ? 40 : 20;
        return new DecodedPacket
        {
            Layers = Layers.Link | Layers.Ip | Layers.Transport,
            IpVersion = (byte)(v6 ? 6 : 4),
            Protocol = proto,
            Src = s,
            Dst = IpAddr.Parse(dst),
            IpHeaderLength = (ushort)ipHeader,
            IpTotalLength = ipHeader + payload,
            L3Offset = 14,
            L4Offset = (ushort)(14 + ipHeader),
        };
    }

    public static DecodedPacket Tcp(string src, ushort sport, string dst, ushort dport, TcpFlags flags, uint seq, uint ack = 0, ushort win = 64240, int data = 0)
    {
        var p = Ip(src, dst, L4Protocol.Tcp, 20 + data);
        p.SrcPort = sport;
        p.DstPort = dport;
        p.TcpFlags = flags;
        p.TcpSeq = seq;
        p.TcpAck = ack;
        p.TcpWindow = win;
        p.TcpHeaderLength = 20;
        return p;
    }

    public static DecodedPacket Udp(string src, ushort sport, string dst, ushort dport, int data = 2)
    {
        var p = Ip(src, dst, L4Protocol.Udp, 8 + data);
        p.SrcPort = sport;
        p.DstPort = dport;
        return p;
    }

    public static DecodedPacket Icmp(string src, string dst, byte type, ushort id, int data = 56)
    {
        bool v6 = !IpAddr.Parse(src).IsV4;
        var p = Ip(src, dst, v6 ? L4Protocol.Icmpv6 : L4Protocol.Icmp, 8 + data);
        p.IcmpType = type;
        p.IcmpId = id;
        return p;
    }

    /// <summary>An ICMP error from <paramref name="src"/> to <paramref name="dst"/> quoting a UDP/TCP header.</summary>
    public static DecodedPacket IcmpError(string src, string dst, byte type, byte code, string innerSrc, ushort innerSport, string innerDst, ushort innerDport, byte innerProto = L4Protocol.Udp)
    {
        var p = Icmp(src, dst, type, 0, 28);
        p.IcmpCode = code;
        p.Flags |= PacketFlags.IcmpError;
        p.Layers |= Layers.InnerIp | Layers.InnerTransport;
        p.InnerProtocol = innerProto;
        p.InnerSrc = IpAddr.Parse(innerSrc);
        p.InnerDst = IpAddr.Parse(innerDst);
        p.InnerSrcPort = innerSport;
        p.InnerDstPort = innerDport;
        return p;
    }

    public static NfConntrackTable Table(long max = 1024, int buckets = 1024, bool loose = true, bool liberal = false, bool acct = true, NfConntrackTimeouts? timeouts = null) =>
        new(new NfConntrackSettings
        {
            Max = max,
            Buckets = buckets,
            TcpLoose = loose,
            TcpBeLiberal = liberal,
            Acct = acct,
            Timeouts = timeouts ?? new NfConntrackTimeouts(),
        });

    /// <summary>The hook pair a packet passes on its way through the host: conntrack in, then confirm.</summary>
    public static CtInfo Pass(this NfConntrackTable t, DecodedPacket p, long now, ushort zone = 0)
    {
        var info = t.ConntrackIn(in p, default, now, zone);
        if (info.Verdict == CtVerdict.Accept && info.HasEntry)
            Assert.True(t.Confirm(info.Entry, now));
        return info;
    }

    public static long SecondsLeft(this NfConntrackTable t, int entry, long now) => (t[entry].Timeout - now) / S;
}
