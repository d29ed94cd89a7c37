namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j SECMARK --selctx CONTEXT` (extensions/libxt_SECMARK.c; kernel xt_SECMARK.c secmark_tg):
/// sets skb->secmark to the SELinux security ID of a context and goes on. The SID is only known on
/// the live host, so the simulator keeps the context text.
/// </summary>
[XtTarget("SECMARK")]
public sealed class SecMarkTarget : XtTarget
{
    private const int SecCtxMax = 255; // SECMARK_SECCTX_MAX - 1
    private XtOptionSet _seen;

    /// <summary>The SELinux context, e.g. `system_u:object_r:http_packet_t:s0`.</summary>
    public string SelinuxContext { get; private set; } = string.Empty;

    public override bool IsTerminating => false;

    /// <summary>secmark_tg_check: only the mangle and security tables.</summary>
    public override IReadOnlyCollection<string>? Tables => ["mangle", "security"];

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--selctx")
            return false;
        _seen.TakeNoInvert(o, 1);
        string ctx = o.Arg("an SELinux context such as system_u:object_r:http_packet_t:s0");
        if (ctx.Length == 0 || ctx.Length > SecCtxMax)
            throw o.Fail($"context is {ctx.Length} characters long", ctx, $"1 to {SecCtxMax} characters (SECMARK_SECCTX_MAX)");
        SelinuxContext = ctx;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_seen.None)
            throw check.Missing("option --selctx must be specified", "--selctx CONTEXT");
    }

    /// <summary>SECMARK_save prints the context with %s, unquoted.</summary>
    public override void Save(SaveWriter w) => w.Opt("--selctx", SelinuxContext);
}
