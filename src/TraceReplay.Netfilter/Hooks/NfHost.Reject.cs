using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Targets;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;
using TraceReplay.Netfilter.Reject;
using TraceReplay.Netfilter.Routing;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Hooks;

/// <summary>
/// REJECT's reply (ipt_REJECT.c reject_tg / ip6t_REJECT.c reject_tg6): the TCP RST of
/// nf_send_reset / nf_send_reset6 or the ICMP error of nf_send_unreach → __icmp_send /
/// nf_send_unreach6 → icmp6_send, built and sent while the rejected packet still exists (its
/// unconfirmed conntrack entry included), as the kernel does from inside the hook.
/// <para>
/// The reply is attached to the rejected packet's entry (nf_ct_attach: RELATED, in the other
/// direction) so conntrack at OUTPUT leaves it alone, __nf_conntrack_confirm lets a reply-direction
/// packet pass without confirming, and the NAT hooks undo the rejected packet's DNAT on it. It goes
/// through ip_local_out (raw, mangle, nat, filter, security OUTPUT, then POSTROUTING, counted) —
/// except a RST to a packet that crossed a bridge: nf_send_reset sends it with dev_queue_xmit out of
/// the bridge port it came in by (nf_bridge_get_physindev), past every hook, as the 6.18 kernel the
/// bundled dataset was recorded on does (the ICMP error of a bridged packet still goes through
/// icmp_send and OUTPUT).
/// </para>
/// <para>
/// What cannot be known offline: the IPv4 id of an ICMP error (ip_select_ident hashes with a boot-time
/// key; 0 is written) and the IPv6 flow label of an ICMPv6 error (the auto flow label is a keyed
/// hash; 0 is written). icmp_global_allow spends a random 0–2 credits per message: drawn from a
/// generator seeded like the host's, and a reply refused by it says it depends on chance.
/// </para>
/// </summary>
public sealed partial class NfHost
{
    /// <summary>INADDR_DUMMY (192.0.0.8): __icmp_send's source when routing found none.</summary>
    private const uint InaddrDummy = 0xC000_0008;

    private NfGeneratedPacket? _generated;

    // nf_ct_attach: the generated packet carries the rejected packet's entry; nf_conntrack_in skips it.
    private bool _ctAttached;

    // nf_send_reset routes its RST with ip_route_me_harder, which allows a source that is not local (FLOWI_FLAG_ANYSRC).
    private bool _replyAnySrc;

    private readonly Dictionary<IpAddr, IcmpPeer> _icmpPeers = [];
    private readonly Dictionary<string, byte> _hopLimits = new(StringComparer.Ordinal);
    private UInt128? _icmp6RateMask;
    private long _icmpCredit = -1;
    private long _icmpStamp;
    private XtRandom? _icmpRandom;

    /// <summary>struct inet_peer's rate_tokens / rate_last (inet_peer_xrlim_allow), in jiffies.</summary>
    private struct IcmpPeer
    {
        public long Tokens;
        public long Last;
    }

    /// <summary>Seeds the generator of icmp_global_allow's random credit (called by the constructor).</summary>
    private void InitReject(ulong seed) => _icmpRandom = new XtRandom(seed ^ 0x6963_6d70_676c_6f62UL);

