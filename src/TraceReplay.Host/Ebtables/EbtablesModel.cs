using TraceReplay.Capture.Decode;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Ebtables;

/// <summary>The three bridge tables (net/bridge/netfilter/ebtable_{filter,nat,broute}.c).</summary>
public enum EbtTableKind
{
    Filter,
    Nat,
    Broute,
}

/// <summary>
/// The standard verdicts of include/uapi/linux/netfilter_bridge/ebtables.h (EBT_ACCEPT -1, EBT_DROP -2,
/// EBT_CONTINUE -3, EBT_RETURN -4). The values are the kernel's, so a target's stored verdict reads the same.
/// </summary>
public enum EbtVerdict
{
    Accept = -1,
    Drop = -2,
    Continue = -3,
    Return = -4,
}

/// <summary>How a save file writes rule counters: nft's "[P:B] -A …" prefix or legacy's "… -c P B" suffix.</summary>
public enum EbtCounterFormat
{
    None,
    Bracket,
    Trailing,
}

/// <summary>
/// Where ebtables-save writes `!`: legacy ebtables and ebtables-nft up to 1.8.9 print it after the
/// option ("--ip-src ! 10.0.0.1", "-p ! ARP"); ebtables-nft 1.8.10 on print it before ("! --ip-src …").
/// Both are read; the printer writes the one the input used.
/// </summary>
public enum EbtNegationStyle
{
    Prefix,
    Infix,
}

/// <summary>A rule's or chain's packet and byte counters (struct ebt_counter).</summary>
public readonly record struct EbtCounters(ulong Packets, ulong Bytes);

/// <summary>
/// ebt_entry's invflags bits (EBT_IPROTO …): which of the built-in matches are negated.
/// </summary>
[Flags]
public enum EbtInvFlags
{
    None = 0,
    Proto = 0x01,
    In = 0x02,
    Out = 0x04,
    Source = 0x08,
    Dest = 0x10,
    LogicalIn = 0x20,
    LogicalOut = 0x40,
}

/// <summary>ebt_entry's bitmask bits: EBT_NOPROTO 0x02, EBT_802_3 0x04, EBT_SOURCEMAC 0x08, EBT_DESTMAC 0x10.</summary>
[Flags]
public enum EbtEntryFlags
{
    None = 0,
    NoProto = 0x02,
    Is8023 = 0x04,
    SourceMac = 0x08,
    DestMac = 0x10,
}

/// <summary>
/// The fixed part of a rule, mirroring struct ebt_entry (include/uapi/linux/netfilter_bridge/ebtables.h):
/// protocol, MACs with masks, and the four interface names. ebt_basic_match() evaluates it. Interface
/// names keep ebtables' trailing `+` wildcard; an empty name matches any interface.
/// </summary>
public sealed class EbtEntry
{
    public EbtEntryFlags Bitmask { get; internal set; } = EbtEntryFlags.NoProto;
    public EbtInvFlags InvFlags { get; internal set; }

    /// <summary>Host byte order; meaningful unless <see cref="EbtEntryFlags.NoProto"/> (and for 802.3, unused).</summary>
    public ushort EthProto { get; internal set; }

    public string In { get; internal set; } = string.Empty;
    public string LogicalIn { get; internal set; } = string.Empty;
    public string Out { get; internal set; } = string.Empty;
    public string LogicalOut { get; internal set; } = string.Empty;
    public MacAddr SourceMac { get; internal set; }
    public MacAddr SourceMask { get; internal set; }
    public MacAddr DestMac { get; internal set; }
    public MacAddr DestMask { get; internal set; }

    public bool HasProto => (Bitmask & EbtEntryFlags.NoProto) == 0;
    public bool Is8023 => (Bitmask & EbtEntryFlags.Is8023) != 0;
    public bool Inverted(EbtInvFlags flag) => (InvFlags & flag) != 0;

    /// <summary>True when -p names this ethertype without `!` — what the modules' final checks require.</summary>
    public bool ProtoIs(ushort type) => HasProto && !Is8023 && EthProto == type && !Inverted(EbtInvFlags.Proto);
}

/// <summary>One rule: ebt_entry, its matches and watchers in command-line order, its target.</summary>
public sealed class EbtablesRule
{
    internal EbtablesRule(string chain, EbtEntry entry, IReadOnlyList<EbtMatch> matches, EbtTarget target,
        EbtCounters counters, SourceLocation location)
    {
        Chain = chain;
        Entry = entry;
        Matches = matches;
        Target = target;
        Counters = counters;
        Location = location;
    }

    public string Chain { get; }
    public EbtEntry Entry { get; }

    /// <summary>Matches and watchers (log, nflog) in the order ebtables-save prints them.</summary>
    public IReadOnlyList<EbtMatch> Matches { get; }

    public EbtTarget Target { get; }
    public EbtCounters Counters { get; }
    public SourceLocation Location { get; }

