namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>The record type `-j AUDIT` writes (XT_AUDIT_TYPE_ACCEPT/DROP/REJECT).</summary>
public enum AuditType : byte
{
    Accept = 0,
    Drop = 1,
    Reject = 2,
}

/// <summary>
/// `-j AUDIT --type accept|drop|reject` (extensions/libxt_AUDIT.c; kernel xt_AUDIT.c audit_tg):
/// writes an audit record and goes on; the type only labels the record.
/// </summary>
[XtTarget("AUDIT")]
public sealed class AuditTarget : XtTarget
{
    private static readonly Dictionary<string, AuditType> Types = new(StringComparer.Ordinal)
    {
        ["accept"] = AuditType.Accept,
        ["drop"] = AuditType.Drop,
        ["reject"] = AuditType.Reject,
    };

    private XtOptionSet _seen;

    public AuditType Type { get; private set; }

    public override bool IsTerminating => false;

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--type")
            return false;
        _seen.TakeNoInvert(o, 1);
        // audit_parse compares with strncasecmp.
        Type = o.Choice(o.Arg("accept, drop or reject"), Types);
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_seen.None)
            throw check.Missing("option --type must be specified", "--type accept|drop|reject");
    }

    public override void Save(SaveWriter w) => w.Opt("--type", Type switch { AuditType.Accept => "accept", AuditType.Drop => "drop", _ => "reject" });
}
