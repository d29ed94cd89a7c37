using TraceReplay.Host.Ipset;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m set --match-set NAME src,dst…` (net/netfilter/xt_set.c set_match_v4): ip_set_test on the
/// host's ipsets at the packet's time, with --return-nomatch. Unknown when the set is not in the
/// snapshot, or when the rule tests the entries' packet/byte counters (not simulated yet).
/// </summary>
public sealed class SetMt : XtMatchEvaluator<SetMatch>
{
    private readonly IpSet? _set;
    private readonly SetDirections _dirs;
    private readonly bool _unknown;

    public SetMt(SetMatch m, XtCompileContext c)
    {
        Module = m;
        if (c.Net.Ipsets is { } sets && sets.TryGet(m.SetName, out var s))
            _set = s;
        byte src = 0;
        for (int i = 0; i < m.FromSource.Count; i++)
        {
            if (m.FromSource[i])
                src |= (byte)(1 << i);
        }
        _dirs = new SetDirections(src, (byte)m.FromSource.Count);
        _unknown = _set is null || m.PacketsOp != SetCounterOp.None || m.BytesOp != SetCounterOp.None;
    }

    public SetMatch Module { get; }

    public override Tristate Match(ref XtActionParam p)
    {
        if (_unknown)
            return Tristate.Unknown;
        ref var d = ref p.Packet;
        var key = new SetKey
        {
            Src = d.Src,
            Dst = d.Dst,
            IsV6 = p.IsV6,
            Protocol = d.Protocol,
            SrcPort = d.SrcPort,
            DstPort = d.DstPort,
            IcmpType = d.IcmpType,
            IcmpCode = d.IcmpCode,
            NoTransportHeader = p.FragOff != 0 || !d.HasTransport,
            InIface = p.InDev,
            OutIface = p.OutDev,
            HasMac = p.HasMacHeader,
            SrcMac = d.SrcMac,
            DstMac = d.DstMac,
            Mark = p.Mark,
        };
        if (!d.HasTransport && d.IsTruncated && p.FragOff == 0)
            return Tristate.Unknown;
        bool hit = _set!.Test(in key, _dirs, p.TimeNs / 1000, Module.ReturnNoMatch, out _);
        return hit != Module.Invert ? Tristate.True : Tristate.False;
    }
}
