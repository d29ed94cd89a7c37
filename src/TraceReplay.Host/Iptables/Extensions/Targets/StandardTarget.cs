namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>The verdicts ip_tables.c handles without a target module (XT_STANDARD_TARGET): ACCEPT, DROP, RETURN, QUEUE — and a rule with no target at all, which only counts.</summary>
public enum StandardVerdict : byte
{
    /// <summary>No `-j`: the rule counts matching packets and traversal goes on.</summary>
    None,
    Accept,
    Drop,
    Return,
    Queue,
}

public sealed class StandardTarget : XtTarget
{
    public StandardTarget(StandardVerdict verdict)
    {
        Verdict = verdict;
        Name = verdict switch
        {
            StandardVerdict.Accept => "ACCEPT",
            StandardVerdict.Drop => "DROP",
            StandardVerdict.Return => "RETURN",
            StandardVerdict.Queue => "QUEUE",
            _ => string.Empty,
        };
    }

    public StandardVerdict Verdict { get; }

    public override bool IsTerminating => Verdict != StandardVerdict.None;

    public static bool TryParse(string name, out StandardVerdict verdict)
    {
        verdict = name switch
        {
            "ACCEPT" => StandardVerdict.Accept,
            "DROP" => StandardVerdict.Drop,
            "RETURN" => StandardVerdict.Return,
            "QUEUE" => StandardVerdict.Queue,
            _ => StandardVerdict.None,
        };
        return verdict != StandardVerdict.None;
    }

    protected internal override bool Parse(XtOption o) => false;

    public override void Save(SaveWriter w)
    {
    }
}

/// <summary>`-j CHAIN` (a call: RETURN comes back here) or `-g CHAIN` (a goto: RETURN goes to the caller's caller), as ipt_do_table handles a verdict that is a chain offset.</summary>
public sealed class JumpTarget : XtTarget
{
    public JumpTarget(string chain, bool isGoto)
    {
        Chain = chain;
        IsGoto = isGoto;
        Name = chain;
    }

    public string Chain { get; }
    public bool IsGoto { get; }

    /// <summary>A jump is terminating for the rule: what follows depends on the called chain's verdict.</summary>
    public override bool IsTerminating => true;

    protected internal override bool Parse(XtOption o) => false;

    public override void Save(SaveWriter w)
    {
    }
}
