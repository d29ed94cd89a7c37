using System.Globalization;
using System.Text;

namespace TraceReplay.Benchmarks;

/// <summary>
/// A kube-proxy (iptables mode, pkg/proxy/iptables/proxier.go) rule set of about N rules for a big
/// cluster, merged into the docker-host snapshot's iptables.rules as kube-proxy would add itself to a
/// Docker host: its jumps prepended to the built-in chains, its chains after Docker's. The layout is
/// the one of the shared corpus's kube-proxy dumps (kube-proxy_TestOverallIPTablesRules):
/// <list type="bullet">
/// <item>nat KUBE-SERVICES: per service `-d CLUSTERIP/32 -p tcp -m tcp --dport P -j KUBE-SVC-X`, last
/// `-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`; KUBE-SVC-X: `! -s PODCIDR ... -j KUBE-MARK-MASQ`,
/// then `-m statistic --mode random --probability 1/k` per endpoint to KUBE-SEP-Y, which marks
/// hairpin traffic and DNATs; every fifth service a NodePort (KUBE-NODEPORTS → KUBE-EXT-X);</item>
/// <item>filter: INPUT/FORWARD/OUTPUT jumps (KUBE-PROXY-FIREWALL, KUBE-NODEPORTS, KUBE-EXTERNAL-SERVICES,
/// KUBE-FORWARD, KUBE-SERVICES, KUBE-FIREWALL); KUBE-SERVICES REJECTs the services without endpoints,
/// KUBE-EXTERNAL-SERVICES drops their NodePorts.</item>
/// </list>
/// Cluster IPs are in 10.96.0.0/12, pods in 10.244.0.0/16, NodePorts 30000-32767: none of
/// docker-host's traffic is addressed to a service, so it crosses every chain and keeps its verdicts.
/// </summary>
internal static class KubeProxyRules
{
    private const string PodCidr = "10.244.0.0/16";

    /// <summary>Rules per service on average (1 in KUBE-SERVICES, 1 + k in KUBE-SVC, 2k in KUBE-SEP for k = 1..3 endpoints, a NodePort every fifth, none for every twentieth).</summary>
    private const double RulesPerService = 8.25;

    private static readonly (string Proto, int Port)[] ServicePorts = [("tcp", 80), ("tcp", 443), ("tcp", 8080), ("udp", 53), ("tcp", 9090), ("tcp", 6379), ("tcp", 5432)];

    /// <summary>Writes a snapshot folder: docker-host's files, with iptables.rules = docker-host's rules plus about <paramref name="rules"/> kube-proxy rules. Returns the number of -A lines added.</summary>
    public static int WriteSnapshot(string dockerSnapshot, string folder, int rules)
    {
        Directory.CreateDirectory(folder);
        foreach (string f in Directory.GetFiles(dockerSnapshot))
            File.Copy(f, Path.Combine(folder, Path.GetFileName(f)), overwrite: true);
        string merged = Merge(File.ReadAllText(Path.Combine(dockerSnapshot, "iptables.rules")), rules, out int added);
        File.WriteAllText(Path.Combine(folder, "iptables.rules"), merged);
        return added;
    }

    /// <summary>docker-host's dump with kube-proxy's chains declared, its jumps first in each built-in chain, its rules after Docker's.</summary>
    public static string Merge(string dockerRules, int rules, out int added)
    {
        var (filter, nat) = Generate(Math.Max(1, (int)(rules / RulesPerService)));
        added = 0;
        var sb = new StringBuilder();
        Tables? current = null;
        bool jumped = false;
        foreach (string line in dockerRules.Split('\n'))
        {
            if (line.StartsWith('*'))
            {
                current = line == "*filter" ? filter : line == "*nat" ? nat : null;
                jumped = false;
            }
            if (current is not null && line == "COMMIT")
            {
                foreach (string r in current.Rules)
                    sb.Append(r).Append('\n');
                added += current.Rules.Count + current.Jumps.Count;
                current = null;
            }
            else if (current is not null && !jumped && (line.StartsWith("-A", StringComparison.Ordinal) || line.StartsWith('[')))
            {
                // After the chain declarations, before Docker's first rule: iptables-restore appends in
                // order, so these jumps come first in their chains, as kube-proxy's -I puts them.
                foreach (string c in current.Chains)
                    sb.Append(':').Append(c).Append(" - [0:0]\n");
                foreach (string j in current.Jumps)
                    sb.Append(j).Append('\n');
                jumped = true;
            }
            sb.Append(line).Append('\n');
        }
        return sb.ToString().TrimEnd('\n') + "\n";
    }

    private sealed class Tables
    {
        public List<string> Chains { get; } = [];
        public List<string> Jumps { get; } = [];
        public List<string> Rules { get; } = [];
    }

