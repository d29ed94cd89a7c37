using System.Runtime.InteropServices;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m hashlimit` (net/netfilter/xt_hashlimit.c hashlimit_mt_common, revision 2+): a token bucket
/// per key (the masked addresses and ports the mode names) in a table shared by every rule with the
/// same --hashlimit-name, as htable_find_get shares it. Kernel arithmetic: u64 credits,
/// CREDITS_PER_JIFFY = POW2_BELOW64(2^64−1 / (HZ·86400)), user2credits with XT_HASHLIMIT_SCALE_v2;
/// a bucket starts full (rateinfo_init) and refills by delta·CREDITS_PER_JIFFY up to its cap
/// (rateinfo_recalc). Entries expire --hashlimit-htable-expire ms after their last packet and are
/// collected every --hashlimit-htable-gcinterval ms from the table's first packet; --hashlimit-htable-max
/// full hotdrops. Byte mode and --hashlimit-rate-match are not simulated yet: unknown.
/// </summary>
public sealed class HashlimitMt : XtMatchEvaluator<HashlimitMatch>
{
    private readonly XtNet _net;
    private readonly Table _table;
    private readonly bool _unsupported;
    private readonly IpAddr _srcMask, _dstMask;

    public HashlimitMt(HashlimitMatch m, XtCompileContext c)
    {
        Module = m;
        _net = c.Net;
        bool v6 = c.Family == IptFamily.IPv6;
        _unsupported = (m.Mode & (HashlimitMode.Bytes | HashlimitMode.RateMatch)) != 0;
        _srcMask = Mask(m.SourceMask, v6);
        _dstMask = Mask(m.DestinationMask, v6);
        CreditsPerJiffy = CreditsPerJiffyFor(_net.Hz);
        _table = _net.GetShared("hashlimit:" + c.Family + ":" + m.TableName, () => new Table(m, _net));
        Cost = User2Credits(m.Average, CreditsPerJiffy, _net.Hz);
        Cap = User2Credits(m.Average * m.Burst, CreditsPerJiffy, _net.Hz);
    }

    public HashlimitMatch Module { get; }
    public ulong CreditsPerJiffy { get; }

    /// <summary>rateinfo.cost = user2credits(avg).</summary>
    public ulong Cost { get; }

    /// <summary>rateinfo.credit_cap = user2credits(avg * burst): a new bucket's credit.</summary>
    public ulong Cap { get; }

    public override bool HasState => true;
    public override bool DependsOnClockOrRandom => true;

    /// <summary>The number of live buckets in the shared table.</summary>
    public int Count => _table.Buckets.Count;

    public static ulong CreditsPerJiffyFor(int hz)
    {
        ulong maxCpj = ulong.MaxValue / (ulong)(hz * 60L * 60 * 24);
        return 1UL << (63 - System.Numerics.BitOperations.LeadingZeroCount(maxCpj));
    }

    /// <summary>user2credits for revision 2+: divide the constant operands first to avoid overflow.</summary>
    public static ulong User2Credits(ulong user, ulong cpj, int hz)
    {
        ulong scale = HashlimitMatch.Scale;
        ulong hzCpj = (ulong)hz * cpj;
        if (scale >= hzCpj)
            return user / (scale / hzCpj);
        return unchecked(user * (hzCpj / scale));
    }

    private static IpAddr Mask(byte prefix, bool v6)
    {
        if (!v6)
            return IpAddr.FromV4(prefix == 0 ? 0 : uint.MaxValue << (32 - Math.Min((int)prefix, 32)));
        UInt128 m = prefix == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - Math.Min((int)prefix, 128));
        return new IpAddr((ulong)(m >> 64), (ulong)m);
    }

    public override Tristate Match(ref XtActionParam p)
    {
        if (_unsupported)
            return Tristate.Unknown;
        ref var d = ref p.Packet;
        var mode = Module.Mode;

        // hashlimit_init_dst
        var key = default(Key);
        if ((mode & HashlimitMode.DestinationIp) != 0)
            key.Dst = new IpAddr(d.Dst.Hi & _dstMask.Hi, d.Dst.Lo & _dstMask.Lo);
        if ((mode & HashlimitMode.SourceIp) != 0)
            key.Src = new IpAddr(d.Src.Hi & _srcMask.Hi, d.Src.Lo & _srcMask.Lo);
        if ((mode & (HashlimitMode.SourcePort | HashlimitMode.DestinationPort)) != 0)
        {
            ushort sp = 0, dp = 0;
            switch (d.Protocol)
            {
                case L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.UdpLite or L4Protocol.Sctp or 33:
                    if (!d.HasTransport)
                        return p.MissingTransport();
                    sp = d.SrcPort;
                    dp = d.DstPort;
                    break;
                case L4Protocol.Esp or L4Protocol.Ah:
                    if (!d.HasTransport)
                        return p.MissingTransport();
                    sp = (ushort)(d.Spi >> 16);
                    dp = (ushort)d.Spi;
                    break;
            }
            if ((mode & HashlimitMode.SourcePort) != 0)
                key.SrcPort = sp;
            if ((mode & HashlimitMode.DestinationPort) != 0)
                key.DstPort = dp;
        }

        long now = _net.Jiffies(p.TimeNs);
        _table.Collect(now);
        ref var b = ref CollectionsMarshal.GetValueRefOrNullRef(_table.Buckets, key);
        if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref b))
        {
            if (_table.Buckets.Count >= _table.Max)
            {
                p.HotDrop = true; // dsthash_alloc_init: "max count of %u reached"
                return Tristate.False;
            }
            b = ref CollectionsMarshal.GetValueRefOrAddDefault(_table.Buckets, key, out _);
            b.Prev = now;
            b.Credit = Cap;
            b.CreditCap = Cap;
            b.Cost = Cost;
        }
        else
        {
            // rateinfo_recalc
            long delta = now - b.Prev;
            if (delta != 0)
            {
                b.Prev = now;
                b.Credit = unchecked(b.Credit + ((ulong)delta * CreditsPerJiffy));
                if (b.Credit > b.CreditCap)
                    b.Credit = b.CreditCap;
            }
        }
        b.Expires = now + _table.ExpireJiffies;

        bool above = (mode & HashlimitMode.Invert) != 0;
        if (b.Credit >= b.Cost)
        {
            b.Credit -= b.Cost;
            return above ? Tristate.False : Tristate.True;
        }
        return above ? Tristate.True : Tristate.False;
    }

    private struct Key : IEquatable<Key>
    {
        public IpAddr Src, Dst;
        public ushort SrcPort, DstPort;

        public readonly bool Equals(Key o) => Src == o.Src && Dst == o.Dst && SrcPort == o.SrcPort && DstPort == o.DstPort;

        public override readonly bool Equals(object? obj) => obj is Key k && Equals(k);

        public override readonly int GetHashCode() => HashCode.Combine(Src, Dst, SrcPort, DstPort);
    }

    private struct Bucket
    {
        public ulong Credit, CreditCap, Cost;
        public long Prev, Expires;
    }

    /// <summary>struct xt_hashlimit_htable: the buckets and the gc schedule.</summary>
    private sealed class Table(HashlimitMatch first, XtNet net)
    {
        public readonly Dictionary<Key, Bucket> Buckets = [];

        // htable_create: size defaults to 8192 on a host with more than 1 GiB, max to 8 × size.
        public readonly int Max = (int)(first.Max != 0 ? Math.Max(first.Max, first.Size != 0 ? first.Size : 8192) : 8 * (first.Size != 0 ? first.Size : 8192));
        public readonly long ExpireJiffies = MsecsToJiffies(first.Expire != 0 ? first.Expire : 10000, net.Hz);
        private readonly long _gcJiffies = Math.Max(1, MsecsToJiffies(first.GcInterval != 0 ? first.GcInterval : 1000, net.Hz));
        private long _nextGc = long.MinValue;

        private static long MsecsToJiffies(uint ms, int hz) => ((long)ms * hz + 999) / 1000;

        /// <summary>htable_gc: every gc interval, drop the buckets whose time has passed (time_after_eq(jiffies, expires)).</summary>
        public void Collect(long now)
        {
            if (_nextGc == long.MinValue)
                _nextGc = now + _gcJiffies;
            if (now < _nextGc)
                return;
            long at = _nextGc + ((now - _nextGc) / _gcJiffies * _gcJiffies);
            foreach (var (k, b) in Buckets)
            {
                if (at >= b.Expires)
                    Buckets.Remove(k);
            }
            _nextGc = at + _gcJiffies;
        }
    }
}