    /// <summary>Builds and sends REJECT's reply to the packet <paramref name="p"/> describes, which <paramref name="r"/> says was rejected.</summary>
    private void SendReject(Span<byte> frame, ref XtActionParam p, ref NfHookResult r)
    {
        r.Generated = null;
        var with = r.Reject.With;
        var gen = _generated ??= new NfGeneratedPacket();
        gen.FromTruncatedFrame = p.Packet.IsTruncated;
        gen.TimeNs = p.TimeNs;
        gen.ViaBridgePort = false;
        gen.By = NfGeneratedBy.Reject;
        bool v6 = p.IsV6;
        var sysctls = Network.Sysctls;
        uint mark = sysctls.Int(v6 ? "net.ipv6.fwmark_reflect" : "net.ipv4.fwmark_reflect", 0) != 0 ? p.Mark : 0;
        bool routeBcast = r.Route.Type is RouteType.Broadcast or RouteType.Multicast;
        int l3 = p.Packet.L3Offset;
        var datagram = l3 < frame.Length ? (ReadOnlySpan<byte>)frame[l3..Math.Min(frame.Length, l3 + p.Packet.IpTotalLength)] : [];

        if (with == RejectWith.TcpReset)
        {
            bool ok = v6 ? NfRejectIpv6.CanReset(p.Packet) : NfRejectIpv4.CanReset(p.Packet) && !routeBcast;
            if (!ok)
            {
                r.RejectOutcome = NfRejectOutcome.NotEligible;
                return;
            }
            var route = Router.RouteMeHarder(new RouteKey
            {
                Src = p.Packet.Dst, Dst = p.Packet.Src, IsV6 = v6, Protocol = L4Protocol.Tcp, Mark = mark,
            });
            if (route.IsDrop)
            {
                r.RejectOutcome = NfRejectOutcome.NoRoute;
                return;
            }
            if (v6)
                NfRejectIpv6.BuildReset(p.Packet, HopLimit6(route.OutDev), gen.Buffer(NfRejectIpv6.ResetLength));
            else
                NfRejectIpv4.BuildReset(p.Packet, (byte)sysctls.Int("net.ipv4.ip_default_ttl", 64), gen.Buffer(NfRejectIpv4.ResetLength));
            if (p.Bridged && p.PhysInDev is { } port)
            {
                gen.Decode();
                SentOutOfPort(gen, port);
            }
            else
            {
                Emit(gen, ref p, hasSocket: false, mark, anySrc: true);
            }
            r.RejectOutcome = NfRejectOutcome.Sent;
            r.RejectViaOutput = !gen.ViaBridgePort;
            r.Generated = gen;
            return;
        }

        // nf_send_unreach / nf_send_unreach6 → __icmp_send / icmp6_send.
        bool eligible = v6
            ? NfRejectIpv6.CanUnreach(p.Packet)
            : NfRejectIpv4.CanUnreach(p.Packet, p.PktType == 5 && p.InDev == "lo" ? (byte)0 : p.PktType, routeBcast);
        if (!eligible)
        {
            r.RejectOutcome = NfRejectOutcome.NotEligible;
            return;
        }
        bool fromLoopback = p.InDev is { } indev && Network.Device(indev)?.Kind == "loopback" || p.InDev == "lo";
        IpAddr src;
        RouteResult back;
        if (!v6)
        {
            // __icmp_send: the original's destination when it was addressed to this host (RTCF_LOCAL);
            // else, for a received packet with icmp_errors_use_inbound_ifaddr, the input device's
            // address; else none, and the route back picks one.
            uint saddr = 0;
            if (r.Route.Verdict == RouteVerdict.Local)
                saddr = p.Packet.Dst.V4;
            else if ((r.Path & NfPath.RouteInput) != 0 && p.InDev is { } inDev && sysctls.Int("net.ipv4.icmp_errors_use_inbound_ifaddr", 0) != 0)
                saddr = Router.SelectSourceAddress(inDev, p.Packet.Src, RtScope.Link)?.V4 ?? 0;
            byte tos = (byte)((p.Packet.Tos & 0x1E) | 0xC0);
            back = Router.RouteOutput(new RouteKey
            {
                Src = IpAddr.FromV4(saddr), Dst = p.Packet.Src, Tos = (byte)(tos & 0x1E), Protocol = L4Protocol.Icmp, Mark = mark,
            });
            if (back.IsDrop)
            {
                r.RejectOutcome = NfRejectOutcome.NoRoute;
                return;
            }
            src = saddr != 0 ? IpAddr.FromV4(saddr) : back.PrefSrc ?? IpAddr.FromV4(InaddrDummy);
        }
        else
        {
            // icmp6_send: the original's destination when it is one of this host's addresses; else the route's source.
            bool local = Network.IsLocalAddress(p.Packet.Dst);
            back = Router.RouteOutput(new RouteKey
            {
                Src = local ? p.Packet.Dst : default, Dst = p.Packet.Src, IsV6 = true, Protocol = L4Protocol.Icmpv6, Mark = mark,
            });
            if (back.IsDrop)
            {
                r.RejectOutcome = NfRejectOutcome.NoRoute;
                return;
            }
            src = local ? p.Packet.Dst : back.PrefSrc ?? SelectSourceV6(back.OutDev, p.Packet.Src) ?? default;
        }

        byte type = v6 ? NfRejectIpv6.Icmp6DestUnreach : NfRejectIpv4.IcmpDestUnreach;
        byte code = v6 ? NfRejectIpv6.IcmpCode(with) : NfRejectIpv4.IcmpCode(with);
        if (!IcmpAllowed(v6, type, code, fromLoopback, p.Packet.Src, back, p.TimeNs, ref r))
        {
            r.RejectOutcome = NfRejectOutcome.RateLimited;
            return;
        }
        if (v6)
        {
            int n = 48 + Math.Min(datagram.Length, NfRejectIpv6.MaxQuoted);
            NfRejectIpv6.BuildUnreach(p.Packet, datagram, type, code, src, HopLimit6(back.OutDev), gen.Buffer(n));
        }
        else
        {
            int mtu = back.OutDev is { } od && Network.Device(od) is { Mtu: > 0 } dev ? dev.Mtu : 1500;
            int n = 28 + Math.Min(datagram.Length, Math.Min(mtu, NfRejectIpv4.MaxErrorLength) - 28);
            NfRejectIpv4.BuildUnreach(p.Packet, datagram, type, code, src.V4, (byte)sysctls.Int("net.ipv4.ip_default_ttl", 64), 0, mtu, gen.Buffer(n));
        }
        Emit(gen, ref p, hasSocket: true, mark, anySrc: false);
        r.RejectViaOutput = true;
        r.RejectOutcome = NfRejectOutcome.Sent;
        r.Generated = gen;
    }

