using TraceReplay.Host.Iptables;
using TraceReplay.Host.Ipset;
using TraceReplay.Host.Network;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host;

/// <summary>
/// A host as its snapshot folder describes it (DESIGN.md: every file optional): the rule sets, the
/// ipsets, and the network configuration — the picture of the host the simulator runs. Parse errors
/// throw <see cref="HostParseException"/> naming file:line:column; problems that iptables-restore
/// and the kernel would refuse at load time come from <see cref="Check"/>.
/// </summary>
public sealed class HostSnapshot
{
    private HostSnapshot(string directory, IptRuleset iptables, IptRuleset ip6tables, Ebtables.EbtablesRuleset? ebtables, IpsetRegistry ipsets, NetworkConfig network, IReadOnlyList<string> filesRead)
    {
        Ebtables = ebtables;
        Directory = directory;
        Iptables = iptables;
        Ip6tables = ip6tables;
        Ipsets = ipsets;
        Network = network;
        FilesRead = filesRead;
    }

    public string Directory { get; }

    /// <summary>`iptables-save -c`; empty (no tables) when the snapshot has none.</summary>
    public IptRuleset Iptables { get; }

    /// <summary>`ip6tables-save -c`; empty when the snapshot has none.</summary>
    public IptRuleset Ip6tables { get; }
    /// <summary>`ebtables-save -c`; null when the snapshot has none.</summary>
    public Ebtables.EbtablesRuleset? Ebtables { get; }
    public IpsetRegistry Ipsets { get; }
    public NetworkConfig Network { get; }

    /// <summary>The snapshot files that were present and read.</summary>
    public IReadOnlyList<string> FilesRead { get; }

    public IEnumerable<ParseWarning> Warnings => Iptables.Warnings.Concat(Ip6tables.Warnings).Concat(Ebtables?.Warnings ?? []).Concat(Ipsets.Warnings).Concat(Network.Warnings);

    /// <param name="rulesOverride">A replacement rule file for the family it holds (`replay --rules NEW.rules`), read instead of the snapshot's.</param>
    public static HostSnapshot Load(string directory, bool strict = false, string? rulesOverride = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!System.IO.Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{directory}: no such snapshot folder");
        var read = new List<string>();
        string PathOf(string file) => Path.Combine(directory, file);

        IptRuleset LoadRules(string file, IptFamily family)
        {
            string path = PathOf(file);
            if (rulesOverride is not null && RuleFiles.Detect(rulesOverride, File.ReadAllText(rulesOverride)) == (family == IptFamily.IPv6 ? RuleFileKind.Ip6tables : RuleFileKind.Iptables))
                path = rulesOverride;
            if (!File.Exists(path))
                return new IptRuleset(family, path);
            read.Add(path);
            return IptablesParser.Load(path, family, strict);
        }

        var v4 = LoadRules("iptables.rules", IptFamily.IPv4);
        var v6 = LoadRules("ip6tables.rules", IptFamily.IPv6);
        Ebtables.EbtablesRuleset? ebtables = null;
        if (File.Exists(PathOf("ebtables.rules")))
        {
            read.Add(PathOf("ebtables.rules"));
            ebtables = Host.Ebtables.EbtablesParser.ParseFile(PathOf("ebtables.rules"), strict);
        }
        var sets = new IpsetRegistry();
        if (File.Exists(PathOf("ipset.save")))
        {
            read.Add(PathOf("ipset.save"));
            sets = IpsetRegistry.Load(PathOf("ipset.save"));
        }
        foreach (var f in (string[])[NetworkConfig.AddrFile, NetworkConfig.LinkFile, NetworkConfig.RouteFile, NetworkConfig.Route6File, NetworkConfig.RuleFile, NetworkConfig.Rule6File, NetworkConfig.SysctlFile])
        {
            if (File.Exists(PathOf(f)))
                read.Add(PathOf(f));
        }
        var network = NetworkConfig.Load(directory);
        return new HostSnapshot(directory, v4, v6, ebtables, sets, network, read);
    }

    /// <summary>Whether a set named in `-m set` / `-j SET` exists in the snapshot's ipset.save.</summary>
    public bool SetExists(string name) => Ipsets.TryGet(name, out _);

    /// <summary>What the kernel would refuse at load time, over every rule set of the snapshot.</summary>
    public List<RuleProblem> Check() =>
    [
        .. RulesetChecker.Check(Iptables, SetExists),
        .. RulesetChecker.Check(Ip6tables, SetExists),
        .. (Ebtables is null ? [] : Host.Ebtables.EbtablesChecker.Check(Ebtables).Select(p => new RuleProblem(p.Location, "ebtables", "-", p.Message))),
    ];
}
