using TraceReplay.Capture.Decode;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>An inclusive address range, compared as the kernel's iprange_ipv4_sub / iprange_ipv6_lt do (numerically).</summary>
public readonly record struct IpRange(IpAddr Min, IpAddr Max)
{
    public bool Contains(IpAddr a) => a.CompareTo(Min) >= 0 && a.CompareTo(Max) <= 0;

    public override string ToString() => $"{Min}-{Max}";

    /// <summary>
    /// As xtables_ip6addr_to_numeric / xtables_ipaddr_to_numeric print it. IpAddr holds IPv4 as
    /// IPv4-mapped, so in an ip6tables rule a mapped address is printed the way inet_ntop does.
    /// </summary>
    public string ToString(IptFamily family) => family == IptFamily.IPv6 ? $"{V6(Min)}-{V6(Max)}" : ToString();

    private static string V6(IpAddr a) => a.IsV4 ? "::ffff:" + a : a.ToString();
}

/// <summary>
/// `-m iprange --src-range A-B --dst-range A-B` (extensions/libxt_iprange.c revision 1; kernel
/// xt_iprange.c iprange_mt4/mt6), IPv4 or IPv6 by the rule set's family.
/// </summary>
[XtMatch("iprange")]
public sealed class IprangeMatch : XtMatch
{
    private XtOptionSet _flags;

    public IpRange? Source { get; private set; }
    public bool InvertSource { get; private set; }
    public IpRange? Destination { get; private set; }
    public bool InvertDestination { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--src-range":
                _flags.Take(o, 1);
                Source = ParseRange(o, o.Arg("FROM-TO"));
                InvertSource = o.Invert;
                return true;
            case "--dst-range":
                _flags.Take(o, 2);
                Destination = ParseRange(o, o.Arg("FROM-TO"));
                InvertDestination = o.Invert;
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// iprange_parse_range: `FROM-TO`, or one address meaning FROM-FROM. A reversed range is accepted
    /// with a warning ("range is reversed and will never match"), as upstream does.
    /// </summary>
    private static IpRange ParseRange(XtOption o, string text)
    {
        int dash = text.IndexOf('-', StringComparison.Ordinal);
        var min = o.Address(dash < 0 ? text : text[..dash]);
        var max = dash < 0 ? min : o.Address(text[(dash + 1)..]);
        if (min.CompareTo(max) > 0)
            o.Rule.Warnings.Add(new ParseWarning(o.Location, $"iprange: range {text} is reversed and will never match"));
        return new IpRange(min, max);
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_flags.None)
            throw check.Fail("needs --src-range or --dst-range (iptables: \"iprange match: You must specify `--src-range' or `--dst-range'\")", "--src-range FROM-TO");
    }

    /// <summary>iprange_mt4_save / iprange_mt6_save: numeric addresses joined by '-', even for a one-address range.</summary>
    public override void Save(SaveWriter w)
    {
        if (Source is { } s)
            w.Opt("--src-range", s.ToString(w.Family), InvertSource);
        if (Destination is { } d)
            w.Opt("--dst-range", d.ToString(w.Family), InvertDestination);
    }
}