    /// <summary>
    /// ipv6_dev_get_saddr, the rules that decide on a plain host (RFC 6724): a usable address (not
    /// tentative, DAD-failed) of the destination's scope, preferring the output device (rule 5), then
    /// not deprecated (rule 3), then the longest prefix shared with the destination (rule 8); other
    /// devices' addresses when the output device has none.
    /// </summary>
    private IpAddr? SelectSourceV6(string? outDev, IpAddr dst)
    {
        var scope = (dst.Hi >> 54) == (0xFE80UL >> 6) ? RtScope.Link : RtScope.Universe;
        IfAddress? best = null;
        (int, int, int) bestKey = default;
        foreach (var dev in Network.Devices)
        {
            foreach (var a in dev.Addresses)
            {
                if (!a.IsV6 || a.Scope != scope || (a.Flags & (IfaFlags.Tentative | IfaFlags.DadFailed)) != 0)
                    continue;
                var key = (a.Dev == outDev ? 1 : 0, (a.Flags & IfaFlags.Deprecated) == 0 ? 1 : 0, CommonPrefix(a.Local, dst));
                if (best is null || key.CompareTo(bestKey) > 0)
                    (best, bestKey) = (a, key);
            }
        }
        return best?.Local;

        static int CommonPrefix(IpAddr a, IpAddr b)
        {
            ulong hi = a.Hi ^ b.Hi;
            return hi != 0 ? System.Numerics.BitOperations.LeadingZeroCount(hi) : 64 + System.Numerics.BitOperations.LeadingZeroCount(a.Lo ^ b.Lo);
        }
    }

    /// <summary>ip6_dst_hoplimit without a hoplimit metric: the output device's hop_limit (idev->cnf), else conf.all's.</summary>
    private byte HopLimit6(string? dev)
    {
        dev ??= string.Empty;
        if (_hopLimits.TryGetValue(dev, out byte h))
            return h;
        long all = Network.Sysctls.Int("net.ipv6.conf.all.hop_limit", 64);
        h = (byte)(dev.Length == 0 ? all : Network.Sysctls.Int(Sysctls.ConfKey("ipv6", dev, "hop_limit"), Network.Sysctls.Int("net.ipv6.conf.default.hop_limit", all)));
        _hopLimits[dev] = h;
        return h;
    }

