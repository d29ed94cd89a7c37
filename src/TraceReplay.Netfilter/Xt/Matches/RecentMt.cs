using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m recent` (net/netfilter/xt_recent.c recent_mt): named address lists shared by every rule
/// that names them, each entry remembering the jiffies of its last packets (a ring of
/// roundup_pow_of_two(max(ip_pkt_list_tot, hitcount)) stamps) and its TTL; at most ip_list_tot
/// entries, the least recently updated dropped first. --set/--remove/--rcheck/--update with
/// --seconds, --hitcount, --rttl and --reap as the kernel evaluates them, on the capture clock.
/// </summary>
public sealed class RecentMt : XtMatchEvaluator<RecentMatch>
{
    private readonly XtNet _net;
    private readonly RecentTable _table;

    public RecentMt(RecentMatch m, XtCompileContext c)
    {
        Module = m;
        _net = c.Net;
        _table = _net.GetShared("recent:" + m.ListName, () => new RecentTable(_net, m));
    }

    public RecentMatch Module { get; }

    public override bool HasState => true;
    public override bool DependsOnClockOrRandom => true;

    /// <summary>The number of addresses on the list.</summary>
    public int Count => _table.Entries.Count;

    public override Tristate Match(ref XtActionParam p)
    {
        var m = Module;
        ref var d = ref p.Packet;
        var addr = m.ByDestination ? d.Dst : d.Src;
        addr = new IpAddr(addr.Hi & m.Mask.Hi, addr.Lo & m.Mask.Lo);
        byte ttl = d.Ttl;

        // "use TTL as seen before forwarding"
        if (p.OutDev is not null && !p.HasSocket)
            ttl++;
        long now = _net.Jiffies(p.TimeNs);
        bool ret = m.Invert;
        var e = _table.Lookup(addr, p.IsV6, m.Rttl ? ttl : (byte)0);
        if (e is null)
        {
            if (m.Command != RecentCommand.Set)
                return ret ? Tristate.True : Tristate.False;
            _table.Init(addr, p.IsV6, ttl, now);
            return !ret ? Tristate.True : Tristate.False;
        }

        switch (m.Command)
        {
            case RecentCommand.Set:
                ret = !ret;
                break;
            case RecentCommand.Remove:
                _table.Remove(e);
                return !ret ? Tristate.True : Tristate.False;
            default:
            {
                long time = now - ((long)m.Seconds * _net.Hz);
                uint hits = 0;
                for (int i = 0; i < e.NStamps; i++)
                {
                    if (m.Seconds != 0 && time > e.Stamps[i])
                        continue;
                    if (m.HitCount == 0 || ++hits >= m.HitCount)
                    {
                        ret = !ret;
                        break;
                    }
                }
                if (m.Reap)
                    _table.Reap(time, e);
                break;
            }
        }

        if (m.Command == RecentCommand.Set || (m.Command == RecentCommand.Update && ret))
        {
            _table.Update(e, now);
            e.Ttl = ttl;
        }
        return ret ? Tristate.True : Tristate.False;
    }

    private sealed class RecentEntry(IpAddr addr, bool v6, int stamps)
    {
        public readonly IpAddr Addr = addr;
        public readonly bool V6 = v6;
        public readonly long[] Stamps = new long[stamps];
        public byte Ttl;
        public int NStamps;
        public int Index;
        public LinkedListNode<RecentEntry>? Lru;
    }

    /// <summary>struct recent_table: entries by address and the LRU list recent_entry_init evicts from.</summary>
    private sealed class RecentTable
    {
        private readonly XtNet _net;
        private readonly int _maxMask;
        public readonly Dictionary<(IpAddr, bool), RecentEntry> Entries = [];
        private readonly LinkedList<RecentEntry> _lru = new();

        public RecentTable(XtNet net, RecentMatch first)
        {
            _net = net;
            int n = Math.Max(net.RecentPacketListTotal, (int)first.HitCount);
            _maxMask = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)n) - 1;
        }

        public RecentEntry? Lookup(IpAddr a, bool v6, byte ttl)
        {
            if (!Entries.TryGetValue((a, v6), out var e))
                return null;
            return ttl == 0 || e.Ttl == 0 || e.Ttl == ttl ? e : null;
        }

        public void Init(IpAddr a, bool v6, byte ttl, long now)
        {
            if (Entries.Count >= _net.RecentListTotal && _lru.First is { } oldest)
                Remove(oldest.Value);
            var e = new RecentEntry(a, v6, _maxMask + 1) { Ttl = ttl, NStamps = 1, Index = 1 };
            e.Stamps[0] = now;
            e.Lru = _lru.AddLast(e);
            Entries[(a, v6)] = e;
        }

        public void Remove(RecentEntry e)
        {
            Entries.Remove((e.Addr, e.V6));
            if (e.Lru is not null)
                _lru.Remove(e.Lru);
        }

        /// <summary>recent_entry_update: the next stamp in the ring, and to the tail of the LRU list.</summary>
        public void Update(RecentEntry e, long now)
        {
            e.Index &= _maxMask;
            e.Stamps[e.Index++] = now;
            if (e.Index > e.NStamps)
                e.NStamps = e.Index;
            if (e.Lru is not null)
            {
                _lru.Remove(e.Lru);
                _lru.AddLast(e.Lru);
            }
        }

        /// <summary>recent_entry_reap: drop the least recently updated entry (not the working one) if its last stamp is older than the window.</summary>
        public void Reap(long time, RecentEntry working)
        {
            if (_lru.First is not { } first || first.Value == working)
                return;
            var e = first.Value;
            if (time > e.Stamps[(e.Index - 1) & _maxMask])
                Remove(e);
        }
    }
}
