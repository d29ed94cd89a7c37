namespace TraceReplay.Host.Iptables.Extensions;

/// <summary>
/// Table and built-in chain names as the kernel's xt_match / xt_target registrations restrict an
/// extension (`.table`, `.hooks`: xt_nat.c, xt_MASQUERADE.c, xt_REDIRECT.c, ipt_REJECT.c, xt_CT.c,
/// xt_TRACE.c, xt_DSCP.c, …), for <see cref="XtExtension.Tables"/> and <see cref="XtExtension.Hooks"/>.
/// </summary>
internal static class XtChains
{
    /// <summary>The built-in chains by hook (NF_INET_PRE_ROUTING … NF_INET_POST_ROUTING).</summary>
    public const string PreRouting = "PREROUTING", Input = "INPUT", Forward = "FORWARD", Output = "OUTPUT", PostRouting = "POSTROUTING";

    public static readonly string[] Nat = ["nat"];
    public static readonly string[] Mangle = ["mangle"];
    public static readonly string[] Raw = ["raw"];

    public static readonly string[] PreroutingOutput = [PreRouting, Output];
    public static readonly string[] PostroutingInput = [PostRouting, Input];
    public static readonly string[] Postrouting = [PostRouting];
    public static readonly string[] InputForwardOutput = [Input, Forward, Output];
}
