using TraceReplay.Host.Network;

namespace TraceReplay.Netfilter.Conntrack;

/// <summary>
/// The per-protocol timeouts (struct nf_tcp_net / nf_udp_net / nf_icmp_net / nf_generic_net timeouts[]),
/// in nanoseconds of capture time, read from the snapshot's sysctls with the kernel defaults.
/// </summary>
public sealed class NfConntrackTimeouts
{
    private const long Second = 1_000_000_000L;

    /// <summary>Indexed by <see cref="TcpConntrack"/> (tcp_timeouts[TCP_CONNTRACK_TIMEOUT_MAX]).</summary>
    public long[] Tcp { get; } = new long[(int)TcpConntrack.Unack + 1];
    public long UdpUnreplied { get; init; } = 30 * Second;
    public long UdpReplied { get; init; } = 120 * Second;
    public long Icmp { get; init; } = 30 * Second;
    public long Icmpv6 { get; init; } = 30 * Second;
    public long Generic { get; init; } = 600 * Second;
    public long GreUnreplied { get; init; } = 30 * Second;
    public long GreReplied { get; init; } = 180 * Second;

    public NfConntrackTimeouts() : this(Sysctls.Empty)
    {
    }

    private NfConntrackTimeouts(Sysctls s)
    {
        long T(string name) => s.ConntrackTimeout(name) * Second;
        Tcp[(int)TcpConntrack.None] = 0;
        Tcp[(int)TcpConntrack.SynSent] = T("tcp_timeout_syn_sent");
        Tcp[(int)TcpConntrack.SynRecv] = T("tcp_timeout_syn_recv");
        Tcp[(int)TcpConntrack.Established] = T("tcp_timeout_established");
        Tcp[(int)TcpConntrack.FinWait] = T("tcp_timeout_fin_wait");
        Tcp[(int)TcpConntrack.CloseWait] = T("tcp_timeout_close_wait");
        Tcp[(int)TcpConntrack.LastAck] = T("tcp_timeout_last_ack");
        Tcp[(int)TcpConntrack.TimeWait] = T("tcp_timeout_time_wait");
        Tcp[(int)TcpConntrack.Close] = T("tcp_timeout_close");
        // SYN_SENT2 shares SYN_SENT's sysctl (tcp_timeouts[TCP_CONNTRACK_SYN_SENT2] = 2 MINS, no own knob).
        Tcp[(int)TcpConntrack.SynSent2] = T("tcp_timeout_syn_sent");
        Tcp[(int)TcpConntrack.Retrans] = T("tcp_timeout_max_retrans");
        Tcp[(int)TcpConntrack.Unack] = T("tcp_timeout_unacknowledged");
        UdpUnreplied = T("udp_timeout");
        UdpReplied = T("udp_timeout_stream");
        Icmp = T("icmp_timeout");
        Icmpv6 = T("icmpv6_timeout");
        Generic = T("generic_timeout");
        GreUnreplied = T("gre_timeout");
        GreReplied = T("gre_timeout_stream");
    }

    public static NfConntrackTimeouts FromSysctls(Sysctls sysctls)
    {
        ArgumentNullException.ThrowIfNull(sysctls);
        return new NfConntrackTimeouts(sysctls);
    }
}
