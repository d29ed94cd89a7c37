using TraceReplay.Host.Network;

namespace TraceReplay.Netfilter.Conntrack;

/// <summary>
/// The net.netfilter.nf_conntrack_* knobs the tracker obeys (struct netns_ct, nf_tcp_net), with the
/// kernel defaults; <see cref="FromSysctls"/> reads them from the snapshot.
/// </summary>
public sealed class NfConntrackSettings
{
    /// <summary>nf_conntrack_max; 0 means no limit, as in the kernel.</summary>
    public long Max { get; init; } = 262144;
    /// <summary>nf_conntrack_buckets (the hash size).</summary>
    public int Buckets { get; init; } = 262144;
    public bool TcpLoose { get; init; } = true;
    public bool TcpBeLiberal { get; init; }
    /// <summary>nf_conntrack_tcp_ignore_invalid_rst (default 0).</summary>
    public bool TcpIgnoreInvalidRst { get; init; }
    public int TcpMaxRetrans { get; init; } = 3;
    public bool Acct { get; init; }
    public NfConntrackTimeouts Timeouts { get; init; } = new();

    public static NfConntrackSettings FromSysctls(Sysctls s)
    {
        ArgumentNullException.ThrowIfNull(s);
        long buckets = s.ConntrackBuckets;
        return new NfConntrackSettings
        {
            Max = Math.Max(0, s.ConntrackMax),
            Buckets = (int)Math.Clamp(buckets, 1, 1 << 26),
            TcpLoose = s.ConntrackTcpLoose,
            TcpBeLiberal = s.ConntrackTcpBeLiberal,
            TcpIgnoreInvalidRst = s.Int("net.netfilter.nf_conntrack_tcp_ignore_invalid_rst", 0) != 0,
            TcpMaxRetrans = (int)Math.Clamp(s.Int("net.netfilter.nf_conntrack_tcp_max_retrans", 3), 0, 255),
            Acct = s.ConntrackAcct,
            Timeouts = NfConntrackTimeouts.FromSysctls(s),
        };
    }
}
