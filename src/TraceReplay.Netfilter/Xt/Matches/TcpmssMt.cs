using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m tcpmss --mss MIN[:MAX]` (net/netfilter/xt_tcpmss.c tcpmss_mt): the first well-formed MSS
/// option's value in the range, invertible; a segment without one matches only when inverted.
/// Options the capture cut off make it unknown; options the packet itself lacks hotdrop.
/// </summary>
public sealed class TcpmssMt(TcpmssMatch m, XtCompileContext c) : XtMatchEvaluator<TcpmssMatch>
{
    public TcpmssMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        ref var d = ref p.Packet;
        if (!d.HasTransport || d.Protocol != L4Protocol.Tcp)
            return p.MissingTransport();
        bool inv = Module.Invert;
        int optLen = d.TcpHeaderLength - 20;
        if (optLen <= 0)
            return inv ? Tristate.True : Tristate.False;
        int start = d.L4Offset + 20;
        if (start + optLen > p.Frame.Length)
            return p.MissingTransport();
        var op = p.Frame.Slice(start, optLen);
        for (int i = 0; i < op.Length;)
        {
            if (op[i] == 2 && op.Length - i >= 4 && op[i + 1] == 4)
            {
                uint mss = (uint)((op[i + 2] << 8) | op[i + 3]);
                return Module.Mss.Contains(mss) != inv ? Tristate.True : Tristate.False;
            }
            if (op[i] < 2)
            {
                i++;
                continue;
            }
            if (i + 1 >= op.Length)
                break;
            i += op[i + 1] == 0 ? 1 : op[i + 1];
        }
        return inv ? Tristate.True : Tristate.False;
    }
}