    private static (Tables Filter, Tables Nat) Generate(int serviceCount)
    {
        var filter = new Tables();
        var nat = new Tables();
        filter.Chains.AddRange(["KUBE-EXTERNAL-SERVICES", "KUBE-FIREWALL", "KUBE-FORWARD", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL", "KUBE-SERVICES"]);
        filter.Jumps.AddRange(
        [
            "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL",
            "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS",
            "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES",
            "-A INPUT -j KUBE-FIREWALL",
            "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL",
            "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD",
            "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES",
            "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL",
            "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A OUTPUT -j KUBE-FIREWALL",
        ]);
        filter.Rules.AddRange(
        [
            "-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment \"block incoming localnet connections\" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
            "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
            "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT",
            "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        ]);
        nat.Chains.AddRange(["KUBE-MARK-MASQ", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-SERVICES"]);
        nat.Jumps.AddRange(
        [
            "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
        ]);
        var services = new List<string>();
        var nodePorts = new List<string>();
        var natChains = new List<string>();
        var chainRules = new List<string>();
        int endpointCounter = 0;
        for (int i = 0; i < serviceCount; i++)
        {
            var (proto, port) = ServicePorts[i % ServicePorts.Length];
            string name = $"ns{i / 50}/svc{i}:p{port}";
            string clusterIp = Ip(0x0A60_0000u + 1 + (uint)i); // 10.96.0.1 + i
            int endpoints = i % 20 == 19 ? 0 : 1 + i % 3;
            int nodePort = i % 5 == 0 ? 30000 + i % 2768 : 0;
            if (endpoints == 0)
            {
                filter.Rules.Add($"-A KUBE-SERVICES -d {clusterIp}/32 -p {proto} -m comment --comment \"{name} has no endpoints\" -m {proto} --dport {port} -j REJECT --reject-with icmp-port-unreachable");
                if (nodePort != 0)
                    filter.Rules.Add($"-A KUBE-EXTERNAL-SERVICES -p {proto} -m comment --comment \"{name} has no endpoints\" -m addrtype --dst-type LOCAL -m {proto} --dport {nodePort} -j REJECT --reject-with icmp-port-unreachable");
                continue;
            }
            string svc = "KUBE-SVC-" + Hash(1, i);
            natChains.Add(svc);
            services.Add($"-A KUBE-SERVICES -d {clusterIp}/32 -p {proto} -m comment --comment \"{name} cluster IP\" -m {proto} --dport {port} -j {svc}");
            chainRules.Add($"-A {svc} ! -s {PodCidr} -d {clusterIp}/32 -p {proto} -m comment --comment \"{name} cluster IP\" -m {proto} --dport {port} -j KUBE-MARK-MASQ");
            if (nodePort != 0)
            {
                string ext = "KUBE-EXT-" + Hash(2, i);
                natChains.Add(ext);
                nodePorts.Add($"-A KUBE-NODEPORTS -p {proto} -m comment --comment \"{name}\" -m {proto} --dport {nodePort} -j {ext}");
                chainRules.Add($"-A {ext} -m comment --comment \"masquerade traffic for {name} external destinations\" -j KUBE-MARK-MASQ");
                chainRules.Add($"-A {ext} -j {svc}");
            }
            var seps = new List<(string Chain, string Ip)>();
            for (int k = 0; k < endpoints; k++, endpointCounter++)
                seps.Add(("KUBE-SEP-" + Hash(3, endpointCounter), Ip(0x0AF4_0000u + 2 + (uint)endpointCounter))); // 10.244.0.2 + n
            for (int k = 0; k < seps.Count; k++)
            {
                int left = seps.Count - k;
                string stat = left > 1 ? $" -m statistic --mode random --probability {(1.0 / left).ToString("F11", CultureInfo.InvariantCulture)}" : string.Empty;
                chainRules.Add($"-A {svc} -m comment --comment \"{name} -> {seps[k].Ip}:{port}\"{stat} -j {seps[k].Chain}");
            }
            foreach (var (chain, ip) in seps)
            {
                natChains.Add(chain);
                chainRules.Add($"-A {chain} -s {ip}/32 -m comment --comment \"{name}\" -j KUBE-MARK-MASQ");
                chainRules.Add($"-A {chain} -p {proto} -m comment --comment \"{name}\" -m {proto} -j DNAT --to-destination {ip}:{port}");
            }
        }
        nat.Chains.AddRange(natChains);
        nat.Rules.AddRange(nodePorts);
        nat.Rules.AddRange(
        [
            "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
            "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
            "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
            "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully",
        ]);
        nat.Rules.AddRange(services);
        nat.Rules.Add("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS");
        nat.Rules.AddRange(chainRules);
        return (filter, nat);
    }

    /// <summary>The address with the ClusterIP or endpoint of <paramref name="v"/> (host order).</summary>
    public static string Ip(uint v) => $"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}";

    /// <summary>
    /// 16 base32 characters as kube-proxy's portProtoHash (SHA-256 of the service port name, base32,
    /// 16 characters); here splitmix64 of the index (a bijection, so names never collide).
    /// </summary>
    private static string Hash(int kind, int i)
    {
        ulong z = (ulong)i + ((ulong)kind << 40) + 0x9E37_79B9_7F4A_7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        z ^= z >> 31;
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        Span<char> s = stackalloc char[16];
        for (int k = 0; k < 13; k++, z >>= 5)
            s[k] = Alphabet[(int)(z & 31)];
        for (int k = 13; k < 16; k++)
            s[k] = Alphabet[(kind * 7 + k) & 31];
        return new string(s);
    }
}
