using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions;

/// <summary>
/// What an extension's parse may need to know about the rule it stands in: the family, the table
/// and chain, and (in the final check) the rule header — libxtables hands the same to x6_parse and
/// x6_fcheck through `struct xt_option_call` / `struct xt_fcheck_call`.
/// </summary>
public sealed class XtRuleContext(IptFamily family, string table, string chain, string file)
{
    public IptFamily Family { get; } = family;
    public string Table { get; } = table;
    public string Chain { get; } = chain;
    public string File { get; } = file;

    /// <summary>The header as parsed so far; complete by the time <see cref="XtExtension.FinalCheck"/> runs.</summary>
    public IptRuleHeader Header { get; internal set; } = new();
    public List<ParseWarning> Warnings { get; } = [];
    public bool Strict { get; init; }
}

/// <summary>
/// A match or target extension of one rule, with its options parsed into typed properties. Each
/// extension is one file mirroring iptables' extensions/libxt_NAME.c (parse, final check, save),
/// found by name through <see cref="XtRegistry"/> as x_tables finds kernel modules.
/// </summary>
public abstract class XtExtension
{
    /// <summary>The name the rule used (`-m NAME` / `-j NAME`); aliases such as `icmpv6`/`icmp6` keep theirs.</summary>
    public string Name { get; internal set; } = string.Empty;

    /// <summary>Where `-m NAME` / `-j NAME` stood.</summary>
    public SourceLocation Location { get; internal set; }

    /// <summary>
    /// Takes one option (`--name` with its arguments from <paramref name="o"/>) if this extension
    /// knows it; returns false to let another extension try. Errors in a known option throw.
    /// </summary>
    protected internal abstract bool Parse(XtOption o);

    /// <summary>Checks after all options were read (libxtables' x6_fcheck): required options, the protocol, combinations.</summary>
    protected internal virtual void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
    }

    /// <summary>Writes the options as iptables-save does, each with its leading space.</summary>
    public abstract void Save(SaveWriter w);

    /// <summary>
    /// Something a current kernel's checkentry refuses that a dump from an older kernel can still
    /// hold: the parse keeps the rule (the host ran it), `rules check` reports this.
    /// </summary>
    public string? LoadProblem { get; protected set; }

    /// <summary>The tables this extension may be used in; null for any (checked by `rules check`, as the kernel's xt_check_match/target does).</summary>
    public virtual IReadOnlyCollection<string>? Tables => null;

    /// <summary>The built-in chains (hooks) this extension may be reached from; null for any.</summary>
    public virtual IReadOnlyCollection<string>? Hooks => null;
}

/// <summary>A match extension (`-m NAME`).</summary>
public abstract class XtMatch : XtExtension
{
    /// <summary>True when the simulator cannot know the answer offline (owner, socket, cgroup, …): evaluated as unknown.</summary>
    public virtual bool IsOfflineUnknowable => false;
}

/// <summary>A target extension (`-j NAME`), a standard verdict, or a jump/goto to a user chain.</summary>
public abstract class XtTarget : XtExtension
{
    /// <summary>Whether traversal stops at this target (ACCEPT, DROP, DNAT, …) or goes on to the next rule (LOG, MARK, …).</summary>
    public abstract bool IsTerminating { get; }
}

/// <summary>Marks a match extension class with the name(s) `-m` uses for it.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class XtMatchAttribute(string name) : Attribute
{
    public string Name { get; } = name;

    /// <summary>Restrict to one family (libipt_ / libip6t_ extensions); null for libxt_ ones.</summary>
    public IptFamily Family { get; init; } = (IptFamily)255;
}

/// <summary>Marks a target extension class with the name(s) `-j` uses for it.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class XtTargetAttribute(string name) : Attribute
{
    public string Name { get; } = name;
    public IptFamily Family { get; init; } = (IptFamily)255;
}

/// <summary>Helpers for a final check: failures name the extension's location.</summary>
public sealed class XtFinalCheck(XtExtension extension, XtRuleContext rule)
{
    public HostParseException Fail(string problem, string? expected = null) =>
        new(extension.Location, $"{extension.Name}: {problem}", null, expected);

    /// <summary>As <see cref="Fail"/>, with `-j NAME` as the token: for what a target's rule leaves out (XTOPT_MAND) or its checkentry refuses.</summary>
    public HostParseException Missing(string problem, string expected) =>
        new(extension.Location, $"{extension.Name}: {problem}", "-j " + extension.Name, expected);

    /// <summary>libxt_tcp and friends: the match needs `-p PROTO` (not inverted) in the rule header.</summary>
    public void RequireProtocol(params byte[] protocols) => RequireProtocol(why: null, protocols);

    /// <summary>
    /// xt_check_match / xt_check_target for an extension registered with `.proto`: `-p PROTO`
    /// present and not inverted. A target says <paramref name="why"/> (its kernel module's words).
    /// </summary>
    public void RequireProtocol(string? why, params byte[] protocols)
    {
        var h = rule.Header;
        if (!h.InvertProtocol && Array.IndexOf(protocols, h.Protocol) >= 0)
            return;
        string names = string.Join(" or ", protocols.Select(p => "-p " + Protocols.Name(p, rule.Family)));
        if (extension is XtTarget)
            throw new HostParseException(extension.Location, $"{extension.Name}: target needs {names} in the rule ({why})", "-j " + extension.Name, names + " before -j " + extension.Name);
        throw Fail($"match needs {names} in the rule (iptables: \"{extension.Name} match: only works with {names}\")", names);
    }
}
