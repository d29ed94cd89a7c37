using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Network;
using TraceReplay.Netfilter.Routing;

namespace TraceReplay.Tests.Netfilter.Routing;

/// <summary>
/// The real kernel as the witness: two network namespaces get devices (veth pairs, both ends inside),
/// addresses, routes of every type, policy rules and per-device sysctls; `ip route get` answers many
/// lookups (no traffic is sent) and <see cref="IpRouter"/>, built from `ip -j` dumps and `sysctl -a` of the
/// same namespace, must decide the same: the same error, or the same type, device, gateway and table.
/// Needs root; the namespaces are deleted afterwards.
/// </summary>
public sealed class KernelWitnessTests : IDisposable
{
    private readonly string _pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
    private readonly List<string> _created = [];

    private string Rules => "trroute" + _pid;
    private string Plain => "trrplain" + _pid;

    private static (int Exit, string Out, string Err) Run(string file, string args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, stderr);
    }

    private static string Ip(string ns, string args)
    {
        var (exit, output, err) = Run("ip", $"-n {ns} {args}");
        return exit == 0 ? output : throw new InvalidOperationException($"ip -n {ns} {args}: exit {exit}: {err}");
    }

    private static void Sysctl(string ns, string setting)
    {
        var (exit, _, err) = Run("ip", $"netns exec {ns} sysctl -qw {setting}");
        if (exit != 0)
            throw new InvalidOperationException($"sysctl {setting}: {err}");
    }

    public void Dispose()
    {
        foreach (var ns in _created)
            Run("ip", $"netns del {ns}");
    }

    private void Create(string ns, bool withRules)
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
            Assert.Skip("needs root on Linux to create a network namespace");
        try
        {
            Run("ip", "-V");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Skip("iproute2 (ip) is not installed");
        }
        Run("ip", $"netns del {ns}");
        if (Run("ip", $"netns add {ns}").Exit != 0)
            Assert.Skip("cannot create a network namespace here");
        _created.Add(ns);
        string[] common =
        [
            "link set lo up",
            "link add a0 type veth peer name a0p", "link add b0 type veth peer name b0p", "link add c0 type veth peer name c0p",
            "link set a0 up", "link set a0p up", "link set b0 up", "link set b0p up", "link set c0 up", "link set c0p up",
            "addr add 10.1.0.1/24 dev a0", "addr add 192.0.2.1/24 dev b0", "addr add 198.51.100.1/24 dev c0",
            "addr add 2001:db8:a::1/64 dev a0 nodad", "addr add 2001:db8:1::1/64 dev b0 nodad", "addr add 2001:db8:2::1/64 dev c0 nodad",
            "addr add fe80::a/64 dev a0 nodad", "addr add fe80::b/64 dev b0 nodad",
            "route add default via 192.0.2.254", "route add 10.2.0.0/16 via 10.1.0.254",
            "route add 10.1.0.128/25 via 10.1.0.254 metric 10", "route add 10.1.0.128/25 via 10.1.0.253 metric 5",
            "route add 203.0.113.0/24 nexthop via 192.0.2.253 nexthop via 198.51.100.253",
            "route add blackhole 10.66.0.0/16", "route add unreachable 10.67.0.0/16", "route add prohibit 10.68.0.0/16",
            "route add 100.64.0.0/10 via 198.51.100.254 src 198.51.100.1",
            "-6 route add default via 2001:db8:1::fe", "-6 route add 2001:db8:99::/48 via 2001:db8:2::fe",
            "-6 route add unreachable 2001:db8:66::/48", "-6 route add prohibit 2001:db8:67::/48", "-6 route add blackhole 2001:db8:68::/48",
        ];
        string[] rules =
        [
            "route add default via 198.51.100.254 table 100", "route add throw 10.2.0.0/16 table 100", "route add 10.3.0.0/16 via 10.1.0.252 table 100",
            "route add default via 198.51.100.254 table 200", "route add 203.0.113.128/25 via 10.1.0.251 table 200",
            "-6 route add default via 2001:db8:2::fe table 100",
            "rule add pref 100 fwmark 0x1/0xff lookup 100", "rule add pref 105 tos 0x10 lookup 100",
            "rule add pref 106 ipproto udp to 10.96.0.0/16 lookup 100",
            "rule add pref 110 from 10.1.0.0/24 to 203.0.113.128/25 lookup 200",
            "rule add pref 120 to 10.99.0.0/16 unreachable", "rule add pref 121 to 10.98.0.0/16 prohibit", "rule add pref 122 to 10.97.0.0/16 blackhole",
            "rule add pref 130 not from 10.0.0.0/8 goto 150", "rule add pref 140 fwmark 0x8 lookup 100", "rule add pref 150 nop",
            "rule add pref 160 iif lo fwmark 0x10 lookup 100", "rule add pref 170 oif c0 lookup 200",
            "rule add pref 175 fwmark 0x20 lookup main suppress_prefixlength 0", "rule add pref 176 fwmark 0x20 lookup 200",
            "-6 rule add pref 100 fwmark 0x1 lookup 100", "-6 rule add pref 120 to 2001:db8:98::/48 prohibit",
            // TPROXY's usual pair: marked packets are local whatever their destination.
            "rule add pref 90 fwmark 0x80/0xff lookup 80", "route add local default dev lo table 80",
            "rule add pref 165 uidrange 1000-2000 lookup 200",
        ];
        foreach (var c in common)
            Ip(ns, c);
        if (withRules)
        {
            foreach (var c in rules)
                Ip(ns, c);
            Sysctl(ns, "net.ipv4.ip_forward=1");
            Sysctl(ns, "net.ipv6.conf.all.forwarding=1");
            Sysctl(ns, "net.ipv4.conf.a0.rp_filter=1");
            Sysctl(ns, "net.ipv4.conf.b0.rp_filter=2");
            Sysctl(ns, "net.ipv4.conf.c0.rp_filter=0");
            // The reverse lookup carries the mark only with src_valid_mark; accept_local lets this host's addresses in as sources.
            Sysctl(ns, "net.ipv4.conf.c0.src_valid_mark=1");
            Sysctl(ns, "net.ipv4.conf.c0.route_localnet=1");
            Sysctl(ns, "net.ipv4.conf.b0.accept_local=1");
        }
        else
        {
            Sysctl(ns, "net.ipv4.ip_forward=0");
        }
    }

    /// <summary>The namespace's snapshot, as `tracereplay snapshot` takes it, plus its IPv6 rules.</summary>
    private static NetworkConfig Snapshot(string ns)
    {
        var links = DeviceParser.ParseJson(Ip(ns, "-j -d link"), "link.json");
        var addrs = DeviceParser.ParseJson(Ip(ns, "-j addr"), "addr.json");
        var routes = RouteParser.ParseJson(Ip(ns, "-j route show table all"), "route.json");
        var routes6 = RouteParser.ParseJson(Ip(ns, "-j -6 route show table all"), "route6.json", defaultV6: true);
        var rules = RuleParser.ParseJson(Ip(ns, "-j rule"), "rule.json");
        var rules6 = RuleParser.ParseJson(Ip(ns, "-j -6 rule"), "rule6.json", v6: true);
        var (_, sysctl, _) = Run("ip", $"netns exec {ns} sysctl -a");
        var net = string.Join('\n', sysctl.Split('\n').Where(l => l.StartsWith("net.", StringComparison.Ordinal)));
        return new NetworkConfig(NetworkConfig.MergeDevices(links, addrs), NetworkConfig.DistinctRoutes([.. routes, .. routes6]), [.. rules, .. rules6],
            Sysctls.Parse(net, "sysctl.conf"));
    }

    /// <summary>The errno `ip route get` reports, by the kernel's strerror text.</summary>
    private static string Errno(string stderr) =>
        stderr.Contains("Network is unreachable", StringComparison.Ordinal) ? "ENETUNREACH"
        : stderr.Contains("No route to host", StringComparison.Ordinal) ? "EHOSTUNREACH"
        : stderr.Contains("Permission denied", StringComparison.Ordinal) ? "EACCES"
        : stderr.Contains("Invalid cross-device link", StringComparison.Ordinal) ? "EXDEV"
        : stderr.Contains("Invalid argument", StringComparison.Ordinal) ? "EINVAL"
        : "other: " + stderr.Trim();

    /// <summary>The errno the kernel's dst_entry carries for a routing drop (what inet_rtm_getroute returns).</summary>
    private static string Errno(RouteResult r, bool forwarding) => r.DropReason switch
    {
        RouteDropReason.MartianSource or RouteDropReason.MartianDestination or RouteDropReason.OutputInvalidSource => "EINVAL",
        RouteDropReason.RpFilter => "EXDEV",
        _ when !forwarding => "EHOSTUNREACH",
        RouteDropReason.NoRoute or RouteDropReason.RuleUnreachable or RouteDropReason.OutputSourceNotLocal => "ENETUNREACH",
        RouteDropReason.RouteUnreachable or RouteDropReason.ForwardingDisabled => "EHOSTUNREACH",
        RouteDropReason.RouteProhibit or RouteDropReason.RuleProhibit => "EACCES",
        _ => "EINVAL",
    };

    /// <summary>One `ip route get` query: `[-6] DST [from SRC] [iif DEV] [oif DEV] [mark M] [tos T] [ipproto P]`.</summary>
    private static string Compare(string ns, IpRouter router, string query, bool forwarding)
    {
        var words = query.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        bool v6 = words[0] == "-6";
        if (v6)
            words.RemoveAt(0);
        string? Opt(string name)
        {
            int i = words.IndexOf(name);
            return i >= 0 ? words[i + 1] : null;
        }
        var dst = IpAddr.Parse(words[0]);
        string? iif = Opt("iif"), oif = Opt("oif");
        var key = new RouteKey
        {
            Dst = dst,
            Src = Opt("from") is { } f ? IpAddr.Parse(f) : v6 ? default : IpAddr.FromV4(0),
            IsV6 = v6,
            Dev = iif ?? oif,
            Mark = Opt("mark") is { } m ? Convert.ToUInt32(m, 16) : 0,
            Tos = Opt("tos") is { } t ? Convert.ToByte(t, 16) : (byte)0,
            Protocol = Opt("ipproto") switch { "udp" => 17, "tcp" => 6, _ => 0 },
            Ttl = 64,
            Uid = Opt("uid") is { } u ? uint.Parse(u, CultureInfo.InvariantCulture) : 0,
        };
        var mine = iif is not null ? router.RouteInput(key) : router.RouteOutput(key);
        var (exit, output, err) = Run("ip", $"-n {ns} -j {(v6 ? "-6 " : "")}route get {string.Join(' ', words)}");
        if (exit != 0)
        {
            string kernel = Errno(err);
            // ip_route_input_slow: without forwarding every lookup error becomes EHOSTUNREACH.
            bool inputForwarding = iif is null || forwarding || v6;
            // inet_rtm_getroute turns every drop reason of ip_route_input_rcu into -EINVAL, so rp_filter's EXDEV reads as EINVAL.
            string myErrno = mine.IsDrop ? Errno(mine, inputForwarding) : "none";
            if (iif is not null && myErrno == "EXDEV")
                myErrno = "EINVAL";
            return myErrno == kernel ? "" : $"{query}: kernel {kernel}, mine {mine}";
        }
        var j = JsonDocument.Parse(output).RootElement[0];
        string S(string name) => j.TryGetProperty(name, out var v) ? v.ToString() : "";
        string type = S("type") is { Length: > 0 } ty ? ty : "unicast";
        // route get prints the table for forwarded and output routes only (main included).
        string table = S("table");
        if (v6 && iif is not null && type == "unicast" && !forwarding && mine.DropReason == RouteDropReason.ForwardingDisabled)
            return ""; // route get stops at the route; ip6_forward refuses later
        if (mine.IsDrop)
            return $"{query}: kernel {type} dev {S("dev")}, mine {mine}";
        string myType = mine.Type switch { RouteType.Unicast => "unicast", var x => x.ToString().ToLowerInvariant() };
        string myTable = mine.Route?.Table ?? "main";
        string gw = S("gateway");
        string myGw = mine.Gateway?.ToString() ?? "";
        var problems = new List<string>();
        if (type != myType)
            problems.Add($"type {type} vs {myType}");
        if (mine.Route is { IsMultipath: true } mp)
        {
            // The kernel's hash is keyed per boot: any of the route's paths is a correct pick.
            if (!mp.NextHops.Any(n => n.Dev == S("dev") && (n.Gateway?.ToString() ?? "") == gw))
                problems.Add($"path {gw}@{S("dev")} not among {mp}");
        }
        else
        {
            if (S("dev") != (mine.OutDev ?? ""))
                problems.Add($"dev {S("dev")} vs {mine.OutDev}");
            if (gw != myGw)
                problems.Add($"gateway {gw} vs {myGw}");
        }
        // RTCF_DOREDIRECT shows as `cache <redirect>`.
        bool redirect = j.TryGetProperty("cache", out var cache) && cache.EnumerateArray().Any(c => c.GetString() == "redirect");
        if (iif is not null && !v6 && mine.Route is not { IsMultipath: true } && redirect != mine.SendsRedirect)
            problems.Add($"redirect {redirect} vs {mine.SendsRedirect}");
        if (table.Length > 0 && table != myTable)
            problems.Add($"table {table} vs {myTable}");
        if (iif is null && !v6 && mine.Route is not { IsMultipath: true } && S("prefsrc") is { Length: > 0 } src && key.Src == IpAddr.FromV4(0) && src != mine.PrefSrc?.ToString())
            problems.Add($"src {src} vs {mine.PrefSrc}");
        return problems.Count == 0 ? "" : $"{query}: {string.Join(", ", problems)} (kernel {output.Trim()})";
    }

    [Fact]
    public void Policy_rules_rp_filter_and_martians_decide_as_the_kernel()
    {
        Create(Rules, withRules: true);
        var router = new IpRouter(Snapshot(Rules));
        string[] queries =
        [
            // Local, broadcast, forward, LPM + metric, multipath.
            "10.1.0.1 from 10.1.0.5 iif a0", "192.0.2.1 from 10.1.0.5 iif a0", "10.1.0.255 from 10.1.0.5 iif a0",
            "8.8.8.8 from 10.1.0.5 iif a0", "10.1.0.200 from 192.0.2.7 iif b0", "10.1.0.20 from 192.0.2.7 iif b0",
            "203.0.113.9 from 10.1.0.5 iif a0", "203.0.113.10 from 10.1.0.6 iif a0", "100.64.1.1 from 10.1.0.5 iif a0",
            // fwmark, throw, tos, ipproto, from/to, goto over `not`, nop, suppress_prefixlength.
            "8.8.8.8 from 10.1.0.5 iif a0 mark 0x1", "8.8.8.8 from 10.1.0.5 iif a0 mark 0x101", "10.2.3.4 from 10.1.0.5 iif a0 mark 0x1",
            "10.3.0.1 from 10.1.0.5 iif a0 mark 0x1", "8.8.8.8 from 10.1.0.5 iif a0 tos 0x10",
            "10.96.1.1 from 10.1.0.5 iif a0 ipproto udp", "10.96.1.1 from 10.1.0.5 iif a0 ipproto tcp",
            "203.0.113.200 from 10.1.0.5 iif a0", "203.0.113.200 from 192.0.2.9 iif b0",
            "8.8.8.8 from 10.1.0.5 iif a0 mark 0x8", "8.8.8.8 from 192.0.2.9 iif b0 mark 0x8",
            "8.8.8.8 from 10.1.0.5 iif a0 mark 0x20", "10.2.0.9 from 10.1.0.5 iif a0 mark 0x20", "8.8.8.8 from 10.1.0.5 iif a0 mark 0x10",
            // Route and rule types.
            "10.66.1.1 from 10.1.0.5 iif a0", "10.67.1.1 from 10.1.0.5 iif a0", "10.68.1.1 from 10.1.0.5 iif a0",
            "10.99.1.1 from 10.1.0.5 iif a0", "10.98.1.1 from 10.1.0.5 iif a0", "10.97.1.1 from 10.1.0.5 iif a0",
            // rp_filter: a0 strict, b0 loose, c0 off.
            "8.8.8.8 from 192.0.2.7 iif a0", "10.1.0.1 from 192.0.2.7 iif a0", "8.8.8.8 from 192.0.2.7 iif b0", "10.1.0.9 from 8.8.4.4 iif c0",
            "10.1.0.9 from 10.1.0.77 iif b0", "10.1.0.9 from 10.67.0.5 iif b0", "10.1.0.9 from 10.67.0.5 iif c0", "10.1.0.9 from 10.66.0.5 iif c0",
            "10.1.0.9 from 10.1.0.77 iif c0", "10.1.0.1 from 10.67.0.5 iif a0",
            // Martians and this host's own address as a source.
            "127.0.0.1 from 10.1.0.5 iif a0", "8.8.8.8 from 127.0.0.1 iif a0", "0.1.2.3 from 10.1.0.5 iif a0", "8.8.8.8 from 224.0.0.5 iif a0",
            "8.8.8.8 from 255.255.255.255 iif a0", "8.8.8.8 from 0.1.2.3 iif a0", "255.255.255.255 from 10.1.0.5 iif a0",
            "8.8.8.8 from 192.0.2.1 iif a0", "8.8.8.8 from 192.0.2.1 iif c0", "10.1.0.1 from 10.1.0.1 iif c0",
            // Output: source selection, iif lo and oif rules, local, errors, a foreign source.
            "8.8.8.8", "8.8.8.8 mark 0x10", "8.8.8.8 oif c0", "100.64.1.1", "10.1.0.1", "10.67.0.1", "10.66.0.1", "10.99.0.1", "10.1.0.200",
            "8.8.8.8 from 10.1.0.1", "8.8.8.8 from 10.9.9.9", "203.0.113.7", "10.1.0.255", "8.8.8.8 mark 0x1", "10.1.0.50",
            // IPv6.
            "-6 2001:db8:99::1 from 2001:db8:a::5 iif a0", "-6 2001:db8:1::1 from 2001:db8:a::5 iif a0", "-6 2001:db8:66::1 from 2001:db8:a::5 iif a0",
            "-6 2001:db8:67::1 from 2001:db8:a::5 iif a0", "-6 2001:db8:68::1 from 2001:db8:a::5 iif a0", "-6 2001:db8:98::1 from 2001:db8:a::5 iif a0",
            "-6 2a00::1 from 2001:db8:a::5 iif a0 mark 0x1", "-6 2a00::1 from 2001:db8:a::5 iif a0", "-6 2a00::1", "-6 2001:db8:2::1", "-6 2a00::1 mark 0x1",
            "-6 2001:db8:a::9", "-6 2001:db8:66::1",
            // IPv6 link-local: looked up on the interface (rt6_need_strict). A socket sending to a link-local address names
            // the interface (sin6_scope_id), so output asks with oif; without one the kernel round-robins among the
            // fe80::/64 routes (seen: neither the source's device nor the first), which nothing offline can follow.
            // (`route get` of a multicast destination fails with EMSGSIZE in iproute2 6.1, so multicast is not witnessed.)
            "-6 fe80::a from fe80::99 iif a0", "-6 fe80::b from fe80::99 iif b0", "-6 fe80::77 from fe80::99 iif a0",
            "-6 fe80::77 from fe80::a oif a0", "-6 fe80::77 from fe80::b oif b0", "-6 fe80::77 oif b0",
            // ICMP redirect (cache <redirect>): back out the input device, to a source on the link or behind a gateway; loose b0.
            "10.2.0.9 from 10.1.0.5 iif a0", "10.2.0.9 from 10.2.0.77 iif a0", "192.0.2.50 from 192.0.2.7 iif b0", "8.8.8.8 from 192.0.2.7 iif b0 mark 0x1",
            // TPROXY mark, src_valid_mark, route_localnet, accept_local, uidrange.
            "8.8.8.8 from 192.0.2.7 iif b0 mark 0x80", "8.8.8.8 from 198.51.100.7 iif c0 mark 0x80", "8.8.8.8 from 10.1.0.5 iif a0 mark 0x180",
            "127.0.0.1 from 198.51.100.9 iif c0", "127.0.0.1 from 192.0.2.9 iif b0", "8.8.8.8 from 127.0.0.1 iif c0",
            "10.1.0.9 from 192.0.2.1 iif b0", "10.1.0.9 from 192.0.2.1 iif c0", "8.8.8.8 uid 1500", "8.8.8.8 uid 999",
        ];
        var failures = queries.Select(q => Compare(Rules, router, q, forwarding: true)).Where(f => f.Length > 0).ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} of {queries.Length} decisions differ from the kernel:\n" + string.Join('\n', failures));
    }

    [Fact]
    public void Forwarding_off_and_default_rules_decide_as_the_kernel()
    {
        Create(Plain, withRules: false);
        var router = new IpRouter(Snapshot(Plain));
        string[] queries =
        [
            "8.8.8.8 from 10.1.0.5 iif a0", "10.1.0.1 from 10.1.0.5 iif a0", "192.0.2.1 from 10.1.0.5 iif a0", "10.1.0.1 from 192.0.2.1 iif a0",
            "10.1.0.1 from 8.8.8.8 iif a0", "10.67.0.1 from 10.1.0.5 iif a0", "10.66.0.1 from 10.1.0.5 iif a0", "10.1.0.255 from 10.1.0.5 iif a0",
            "127.0.0.1 from 10.1.0.5 iif a0", "10.1.0.1 from 10.1.0.1 iif a0",
            "8.8.8.8", "10.67.0.1", "10.1.0.1", "8.8.8.8 from 10.1.0.1",
            "-6 2001:db8:1::1 from 2001:db8:a::5 iif a0", "-6 2a00::1 from 2001:db8:a::5 iif a0",
        ];
        var failures = queries.Select(q => Compare(Plain, router, q, forwarding: false)).Where(f => f.Length > 0).ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} of {queries.Length} decisions differ from the kernel:\n" + string.Join('\n', failures));
    }
}
