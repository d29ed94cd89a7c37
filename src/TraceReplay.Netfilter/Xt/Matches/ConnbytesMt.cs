using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m connbytes` (net/netfilter/xt_connbytes.c connbytes_mt): packets, bytes or the average packet
/// size of one or both directions of the connection, in [from, to] — or, when from &gt; to (how `!`
/// is stored), outside (to, from). No entry or no accounting extension, no match.
/// </summary>
public sealed class ConnbytesMt(ConnbytesMatch m, XtCompileContext c) : XtMatchEvaluator<ConnbytesMatch>
{
    public ConnbytesMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        ref var ct = ref p.Ct;
        if (!ct.HasEntry || !ct.HasAcct)
            return Tristate.False;
        var m = Module;
        ulong pkts = m.Direction switch
        {
            ConnbytesDirection.Original => ct.OrigPackets,
            ConnbytesDirection.Reply => ct.ReplyPackets,
            _ => ct.OrigPackets + ct.ReplyPackets,
        };
        ulong bytes = m.Direction switch
        {
            ConnbytesDirection.Original => ct.OrigBytes,
            ConnbytesDirection.Reply => ct.ReplyBytes,
            _ => ct.OrigBytes + ct.ReplyBytes,
        };
        ulong what = m.Mode switch
        {
            ConnbytesMode.Packets => pkts,
            ConnbytesMode.Bytes => bytes,
            _ => pkts != 0 ? bytes / pkts : 0,
        };
        bool hit = m.To >= m.From ? what <= m.To && what >= m.From : what < m.To || what > m.From;
        return hit ? Tristate.True : Tristate.False;
    }
}
