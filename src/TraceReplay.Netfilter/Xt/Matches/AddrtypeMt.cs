using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m addrtype` (net/netfilter/xt_addrtype.c addrtype_mt_v1): the routing type of the source and/or
/// destination against the masks, optionally looked up on the in or out device only. The answer
/// comes from <see cref="XtNet.AddrTypes"/>; without one the match is unknown.
/// </summary>
public sealed class AddrtypeMt(AddrtypeMatch m, XtCompileContext c) : XtMatchEvaluator<AddrtypeMatch>
{
    private readonly IXtAddrTypeResolver? _fib = c.Net.AddrTypes;

    public AddrtypeMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        if (_fib is null)
            return Tristate.Unknown;
        var m = Module;
        string? dev = m.LimitIfaceIn ? p.InDev : m.LimitIfaceOut ? p.OutDev : null;
        bool v6 = p.IsV6;
        if (m.Source != AddrType.None && ((_fib.TypeOf(p.Packet.Src, v6, dev) & m.Source) != 0) == m.InvertSource)
            return Tristate.False;
        if (m.Destination != AddrType.None && ((_fib.TypeOf(p.Packet.Dst, v6, dev) & m.Destination) != 0) == m.InvertDestination)
            return Tristate.False;
        return Tristate.True;
    }
}
