namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>`-m mark --mark VALUE[/MASK]` (extensions/libxt_mark.c revision 1; kernel xt_mark.c mark_mt: ((skb->mark &amp; mask) == mark) ^ invert).</summary>
[XtMatch("mark")]
public sealed class MarkMatch : MarkMaskMatch;
