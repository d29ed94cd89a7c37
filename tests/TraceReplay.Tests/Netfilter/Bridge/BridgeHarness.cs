using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Ebtables;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Bridge;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Tests.Netfilter.Bridge;

/// <summary>A decoded Ethernet frame.</summary>
internal sealed class BrFrame
{
    public BrFrame(byte[] frame)
    {
        Frame = frame;
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out Decoded);
    }

    public byte[] Frame { get; }
    public DecodedPacket Decoded;
}

/// <summary>
/// One bridge br0 (02:00:00:00:00:01) with ports veth0/1/2 (02:00:00:00:00:10/11/12) and a plain
/// NIC eth0; frames built with PacketDotNet between stations A, B, C (02:aa:…:0a/0b/0c).
/// </summary>
internal static class BridgeHarness
{
    public const string BrMac = "02:00:00:00:00:01";
    public const string A = "02:aa:00:00:00:0a";
    public const string B = "02:aa:00:00:00:0b";
    public const string C = "02:aa:00:00:00:0c";
    public const string Bcast = "ff:ff:ff:ff:ff:ff";
    public const long Sec = 1_000_000_000;

    public static MacAddr Mac(string s) => MacAddr.TryParse(s, out var m) ? m : throw new ArgumentException(s);

    private static PhysicalAddress Phys(string s) => PhysicalAddress.Parse(s.Replace(':', '-').ToUpperInvariant());

    public static NetworkConfig Network() => new(
    [
        new NetDevice { IfIndex = 1, Name = "lo", Flags = ["LOOPBACK", "UP"] },
        new NetDevice { IfIndex = 2, Name = "eth0", Mac = Mac("02:00:00:00:00:02") },
        new NetDevice { IfIndex = 3, Name = "br0", Kind = "bridge", Mac = Mac(BrMac) },
        new NetDevice { IfIndex = 4, Name = "veth0", Kind = "veth", SlaveKind = "bridge", Master = "br0", Mac = Mac("02:00:00:00:00:10") },
        new NetDevice { IfIndex = 5, Name = "veth1", Kind = "veth", SlaveKind = "bridge", Master = "br0", Mac = Mac("02:00:00:00:00:11") },
        new NetDevice { IfIndex = 6, Name = "veth2", Kind = "veth", SlaveKind = "bridge", Master = "br0", Mac = Mac("02:00:00:00:00:12") },
    ], [], []);

    public static BridgeDecision Decision(string? ebtables = null, XtNet? net = null) =>
        new(Network(), ebtables is null ? null : EbtablesParser.Parse(ebtables, "eb.rules"), net ?? new XtNet());

    /// <summary>A table text with the built-in chains of <paramref name="table"/> at ACCEPT, then <paramref name="body"/>.</summary>
    public static string Table(string table, string body, string policy = "ACCEPT")
    {
        var chains = EbtablesTables.BuiltinChains(EbtablesTables.TryParse(table, out var k) ? k : EbtTableKind.Filter);
        return $"*{table}\n{string.Concat(chains.Select(c => $":{c} {policy}\n"))}{body}\n";
    }

    public static EbtTableInfo Compile(string table, string body, string policy = "ACCEPT", XtNet? net = null)
    {
        var rs = EbtablesParser.Parse(Table(table, body, policy), "eb.rules");
        Assert.Empty(rs.Warnings);
        return EbtTableInfo.Compile(rs.Tables[0], net ?? new XtNet());
    }

    public static BrFrame Udp(string src, string dst, string ipSrc = "10.0.0.1", string ipDst = "10.0.0.2", ushort sport = 40000, ushort dport = 53, int payload = 8)
    {
        var udp = new UdpPacket(sport, dport) { PayloadData = new byte[payload] };
        var ip = new IPv4Packet(IPAddress.Parse(ipSrc), IPAddress.Parse(ipDst)) { TimeToLive = 64, PayloadPacket = udp };
        ip.UpdateCalculatedValues();
        udp.UpdateCalculatedValues();
        ip.UpdateIPChecksum();
        return new BrFrame(new EthernetPacket(Phys(src), Phys(dst), EthernetType.IPv4) { PayloadPacket = ip }.Bytes);
    }