    /// <summary>The bridged RST: dev_queue_xmit on the port, no hook, no route.</summary>
    private static void SentOutOfPort(NfGeneratedPacket gen, string port)
    {
        gen.ViaBridgePort = true;
        gen.OutDev = port;
        gen.Result = new NfHookResult
        {
            Fate = NfFate.Sent,
            OutDev = port,
            DropEntry = -1,
            CtEntry = -1,
            CtState = CtState.Untracked,
            Reject = new XtRejectRecord(default, -1),
            TupleBefore = TupleOf(gen.Packet),
            TupleAfter = TupleOf(gen.Packet),
        };
    }

    /// <summary>ip_local_out / ip6_local_out for the generated packet, attached to the rejected packet's entry.</summary>
    private void Emit(NfGeneratedPacket gen, ref XtActionParam old, bool hasSocket, uint mark, bool anySrc)
    {
        gen.Decode();
        var saved = _ctinfo;
        var gr = Begin(ref gen.Packet);
        var gp = new XtActionParam(ref gen.Packet, gen.Writable, NfInetHook.LocalOut)
        {
            HasSocket = hasSocket,
            TimeNs = old.TimeNs,
            Mark = mark,
            LogSink = old.LogSink,
        };
        if (saved.HasEntry && saved.State is CtState.New or CtState.Established or CtState.Related)
        {
            var dir = saved.Direction == CtDirection.Original ? CtDirection.Reply : CtDirection.Original;
            _ctinfo = new CtInfo(saved.Entry, CtState.Related, dir, CtVerdict.Accept, CtReason.None);
            _ctAttached = true;
        }
        else
        {
            _ctinfo = CtInfo.Untracked;
        }
        _replyAnySrc = anySrc;
        try
        {
            OutputPath(gen.Writable, ref gp, ref gr, null, null);
        }
        finally
        {
            _ctAttached = false;
            _replyAnySrc = false;
        }
        gr.TupleAfter = TupleOf(gp.Packet);
        gr.CtState = _ctinfo.State;
        gr.CtDirection = _ctinfo.Direction;
        if (_ctinfo.HasEntry)
        {
            if (Conntrack[_ctinfo.Entry].IsConfirmed)
                gr.CtEntry = _ctinfo.Entry;
            else if (_ctinfo.Entry != saved.Entry)
            {
                Nat.Abort(_ctinfo.Entry, gp.TimeNs);
                Conntrack.Abort(_ctinfo.Entry);
            }
        }
        _ctinfo = saved;
        gen.Result = gr;
        gen.OutDev = gr.OutDev;
    }

