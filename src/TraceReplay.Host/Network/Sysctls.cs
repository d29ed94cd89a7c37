using System.Globalization;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Network;

/// <summary>
/// The snapshot's `sysctl -a` lines (`name = value`), every key kept, with typed accessors for what the
/// simulator reads. Absent keys fall back to the kernel's default (6.x, as a fresh network namespace
/// shows them). Keys are held in sysctl's dotted form, where a '.' inside an interface name is printed
/// as '/' (`net.ipv4.conf.eth0/100.rp_filter`); slash-separated keys (`net/ipv4/ip_forward`, as
/// sysctl.conf allows) are normalised to that form the way procps does.
/// </summary>
public sealed class Sysctls
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public static Sysctls Empty { get; } = new();

    public IReadOnlyDictionary<string, string> All => _values;

    public string? this[string key] => _values.GetValueOrDefault(Normalise(key));

    /// <summary>Sets a value (the command line's `--sysctl NAME=VALUE` overrides use this).</summary>
    public void Set(string key, string value) => _values[Normalise(key)] = value;

    /// <summary>procps: when '/' comes before any '.', slashes separate and dots are literal (part of a name).</summary>
    public static string Normalise(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        int slash = key.IndexOf('/', StringComparison.Ordinal), dot = key.IndexOf('.', StringComparison.Ordinal);
        if (slash < 0 || (dot >= 0 && dot < slash))
            return key;
        return string.Create(key.Length, key, static (span, k) =>
        {
            for (int i = 0; i < k.Length; i++)
                span[i] = k[i] switch { '/' => '.', '.' => '/', var c => c };
        });
    }

    /// <summary>The key of a per-interface setting; sysctl prints a '.' in an interface name as '/'.</summary>
    public static string ConfKey(string family, string iface, string name) =>
        $"net.{family}.conf.{iface.Replace('.', '/')}.{name}";

    public static Sysctls Parse(string text, string file)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = new Sysctls();
        string[] lines = text.Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n].TrimEnd('\r');
            string trimmed = line.TrimStart();
            if (trimmed.Length == 0 || trimmed[0] is '#' or ';')
                continue;
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            int col = line.Length - trimmed.Length + 1;
            if (eq < 0)
                throw new HostParseException(new SourceLocation(file, n + 1, col), "not a sysctl setting", Short(trimmed), "NAME = VALUE");
            string key = line[..eq].Trim();
            if (key.StartsWith('-'))
                key = key[1..]; // sysctl.conf: a leading '-' means "ignore if missing"
            if (key.Length == 0 || key.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) || key.StartsWith('.') || key.EndsWith('.'))
                throw new HostParseException(new SourceLocation(file, n + 1, col), "not a sysctl name", Short(key.Length == 0 ? "=" : key), "a dotted name like net.ipv4.ip_forward");
            s._values[Normalise(key)] = line[(eq + 1)..].Trim();
        }
        return s;
    }

    private static string Short(string t) => t.Length > 60 ? t[..60] + "…" : t;

    /// <summary>An integer setting, or <paramref name="fallback"/> when absent or not a single integer.</summary>
    public long Int(string key, long fallback)
    {
        string? v = this[key];
        return v is not null && long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long x) ? x : fallback;
    }

    /// <summary>net.ipv4.ip_forward (kernel default 0).</summary>
    public bool IpForward => Int("net.ipv4.ip_forward", 0) != 0;

    /// <summary>net.ipv6.conf.all.forwarding (kernel default 0).</summary>
    public bool Ipv6Forwarding => Int("net.ipv6.conf.all.forwarding", 0) != 0;

    /// <summary>
    /// A per-interface IPv4 setting the kernel combines with `all` by max (IN_DEV_MAXCONF: rp_filter,
    /// arp_ignore, …). A device without its own key got the `default` value when it was created.
    /// </summary>
    public long Ipv4ConfMax(string iface, string name, long kernelDefault)
    {
        long all = Int($"net.ipv4.conf.all.{name}", kernelDefault);
        long dflt = Int($"net.ipv4.conf.default.{name}", kernelDefault);
        long dev = Int(ConfKey("ipv4", iface, name), dflt);
        return Math.Max(all, dev);
    }

    /// <summary>Effective rp_filter of an interface: max(conf.all, conf.IFACE) (0 off, 1 strict, 2 loose); kernel default 0.</summary>
    public int RpFilter(string iface) => (int)Ipv4ConfMax(iface, "rp_filter", 0);

    /// <summary>route_localnet (IN_DEV_ROUTE_LOCALNET, an OR of all and the device): 127/8 routable off loopback.</summary>
    public bool RouteLocalnet(string iface) => Ipv4ConfMax(iface, "route_localnet", 0) != 0;

    /// <summary>
    /// True when br_netfilter is loaded: its net.bridge.bridge-nf-* keys exist only then. Without it bridged
    /// traffic never reaches iptables, whatever the defaults below say.
    /// </summary>
    public bool BrNetfilterLoaded => _values.Keys.Any(k => k.StartsWith("net.bridge.bridge-nf-", StringComparison.Ordinal));

    /// <summary>net.bridge.bridge-nf-call-iptables (br_netfilter default 1).</summary>
    public bool BridgeNfCallIptables => Int("net.bridge.bridge-nf-call-iptables", 1) != 0;

    public bool BridgeNfCallIp6tables => Int("net.bridge.bridge-nf-call-ip6tables", 1) != 0;

    public bool BridgeNfCallArptables => Int("net.bridge.bridge-nf-call-arptables", 1) != 0;

    /// <summary>
    /// net.netfilter.nf_conntrack_max. The kernel sizes it from RAM (nf_conntrack_init_start); 262144 is
    /// what a host with 4 GiB or more gets, and what the bundled snapshot shows.
    /// </summary>
    public long ConntrackMax => Int("net.netfilter.nf_conntrack_max", 262144);

    public long ConntrackBuckets => Int("net.netfilter.nf_conntrack_buckets", 262144);

    /// <summary>nf_conntrack_tcp_loose (default 1): pick up established TCP connections mid-stream.</summary>
    public bool ConntrackTcpLoose => Int("net.netfilter.nf_conntrack_tcp_loose", 1) != 0;

    public bool ConntrackTcpBeLiberal => Int("net.netfilter.nf_conntrack_tcp_be_liberal", 0) != 0;

    public bool ConntrackAcct => Int("net.netfilter.nf_conntrack_acct", 0) != 0;

    /// <summary>
    /// Conntrack timeouts in seconds, by the sysctl's suffix after `nf_conntrack_` (tcp_timeout_established,
    /// udp_timeout_stream, icmp_timeout, …): the kernel defaults overlaid with every *_timeout* key present.
    /// </summary>
    public IReadOnlyDictionary<string, long> ConntrackTimeouts
    {
        get
        {
            var d = new Dictionary<string, long>(DefaultTimeouts, StringComparer.Ordinal);
            const string prefix = "net.netfilter.nf_conntrack_";
            foreach (var (k, v) in _values)
            {
                if (k.StartsWith(prefix, StringComparison.Ordinal) && k.Contains("_timeout", StringComparison.Ordinal)
                    && long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out long x))
                    d[k[prefix.Length..]] = x;
            }
            return d;
        }
    }

    public long ConntrackTimeout(string name) =>
        Int("net.netfilter.nf_conntrack_" + name, DefaultTimeouts.TryGetValue(name, out long d) ? d : throw new ArgumentException($"no conntrack timeout named {name}", nameof(name)));

    /// <summary>The 6.x defaults (nf_conntrack_proto_*.c), as a fresh namespace's sysctl -a shows them.</summary>
    public static IReadOnlyDictionary<string, long> DefaultTimeouts { get; } = new Dictionary<string, long>(StringComparer.Ordinal)
    {
        ["tcp_timeout_syn_sent"] = 120,
        ["tcp_timeout_syn_recv"] = 60,
        ["tcp_timeout_established"] = 432000,
        ["tcp_timeout_fin_wait"] = 120,
        ["tcp_timeout_close_wait"] = 60,
        ["tcp_timeout_last_ack"] = 30,
        ["tcp_timeout_time_wait"] = 120,
        ["tcp_timeout_close"] = 10,
        ["tcp_timeout_max_retrans"] = 300,
        ["tcp_timeout_unacknowledged"] = 300,
        ["udp_timeout"] = 30,
        ["udp_timeout_stream"] = 120,
        ["icmp_timeout"] = 30,
        ["icmpv6_timeout"] = 30,
        ["generic_timeout"] = 600,
        ["gre_timeout"] = 30,
        ["gre_timeout_stream"] = 180,
        ["sctp_timeout_closed"] = 10,
        ["sctp_timeout_cookie_wait"] = 3,
        ["sctp_timeout_cookie_echoed"] = 3,
        ["sctp_timeout_established"] = 210,
        ["sctp_timeout_shutdown_sent"] = 3,
        ["sctp_timeout_shutdown_recd"] = 3,
        ["sctp_timeout_shutdown_ack_sent"] = 3,
        ["sctp_timeout_heartbeat_sent"] = 30,
        ["frag6_timeout"] = 60,
    };

    /// <summary>net.ipv4.ip_local_port_range (default 32768 60999): the ports the host's own sockets bind from.</summary>
    public (int Low, int High) IpLocalPortRange
    {
        get
        {
            string? v = this["net.ipv4.ip_local_port_range"];
            if (v is not null)
            {
                var parts = v.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int lo)
                    && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int hi) && lo <= hi && hi <= 65535)
                    return (lo, hi);
            }
            return (32768, 60999);
        }
    }
}
