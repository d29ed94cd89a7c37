namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>`-m length --length MIN[:MAX]` (extensions/libxt_length.c; kernel xt_length.c): the IP packet length (IPv6: payload + 40).</summary>
[XtMatch("length")]
public sealed class LengthMatch() : U16RangeMatch("--length", "LENGTH[:LENGTH]", "--length MIN[:MAX]")
{
    public XtRange Length => Range;
}