    /// <summary>
    /// icmpv4_global_allow + icmpv4_xrlim_allow (icmpv6_global_allow + icmpv6_xrlim_allow): types
    /// outside icmp_ratemask are never limited; otherwise the host-wide bucket (icmp_msgs_per_sec,
    /// icmp_msgs_burst; not for packets that came in on loopback) and the per-destination bucket of
    /// inet_peer (icmp_ratelimit jiffies per message, a burst of 6; none when the reply leaves by
    /// loopback; IPv6 scales it down for shorter route prefixes) must both allow it. Times are the
    /// capture clock in jiffies.
    /// </summary>
    private bool IcmpAllowed(bool v6, byte type, byte code, bool fromLoopback, IpAddr peer, in RouteResult back, long timeNs, ref NfHookResult r)
    {
        var s = Network.Sysctls;
        if (!RateMasked(v6, type, code))
            return true;
        long now = timeNs / 1_000_000_000 * Net.Hz + timeNs % 1_000_000_000 * Net.Hz / 1_000_000_000;
        if (!fromLoopback && !GlobalAllow(now, s))
        {
            r.DependsOnClockOrRandom = true;
            return false;
        }
        if (back.Verdict == RouteVerdict.Local)
            return true;
        long ms = v6 ? s.Int("net.ipv6.icmp.ratelimit", 1000) : s.Int("net.ipv4.icmp_ratelimit", 1000);
        long timeout = ms * Net.Hz / 1000;
        if (v6 && back.Route is { } route && route.Dst.PrefixLength is >= 0 and < 128)
            timeout >>= (128 - route.Dst.PrefixLength) >> 5;

        // inet_peer_xrlim_allow; a new peer starts with rate_last 60 s back, so with a full burst.
        if (!_icmpPeers.TryGetValue(peer, out var b))
            b = new IcmpPeer { Tokens = 0, Last = now - 60L * Net.Hz };
        long token = b.Tokens + (now - b.Last);
        b.Last = now;
        if (token > 6 * timeout)
            token = 6 * timeout;
        bool ok = token >= timeout;
        if (ok)
            token -= timeout;
        b.Tokens = token;
        if (_icmpPeers.Count >= 65536 && !_icmpPeers.ContainsKey(peer))
            SweepPeers(now, timeout);
        _icmpPeers[peer] = b;
        if (!ok)
            r.DependsOnClockOrRandom = true;
        return ok;
    }

    /// <summary>The inet_peer cache forgets idle peers (inet_peer_gc); one idle for a full burst behaves as new.</summary>
    private void SweepPeers(long now, long timeout)
    {
        foreach (var (k, v) in _icmpPeers)
        {
            if (now - v.Last + v.Tokens >= 6 * timeout)
                _icmpPeers.Remove(k);
        }
    }

    /// <summary>icmpv4_mask_allow / icmpv6_mask_allow inverted: whether the type is rate limited at all.</summary>
    private bool RateMasked(bool v6, byte type, byte code)
    {
        if (!v6)
        {
            if (type > 18 || (type == 3 && code == 4))
                return false;
            return ((1L << type) & Network.Sysctls.Int("net.ipv4.icmp_ratemask", 6168)) != 0;
        }
        if (type > 127)
            return false;
        _icmp6RateMask ??= ParseRateMask(Network.Sysctls["net.ipv6.icmp.ratemask"] ?? "0-1,3-127");
        return ((_icmp6RateMask.Value >> type) & 1) != 0;

        // net.ipv6.icmp.ratemask is a bitmap printed as ranges (proc_do_large_bitmap): "0-1,3-127".
        static UInt128 ParseRateMask(string text)
        {
            UInt128 mask = 0;
            foreach (var part in text.Split(','))
            {
                var ends = part.Trim().Split('-');
                if (int.TryParse(ends[0], out int lo) && int.TryParse(ends[^1], out int hi))
                {
                    for (int t = Math.Max(lo, 0); t <= Math.Min(hi, 127); t++)
                        mask |= (UInt128)1 << t;
                }
            }
            return mask;
        }
    }

    /// <summary>icmp_global_allow: a token bucket of icmp_msgs_per_sec refilled at most every HZ/50, capped at icmp_msgs_burst, spending 0–2 (random) per message.</summary>
    private bool GlobalAllow(long now, Sysctls s)
    {
        long burst = s.Int("net.ipv4.icmp_msgs_burst", 50), perSec = s.Int("net.ipv4.icmp_msgs_per_sec", 1000);
        if (_icmpCredit < 0)
        {
            _icmpCredit = burst;
            _icmpStamp = now;
        }
        long delta = Math.Min(now - _icmpStamp, Net.Hz);
        long incr = 0;
        if (delta >= Net.Hz / 50)
        {
            incr = perSec * delta / Net.Hz;
            if (incr > 0)
                _icmpStamp = now;
        }
        long credit = Math.Min(_icmpCredit + incr, burst);
        bool ok = credit > 0;
        if (ok)
            credit = Math.Max(credit - (_icmpRandom ??= new XtRandom(1)).NextU32() % 3, 0);
        _icmpCredit = credit;
        return ok;
    }
}
