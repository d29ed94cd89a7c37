using TraceReplay.Host.Iptables.Extensions;
using TraceReplay.Host.Net;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables;

/// <summary>Which of iptables' two front ends a rule set belongs to (AF_INET for iptables, AF_INET6 for ip6tables).</summary>
public enum IptFamily : byte
{
    IPv4,
    IPv6,
}

/// <summary>Packet and byte counters, as `struct xt_counters` keeps them per rule and per built-in chain policy.</summary>
public readonly record struct XtCounters(ulong Packets, ulong Bytes)
{
    public override string ToString() => $"[{Packets}:{Bytes}]";
}

/// <summary>
/// The verdict a built-in chain's policy gives: iptables allows only ACCEPT and DROP (ip_tables.c
/// rejects anything else at table load time).
/// </summary>
public enum ChainPolicy : byte
{
    /// <summary>A user-defined chain: no policy (printed as "-"), falls through to RETURN.</summary>
    None,
    Accept,
    Drop,
}

/// <summary>
/// An interface match of the rule header (`-i`/`-o`): a name, or a prefix when it ends in `+`,
/// compared as ip_tables.c's ip_packet_match does with iniface/iniface_mask.
/// </summary>
public readonly record struct InterfaceMatch(string Name, bool Invert)
{
    /// <summary>`-i +` (or absent): every interface, which iptables-save does not print.</summary>
    public bool IsAny => Name.Length == 0 || (Name == "+" && !Invert);

    public bool IsWildcard => Name.EndsWith('+');

    public bool Matches(ReadOnlySpan<char> device)
    {
        if (IsAny)
            return true;
        bool hit = IsWildcard ? device.StartsWith(Name.AsSpan(0, Name.Length - 1), StringComparison.Ordinal) : device.SequenceEqual(Name);
        return hit != Invert;
    }
}

/// <summary>
/// The fixed part of a rule that every packet is tested against before its matches, mirroring
/// `struct ipt_ip` / `struct ip6t_ip6`: addresses with masks, interfaces, protocol, the fragment
/// flag, each with its own inversion.
/// </summary>
public sealed record IptRuleHeader
{
    public IpNetwork? Source { get; init; }
    public bool InvertSource { get; init; }
    public IpNetwork? Destination { get; init; }
    public bool InvertDestination { get; init; }
    public InterfaceMatch InInterface { get; init; } = new(string.Empty, false);
    public InterfaceMatch OutInterface { get; init; } = new(string.Empty, false);

    /// <summary>The IP protocol number, 0 for any (`-p all` or absent).</summary>
    public byte Protocol { get; init; }
    public bool InvertProtocol { get; init; }

    /// <summary>`-f` (IPv4 only): only second and later fragments; `! -f`: only first fragments and unfragmented packets.</summary>
    public bool? Fragment { get; init; }
}

/// <summary>
/// One rule of a chain: header, matches in the order given (all must hold), one target. The source
/// location points at the `-A` line so every later message (check, trace, reports) can name it.
/// </summary>
public sealed class IptRule
{
    public required IptRuleHeader Header { get; init; }
    public required IReadOnlyList<XtMatch> Matches { get; init; }
    public required XtTarget Target { get; init; }
    public XtCounters Counters { get; init; }
    public SourceLocation Location { get; init; }
    public IptFamily Family { get; init; }

    /// <summary>The rule as iptables-save prints it after `-A CHAIN `.</summary>
    public string Text => IptablesPrinter.RuleSpec(this, Family);

    public override string ToString() => Text;
}

/// <summary>A chain: built-in (with a policy and policy counters) or user-defined.</summary>
public sealed class IptChain(string name, ChainPolicy policy, XtCounters policyCounters, SourceLocation location)
{
    public string Name { get; } = name;
    public ChainPolicy Policy { get; internal set; } = policy;
    public XtCounters PolicyCounters { get; internal set; } = policyCounters;
    public SourceLocation Location { get; } = location;
    public bool IsBuiltin => Policy != ChainPolicy.None;

    /// <summary>
    /// A built-in chain the dump did not declare (an old kernel's nat table without INPUT, a restore
    /// file that only appends): the kernel has it with policy ACCEPT; the printer leaves it out while
    /// it is still empty, so a dump prints back as it was.
    /// </summary>
    public bool IsImplicit { get; internal set; }
    public List<IptRule> Rules { get; } = [];
}

/// <summary>One table (`*filter`, `*nat`, …) with its chains in the order iptables-save prints them.</summary>
public sealed class IptTable(string name)
{
    private readonly Dictionary<string, IptChain> _byName = new(StringComparer.Ordinal);

    public string Name { get; } = name;
    public List<IptChain> Chains { get; } = [];

    public IptChain? Chain(string name) => _byName.GetValueOrDefault(name);

    internal IptChain Add(IptChain chain)
    {
        _byName.Add(chain.Name, chain);
        Chains.Add(chain);
        return chain;
    }

    internal bool Remove(string name)
    {
        if (!_byName.Remove(name, out var chain))
            return false;
        Chains.Remove(chain);
        return true;
    }
}

/// <summary>An `iptables-save` or `ip6tables-save` dump, or an iptables-restore input, as a model.</summary>
public sealed class IptRuleset(IptFamily family, string source)
{
    private readonly List<IptTable> _tables = [];

    public IptFamily Family { get; } = family;

    /// <summary>The file it was read from.</summary>
    public string Source { get; } = source;
    public IReadOnlyList<IptTable> Tables => _tables;
    public List<ParseWarning> Warnings { get; } = [];

    /// <summary>Whether the dump had `[p:b]` counters (iptables-save -c); a dump without them leaves every counter 0.</summary>
    public bool HasCounters { get; internal set; }

    public IptTable? Table(string name) => _tables.Find(t => t.Name == name);

    internal IptTable GetOrAddTable(string name)
    {
        var t = Table(name);
        if (t is null)
        {
            t = new IptTable(name);
            _tables.Add(t);
        }
        return t;
    }

    public IEnumerable<IptRule> AllRules => _tables.SelectMany(t => t.Chains).SelectMany(c => c.Rules);
}
