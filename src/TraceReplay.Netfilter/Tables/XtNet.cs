using TraceReplay.Capture.Decode;
using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Host.Ipset;

namespace TraceReplay.Netfilter.Tables;

/// <summary>Which branch a rule takes when one of its matches answers unknown (the verdict is marked either way).</summary>
public enum UnknownMatchPolicy : byte
{
    /// <summary>The rule does not match (the default): traversal goes on as if the unknown match said no.</summary>
    NoMatch,

    /// <summary>The rule matches: its target runs.</summary>
    Match,
}

/// <summary>
/// "Is this address local, broadcast, multicast …" as xt_addrtype asks the FIB
/// (inet_dev_addr_type / ip6_route_output). The replay implements it from the host's network model.
/// </summary>
public interface IXtAddrTypeResolver
{
    /// <summary>
    /// The RTN_* types of <paramref name="address"/> as <see cref="AddrType"/> bits (IPv4: exactly one;
    /// IPv6: the bits match_lookup_rt6 would set). <paramref name="device"/> is the device the rule
    /// limits the lookup to (--limit-iface-in/out), else null.
    /// </summary>
    AddrType TypeOf(IpAddr address, bool isV6, string? device);
}

/// <summary>
/// A xorshift64* generator standing in for the kernel's get_random_u32 (statistic --mode random):
/// seeded, so the same inputs give the same outputs, and allocation-free per call.
/// </summary>
public sealed class XtRandom(ulong seed)
{
    private ulong _state = seed == 0 ? 0x9E37_79B9_7F4A_7C15UL : seed;

    public uint NextU32()
    {
        ulong x = _state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        _state = x;
        return (uint)((x * 0x2545_F491_4F6C_DD1DUL) >> 32);
    }
}

/// <summary>
/// The per-network-namespace state x_tables modules share across rules and tables (what the
/// kernel keeps in struct net: xt_recent's and xt_hashlimit's named tables), plus the facts of
/// the simulated kernel every module needs: HZ, the random source, the ipsets, the address types.
/// Compile every table of one host with the same instance.
/// </summary>
public sealed class XtNet
{
    /// <summary>CONFIG_HZ of the simulated kernel: jiffies per second (Debian and RHEL-family kernels: 250 and 1000).</summary>
    public int Hz { get; init; } = 250;

    public UnknownMatchPolicy UnknownPolicy { get; init; } = UnknownMatchPolicy.NoMatch;

    /// <summary>Compile long chains into a classifier (XtClassifier; same results as the plain walk, fewer rules tested). Off: the plain walk only.</summary>
    public bool Classifier { get; init; } = true;

    public XtRandom Random { get; init; } = new(1);

    public IpsetRegistry? Ipsets { get; init; }

    public IXtAddrTypeResolver? AddrTypes { get; init; }

    /// <summary>xt_recent's module parameters ip_list_tot and ip_pkt_list_tot (defaults 200 and 20).</summary>
    public int RecentListTotal { get; init; } = 200;
    public int RecentPacketListTotal { get; init; } = 20;

    internal Dictionary<string, object> Shared { get; } = new(StringComparer.Ordinal);

    /// <summary>jiffies at a capture-clock time: whole ticks of 1/HZ s since the epoch.</summary>
    public long Jiffies(long timeNs) => (long)((Int128)timeNs * Hz / 1_000_000_000);

    /// <summary>A named table shared by every rule that names it (recent lists, hashlimit tables), created on first use.</summary>
    internal T GetShared<T>(string key, Func<T> create)
        where T : class
    {
        if (Shared.TryGetValue(key, out var o) && o is T t)
            return t;
        t = create();
        Shared[key] = t;
        return t;
    }
}