    public static BrFrame Icmp(string src, string dst, string ipSrc, string ipDst, byte type = 8)
    {
        var icmp = new IcmpV4Packet(new PacketDotNet.Utils.ByteArraySegment(new byte[8])) { TypeCode = (IcmpV4TypeCode)(type << 8), Id = 1, Sequence = 1 };
        var ip = new IPv4Packet(IPAddress.Parse(ipSrc), IPAddress.Parse(ipDst)) { TimeToLive = 64, PayloadPacket = icmp };
        ip.UpdateCalculatedValues();
        ip.UpdateIPChecksum();
        return new BrFrame(new EthernetPacket(Phys(src), Phys(dst), EthernetType.IPv4) { PayloadPacket = ip }.Bytes);
    }

    public static BrFrame Tcp6(string src, string dst, string ipSrc, string ipDst, ushort dport)
    {
        var tcp = new TcpPacket(40000, dport) { Synchronize = true, WindowSize = 1000 };
        var ip = new IPv6Packet(IPAddress.Parse(ipSrc), IPAddress.Parse(ipDst)) { HopLimit = 64, PayloadPacket = tcp };
        ip.UpdateCalculatedValues();
        return new BrFrame(new EthernetPacket(Phys(src), Phys(dst), EthernetType.IPv6) { PayloadPacket = ip }.Bytes);
    }

    public static BrFrame Arp(string src, string dst, ArpOperation op, string senderIp, string targetIp, string? targetMac = null)
    {
        var arp = new ArpPacket(op, Phys(targetMac ?? "00:00:00:00:00:00"), IPAddress.Parse(targetIp), Phys(src), IPAddress.Parse(senderIp));
        return new BrFrame(new EthernetPacket(Phys(src), Phys(dst), EthernetType.Arp) { PayloadPacket = arp }.Bytes);
    }

    public static BrFrame Tagged(BrFrame f, ushort vid, byte prio = 0) => new(TraceReplay.Tests.Support.Frames.Tagged(f.Frame, (ushort)((prio << 13) | vid)));

    /// <summary>Runs one hook of a compiled table on a frame received on <paramref name="inDev"/> (a port of br0 unless it is eth0).</summary>
    public static (IptVerdict Verdict, uint Mark, MacAddr Src, MacAddr Dst, byte PktType) Run(EbtTableInfo t, BrFrame f, NfBrHook hook,
        string? inDev = "veth0", string? outDev = "veth1", uint mark = 0, long timeNs = 0, byte? pktType = null, IEbtRecordSink? sink = null)
    {
        var p = new EbtActionParam(ref f.Decoded, f.Frame, hook)
        {
            InDev = hook is NfBrHook.LocalOut or NfBrHook.PostRouting ? null : inDev,
            OutDev = hook is NfBrHook.PreRouting or NfBrHook.LocalIn or NfBrHook.Broute ? null : outDev,
            Mark = mark,
            TimeNs = timeNs,
            InPortMac = Mac("02:00:00:00:00:10"),
            InBridgeMac = Mac(BrMac),
            RecordSink = sink,
        };
        p.InBridge = p.InDev is { } i && i.StartsWith("veth", StringComparison.Ordinal) ? "br0" : null;
        p.OutBridge = p.OutDev is { } o && o.StartsWith("veth", StringComparison.Ordinal) ? "br0" : null;
        if (pktType is { } pt)
            p.PktType = pt;
        var v = t.DoTable(ref p);
        return (v, p.Mark, p.SrcMac, p.DstMac, p.PktType);
    }

    /// <summary>"table:CHAIN:n" or "table:CHAIN:policy" of a verdict.</summary>
    public static string Where(EbtTableInfo t, IptVerdict v) => t.Where(v.Entry);
}