    /// <summary>True when some part of the rule was kept verbatim because the parser does not know it.</summary>
    public bool HasUnknown => Target is EbtUnknownTarget || Matches.Any(m => m is EbtUnknownMatch);
}

/// <summary>A chain (struct ebt_entries): a built-in hook chain or a user chain, with its policy.</summary>
public sealed class EbtablesChain
{
    internal EbtablesChain(string name, bool isBuiltin, EbtVerdict policy, SourceLocation location)
    {
        Name = name;
        IsBuiltin = isBuiltin;
        Policy = policy;
        Location = location;
    }

    public string Name { get; }
    public bool IsBuiltin { get; }
    public EbtVerdict Policy { get; internal set; }

    /// <summary>Where `:NAME POLICY` stood; line 0 for a built-in chain the file left out.</summary>
    public SourceLocation Location { get; internal set; }

    /// <summary>Policy counters: ebtables-save does not print them; the simulator fills them.</summary>
    public EbtCounters Counters { get; internal set; }

    internal List<EbtablesRule> RuleList { get; } = [];
    public IReadOnlyList<EbtablesRule> Rules => RuleList;
}

/// <summary>One table (struct ebt_table) with its built-in chains first, then user chains in file order.</summary>
public sealed class EbtablesTable
{
    internal EbtablesTable(EbtTableKind kind, SourceLocation location)
    {
        Kind = kind;
        Location = location;
        foreach (var name in EbtablesTables.BuiltinChains(kind))
            AddChain(new EbtablesChain(name, true, EbtVerdict.Accept, new SourceLocation(location.File, 0, 0)));
    }

    // Every rule line looks its chain up; hosts with thousands of per-port chains make a scan quadratic.
    private readonly Dictionary<string, EbtablesChain> byName = new(StringComparer.Ordinal);

    internal void AddChain(EbtablesChain chain)
    {
        ChainList.Add(chain);
        byName.Add(chain.Name, chain);
    }

    public EbtTableKind Kind { get; }
    public string Name => EbtablesTables.Name(Kind);
    public SourceLocation Location { get; }
    internal List<EbtablesChain> ChainList { get; } = [];
    public IReadOnlyList<EbtablesChain> Chains => ChainList;

    public EbtablesChain? Chain(string name) => byName.GetValueOrDefault(name);
}

/// <summary>An `ebtables-save -c` file: every table it holds, and what the parser read past.</summary>
public sealed class EbtablesRuleset
{
    internal EbtablesRuleset(string fileName) => FileName = fileName;

    public string FileName { get; }
    internal List<EbtablesTable> TableList { get; } = [];
    public IReadOnlyList<EbtablesTable> Tables => TableList;
    internal List<ParseWarning> WarningList { get; } = [];
    public IReadOnlyList<ParseWarning> Warnings => WarningList;

    /// <summary>The counter style the file used (the printer writes the same).</summary>
    public EbtCounterFormat CounterFormat { get; internal set; }

    /// <summary>Where the file put `!` (the printer writes the same); Prefix when it negated nothing.</summary>
    public EbtNegationStyle NegationStyle { get; internal set; }

    public EbtablesTable? Table(EbtTableKind kind)
    {
        foreach (var t in TableList)
        {
            if (t.Kind == kind)
                return t;
        }
        return null;
    }
}

/// <summary>
/// Which tables exist and which chains and hooks they have — the valid_hooks of
/// ebtable_filter.c / ebtable_nat.c / ebtable_broute.c.
/// </summary>
public static class EbtablesTables
{
    public static string Name(EbtTableKind kind) => kind switch
    {
        EbtTableKind.Filter => "filter",
        EbtTableKind.Nat => "nat",
        _ => "broute",
    };

    public static bool TryParse(string name, out EbtTableKind kind)
    {
        switch (name)
        {
            case "filter": kind = EbtTableKind.Filter; return true;
            case "nat": kind = EbtTableKind.Nat; return true;
            case "broute": kind = EbtTableKind.Broute; return true;
            default: kind = default; return false;
        }
    }

    public static IReadOnlyList<string> BuiltinChains(EbtTableKind kind) => kind switch
    {
        EbtTableKind.Filter => ["INPUT", "FORWARD", "OUTPUT"],
        EbtTableKind.Nat => ["PREROUTING", "OUTPUT", "POSTROUTING"],
        _ => ["BROUTING"],
    };

    public static bool IsBuiltin(EbtTableKind kind, string chain) => BuiltinChains(kind).Contains(chain);

    /// <summary>Chains where the input device is known (ebtables' "Use -i only in …" check).</summary>
    public static bool HasInDevice(string builtinChain) =>
        builtinChain is "INPUT" or "FORWARD" or "PREROUTING" or "BROUTING";

    /// <summary>Chains where the output device is known ("Use -o only in OUTPUT, FORWARD and POSTROUTING").</summary>
    public static bool HasOutDevice(string builtinChain) =>
        builtinChain is "OUTPUT" or "FORWARD" or "POSTROUTING";
}
