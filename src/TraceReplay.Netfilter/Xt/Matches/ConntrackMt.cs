using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Tables;
using Field = TraceReplay.Host.Iptables.Extensions.Matches.ConntrackMatch.Field;
using CtStatus = TraceReplay.Netfilter.Conntrack.CtStatus;
using HostCtState = TraceReplay.Host.Iptables.Extensions.Matches.CtState;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m conntrack` (net/netfilter/xt_conntrack.c conntrack_mt, revision 3): each given field tested
/// in the kernel's order, each with its inversion. Without an entry (invalid, untracked) only
/// --ctstate can match: the rule matches if and only if it has --ctstate and the state test passed.
/// </summary>
public sealed class ConntrackMt(ConntrackMatch m, XtCompileContext c) : XtMatchEvaluator<ConntrackMatch>
{
    public ConntrackMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    /// <summary>Whether the field is tested and its test (true = the value was found) fails once inversion is applied.</summary>
    private bool Fails(Field f, bool found) => Module.Has(f) && found == Module.Inverted(f);

    public override Tristate Match(ref XtActionParam p)
    {
        var m = Module;
        ref var ct = ref p.Ct;
        if (m.Has(Field.State))
        {
            var bit = StateMt.StateBit(ct.State);
            if (ct.HasEntry)
            {
                if ((ct.Status & CtStatus.SrcNat) != 0)
                    bit |= HostCtState.Snat;
                if ((ct.Status & CtStatus.DstNat) != 0)
                    bit |= HostCtState.Dnat;
            }
            if (Fails(Field.State, (m.State & bit) != 0))
                return Tristate.False;
        }
        if (!ct.HasEntry)
            return m.Has(Field.State) ? Tristate.True : Tristate.False;

        // The kernel keeps --ctdir REPLY as an inverted DIRECTION flag; the Host model as DirectionReply.
        if (m.Has(Field.Direction) && (ct.Direction == CtDirection.Reply) != m.DirectionReply)
            return Tristate.False;
        if (Fails(Field.OrigSrc, m.OrigSource.Matches(ct.Original.Src))
            || Fails(Field.OrigDst, m.OrigDestination.Matches(ct.Original.Dst))
            || Fails(Field.ReplSrc, m.ReplySource.Matches(ct.Reply.Src))
            || Fails(Field.ReplDst, m.ReplyDestination.Matches(ct.Reply.Dst)))
            return Tristate.False;

        // ct_proto_port_check_v3: ports are src.u.all / dst.u.all of the tuples.
        if (Fails(Field.Proto, ct.Original.Protocol == m.Protocol)
            || Fails(Field.OrigSrcPort, m.OrigSourcePorts.Contains(ct.Original.SrcPort))
            || Fails(Field.OrigDstPort, m.OrigDestinationPorts.Contains(DstAll(ct.Original)))
            || Fails(Field.ReplSrcPort, m.ReplySourcePorts.Contains(ct.Reply.SrcPort))
            || Fails(Field.ReplDstPort, m.ReplyDestinationPorts.Contains(DstAll(ct.Reply))))
            return Tristate.False;
        if (Fails(Field.Status, ((uint)m.Status & (uint)ct.Status) != 0))
            return Tristate.False;
        if (Fails(Field.Expires, m.Expires.Contains(ct.ExpiresSeconds)))
            return Tristate.False;
        return Tristate.True;
    }

    /// <summary>dst.u.all: for ICMP the type and code bytes (in network order), else the port.</summary>
    private static ushort DstAll(in NfConntrackTuple t) =>
        t.Protocol is L4Protocol.Icmp or L4Protocol.Icmpv6 ? (ushort)((t.IcmpType << 8) | t.IcmpCode) : t.DstPort;
}
