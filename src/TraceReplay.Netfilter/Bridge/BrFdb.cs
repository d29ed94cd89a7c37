using System.Runtime.InteropServices;
using TraceReplay.Capture.Decode;

namespace TraceReplay.Netfilter.Bridge;

/// <summary>
/// One forwarding-database entry (struct net_bridge_fdb_entry): the port the address was last seen
/// on (-1 for the bridge device itself), when it was last updated (jiffies), and whether it is a
/// local address (BR_FDB_LOCAL: the bridge's or a port's own, permanent) or static (never ages).
/// </summary>
public struct BrFdbEntry
{
    public int Port;
    public long Updated;
    public bool IsLocal;
    public bool IsStatic;
}

/// <summary>
/// A bridge's forwarding database (net/bridge/br_fdb.c) without VLAN filtering (every entry on vid 0).
/// <see cref="Update"/> is br_fdb_update (learning from the source MAC of a received frame),
/// <see cref="Find"/> is br_fdb_find_rcu with the ageing the gc work (br_fdb_cleanup) applies: an
/// entry that is neither local nor static has expired once updated + hold_time &lt;= now
/// (has_expired's time_before_eq). Time is jiffies of the capture clock. Lookups and updates of known
/// addresses allocate nothing; learning a new address may grow the table.
/// </summary>
public sealed class BrFdb
{
    private readonly Dictionary<ulong, BrFdbEntry> _entries = [];
    private readonly int _hz;

    /// <param name="ageingTimeSeconds">The bridge's ageing_time (br->ageing_time; 300 s by default); 0 turns learning off ("some users want to always flood").</param>
    /// <param name="hz">CONFIG_HZ of the simulated kernel, so times round to jiffies as the kernel's do.</param>
    public BrFdb(double ageingTimeSeconds = 300, int hz = 250)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ageingTimeSeconds);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hz);
        _hz = hz;
        HoldTime = (long)Math.Round(ageingTimeSeconds * hz);
    }

    /// <summary>hold_time(br) in jiffies: the ageing time (the kernel shortens it to forward_delay during an STP topology change, which is not simulated).</summary>
    public long HoldTime { get; }

    public int Count => _entries.Count;

    private long Jiffies(long timeNs) => (long)((Int128)timeNs * _hz / 1_000_000_000);

    /// <summary>br_fdb_add_local / fdb_add_local: a permanent local entry (the bridge's own address with port -1, or a port's address).</summary>
    public void AddLocal(MacAddr mac, int port) =>
        _entries[mac.Value] = new BrFdbEntry { Port = port, IsLocal = true, IsStatic = true };

    /// <summary>A static entry (`bridge fdb add … static`): never ages, never moves.</summary>
    public void AddStatic(MacAddr mac, int port) =>
        _entries[mac.Value] = new BrFdbEntry { Port = port, IsStatic = true };

    /// <summary>
    /// br_fdb_update: learns <paramref name="mac"/> on <paramref name="port"/> — a new entry, or the
    /// existing one refreshed and moved to this port (a station that moved). A local entry is never
    /// overwritten ("received packet on … with own address as source address"); a static one is not moved.
    /// An expired entry still in the table is refreshed as the kernel's is when the gc has not run yet.
    /// </summary>
    /// <returns>True when the entry was created or moved to another port.</returns>
    public bool Update(int port, MacAddr mac, long timeNs)
    {
        if (HoldTime == 0)
            return false;
        long now = Jiffies(timeNs);
        ref var e = ref CollectionsMarshal.GetValueRefOrAddDefault(_entries, mac.Value, out bool exists);
        if (!exists)
        {
            e = new BrFdbEntry { Port = port, Updated = now };
            return true;
        }
        if (e.IsLocal)
            return false;
        if (Expired(in e, now))
        {
            // br_fdb_cleanup would have deleted it; the next frame then creates a fresh entry.
            e = new BrFdbEntry { Port = port, Updated = now };
            return true;
        }
        e.Updated = now;
        if (e.Port != port && !e.IsStatic)
        {
            e.Port = port;
            return true;
        }
        return false;
    }

    /// <summary>br_fdb_find_rcu for the forwarding decision: the live entry of <paramref name="mac"/>, if any.</summary>
    public bool Find(MacAddr mac, long timeNs, out BrFdbEntry entry)
    {
        if (_entries.TryGetValue(mac.Value, out entry) && !Expired(in entry, Jiffies(timeNs)))
            return true;
        entry = default;
        return false;
    }

    /// <summary>br_fdb_cleanup: removes every expired entry; returns how many.</summary>
    public int Cleanup(long timeNs)
    {
        long now = Jiffies(timeNs);
        int removed = 0;
        foreach (var (mac, e) in _entries)
        {
            if (Expired(in e, now))
            {
                _entries.Remove(mac);
                removed++;
            }
        }
        return removed;
    }

    /// <summary>Every entry, as `bridge fdb show` lists them (for reports and tests).</summary>
    public IEnumerable<(MacAddr Mac, BrFdbEntry Entry)> Entries() => _entries.Select(kv => (new MacAddr(kv.Key), kv.Value));

    private bool Expired(in BrFdbEntry e, long now) => !e.IsStatic && !e.IsLocal && e.Updated + HoldTime <= now;
}
