using TraceReplay.Capture.Decode;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Ebtables;

/// <summary>What a rule does when it matches: a verdict, a jump, or a target extension.</summary>
public abstract class EbtTarget
{
    /// <summary>The name after -j, as ebtables-save prints it.</summary>
    public abstract string Name { get; }
}

/// <summary>ACCEPT, DROP, CONTINUE, RETURN (ebt_standard_target with a negative verdict).</summary>
public sealed class EbtStandardTarget : EbtTarget
{
    public static EbtStandardTarget Accept { get; } = new(EbtVerdict.Accept);
    public static EbtStandardTarget Drop { get; } = new(EbtVerdict.Drop);
    public static EbtStandardTarget Continue { get; } = new(EbtVerdict.Continue);
    public static EbtStandardTarget Return { get; } = new(EbtVerdict.Return);

    private EbtStandardTarget(EbtVerdict verdict) => Verdict = verdict;

    public EbtVerdict Verdict { get; }
    public override string Name => EbtVerdicts.Name(Verdict);

    public static EbtStandardTarget For(EbtVerdict v) => v switch
    {
        EbtVerdict.Accept => Accept,
        EbtVerdict.Drop => Drop,
        EbtVerdict.Return => Return,
        _ => Continue,
    };
}

/// <summary>A jump to a user chain (ebt_standard_target with a non-negative verdict, the chain's offset).</summary>
public sealed class EbtJumpTarget(string chain) : EbtTarget
{
    public string Chain { get; } = chain;
    public override string Name => Chain;
}

/// <summary>libebt_redirect / ebt_redirect.c: destination MAC := the input bridge port's MAC.</summary>
public sealed class EbtRedirectTarget : EbtTarget
{
    public override string Name => "redirect";
    public EbtVerdict Verdict { get; internal set; } = EbtVerdict.Accept;
}

/// <summary>libebt_snat / ebt_snat.c: source MAC := <see cref="Mac"/> (and the ARP sender MAC with --snat-arp).</summary>
public sealed class EbtSnatTarget : EbtTarget
{
    public override string Name => "snat";
    public MacAddr Mac { get; internal set; }
    public EbtVerdict Verdict { get; internal set; } = EbtVerdict.Accept;
    public bool SnatArp { get; internal set; }
}

/// <summary>libebt_dnat / ebt_dnat.c: destination MAC := <see cref="Mac"/>.</summary>
public sealed class EbtDnatTarget : EbtTarget
{
    public override string Name => "dnat";
    public MacAddr Mac { get; internal set; }
    public EbtVerdict Verdict { get; internal set; } = EbtVerdict.Accept;
}

/// <summary>MARK_SET_VALUE / MARK_OR_VALUE / MARK_AND_VALUE / MARK_XOR_VALUE of ebt_mark_t_info.</summary>
public enum EbtMarkOp
{
    Set,
    Or,
    And,
    Xor,
}

/// <summary>libebt_mark / ebt_mark.c: changes skb->mark, then returns <see cref="Verdict"/>.</summary>
public sealed class EbtMarkTarget : EbtTarget
{
    public override string Name => "mark";
    public EbtMarkOp Op { get; internal set; }
    public uint Value { get; internal set; }
    public EbtVerdict Verdict { get; internal set; } = EbtVerdict.Accept;
}

/// <summary>libebt_arpreply / ebt_arpreply.c: answers an ARP request with <see cref="Mac"/>.</summary>
public sealed class EbtArpReplyTarget : EbtTarget
{
    public override string Name => "arpreply";
    public MacAddr Mac { get; internal set; }
    public EbtVerdict Verdict { get; internal set; } = EbtVerdict.Drop;
}

/// <summary>A target extension the parser does not know, kept with its options verbatim.</summary>
public sealed class EbtUnknownTarget : EbtTarget
{
    internal EbtUnknownTarget(string name, SourceLocation location)
    {
        TargetName = name;
        Location = location;
    }

    public string TargetName { get; }
    public override string Name => TargetName;
    public SourceLocation Location { get; }
    internal EbtVerbatimOptions Verbatim { get; } = new();
    public IReadOnlyList<string> Tokens => Verbatim.Tokens;

    internal void Add(string token, bool quoted) => Verbatim.Add(token, quoted);
}

/// <summary>ebt_target_name / ebt_fill_target: the verdict names.</summary>
public static class EbtVerdicts
{
    public static string Name(EbtVerdict v) => v switch
    {
        EbtVerdict.Accept => "ACCEPT",
        EbtVerdict.Drop => "DROP",
        EbtVerdict.Return => "RETURN",
        _ => "CONTINUE",
    };

    public static bool TryParse(string text, out EbtVerdict v)
    {
        switch (text)
        {
            case "ACCEPT": v = EbtVerdict.Accept; return true;
            case "DROP": v = EbtVerdict.Drop; return true;
            case "CONTINUE": v = EbtVerdict.Continue; return true;
            case "RETURN": v = EbtVerdict.Return; return true;
            default: v = default; return false;
        }
    }
}
