namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>`-m connmark --mark VALUE[/MASK]` (extensions/libxt_connmark.c revision 1; kernel xt_connmark.c connmark_mt: ((ct->mark &amp; mask) == mark) ^ invert).</summary>
[XtMatch("connmark")]
public sealed class ConnmarkMatch : MarkMaskMatch;
