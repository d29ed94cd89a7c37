using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m tcp` (net/netfilter/xt_tcpudp.c tcp_mt): ports, flags under a mask, an option kind, each
/// invertible. A non-first fragment never matches; a header that is not there hotdrops.
/// </summary>
public sealed class TcpMt(TcpMatch m, XtCompileContext c) : XtMatchEvaluator<TcpMatch>
{
    private readonly uint _spMin = m.SourcePorts.Min, _spMax = m.SourcePorts.Max, _dpMin = m.DestinationPorts.Min, _dpMax = m.DestinationPorts.Max;
    private readonly bool _spInv = m.InvertSourcePorts, _dpInv = m.InvertDestinationPorts, _flgInv = m.InvertFlags, _optInv = m.InvertOption;
    private readonly byte _flgMask = m.FlagMask, _flgCmp = m.FlagCompare, _option = m.Option;

    public TcpMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        ref var d = ref p.Packet;
        if (p.FragOff != 0)
        {
            // "Don't allow a fragment of TCP 8 bytes in": offset 1 would overlap the flags.
            if (p.FragOff == 1)
                p.HotDrop = true;
            return Tristate.False;
        }
        if (!d.HasTransport || d.Protocol != L4Protocol.Tcp)
            return p.MissingTransport();
        if (!InRange(d.SrcPort, _spMin, _spMax, _spInv) || !InRange(d.DstPort, _dpMin, _dpMax, _dpInv))
            return Tristate.False;
        if ((((byte)d.TcpFlags & _flgMask) == _flgCmp) == _flgInv)
            return Tristate.False;
        if (_option != 0)
        {
            var opt = FindOption(ref p);
            if (opt == Tristate.Unknown)
                return opt;
            if ((opt == Tristate.True) == _optInv)
                return Tristate.False;
        }
        return Tristate.True;
    }

    internal static bool InRange(ushort port, uint min, uint max, bool invert) => (port >= min && port <= max) != invert;

    /// <summary>tcp_find_option: walks the options; an option length below 2 ends the walk as the kernel's does.</summary>
    private Tristate FindOption(ref XtActionParam p)
    {
        ref var d = ref p.Packet;
        int optLen = d.TcpHeaderLength - 20;
        if (optLen <= 0)
            return Tristate.False;
        int start = d.L4Offset + 20;
        if (start + optLen > p.Frame.Length)
            return d.IsTruncated ? Tristate.Unknown : Tristate.False;
        var op = p.Frame.Slice(start, optLen);
        for (int i = 0; i < op.Length;)
        {
            if (op[i] == _option)
                return Tristate.True;
            if (op[i] < 2)
            {
                i++;
                continue;
            }
            if (i + 1 >= op.Length)
                break;
            int len = op[i + 1];
            i += len == 0 ? 1 : len;
        }
        return Tristate.False;
    }
}
