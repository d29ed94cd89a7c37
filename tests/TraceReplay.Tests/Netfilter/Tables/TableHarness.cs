using TraceReplay.Capture;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Netfilter.Tables;

/// <summary>Sets the inputs of a context before a traversal (a ref struct cannot be captured by a lambda).</summary>
internal delegate void ParamSetup(ref XtActionParam p);

/// <summary>A decoded frame to run through a table.</summary>
internal sealed class TestPacket
{
    public TestPacket(byte[] frame)
    {
        Frame = frame;
        PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out Decoded);
    }

    public byte[] Frame { get; }
    public DecodedPacket Decoded;
}

/// <summary>Parses small iptables-save texts, compiles a table and runs packets through it.</summary>
internal static class TableHarness
{
    public static XtTableInfo Compile(string save, string table = "filter", XtNet? net = null, IptFamily family = IptFamily.IPv4)
    {
        var rs = IptablesParser.Parse(save, "test.rules", family);
        return XtTableInfo.Compile(rs.Table(table)!, family, net ?? new XtNet());
    }

    /// <summary>A filter table with the three built-in chains (ACCEPT) plus <paramref name="body"/> (chain declarations and rules).</summary>
    public static XtTableInfo Filter(string body, XtNet? net = null, IptFamily family = IptFamily.IPv4, string policy = "ACCEPT") =>
        Compile($"*filter\n:INPUT {policy} [0:0]\n:FORWARD {policy} [0:0]\n:OUTPUT {policy} [0:0]\n{body}\nCOMMIT\n", "filter", net, family);

    public static IptVerdict Run(XtTableInfo t, TestPacket pkt, NfInetHook hook = NfInetHook.Forward, string? inDev = "eth0", string? outDev = "eth1",
        ParamSetup? setup = null, IIptTraceSink? trace = null, long timeNs = 0)
    {
        var p = new XtActionParam(ref pkt.Decoded, pkt.Frame, hook)
        {
            InDev = hook is NfInetHook.LocalOut or NfInetHook.PostRouting ? null : inDev,
            OutDev = hook is NfInetHook.PreRouting or NfInetHook.LocalIn ? null : outDev,
            TimeNs = timeNs,
        };
        setup?.Invoke(ref p);
        return t.DoTable(ref p, trace);
    }

    /// <summary>Runs and returns the context's outputs too.</summary>
    public static (IptVerdict Verdict, uint Mark, NfCtInfo Ct, XtNatRequest Nat, XtRejectRecord Reject, XtCtRequest CtRequest, bool Trace) RunFull(
        XtTableInfo t, TestPacket pkt, NfInetHook hook = NfInetHook.Forward, ParamSetup? setup = null, long timeNs = 0)
    {
        var p = new XtActionParam(ref pkt.Decoded, pkt.Frame, hook)
        {
            InDev = hook is NfInetHook.LocalOut or NfInetHook.PostRouting ? null : "eth0",
            OutDev = hook is NfInetHook.PreRouting or NfInetHook.LocalIn ? null : "eth1",
            TimeNs = timeNs,
        };
        setup?.Invoke(ref p);
        var v = t.DoTable(ref p);
        return (v, p.Mark, p.Ct, p.Nat, p.Reject, p.CtRequest, p.NfTrace);
    }

    /// <summary>"CHAIN:N" (or "CHAIN:policy") for the entry that decided.</summary>
    public static string Where(XtTableInfo t, IptVerdict v)
    {
        var (chain, num, isPolicy) = t.Describe(v.Entry);
        return isPolicy ? chain + ":policy" : chain + ":" + num;
    }

    public static TestPacket Tcp(string src = "10.0.0.1", ushort sport = 40000, string dst = "192.0.2.7", ushort dport = 80, bool syn = true, bool ack = false, int payload = 0) =>
        new(Frames.TcpV4(src, sport, dst, dport, syn, ack, payload));

    public static TestPacket Udp(string src = "10.0.0.1", ushort sport = 5353, string dst = "192.0.2.7", ushort dport = 53, int payload = 8) =>
        new(Frames.UdpV4(src, sport, dst, dport, payload));
}

/// <summary>Collects trace lines.</summary>
internal sealed class ListTrace : IIptTraceSink
{
    public List<string> Lines { get; } = [];

    public void Trace(in IptTraceEvent e) => Lines.Add(e.ToString());
}
