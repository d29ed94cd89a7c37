using System.Globalization;
using System.Text.RegularExpressions;

namespace TraceReplay.Analytics.Nat;

/// <summary>The ports (ICMP ids) a NAT binding could have been given, and where that range comes from.</summary>
public readonly record struct NatPortRange(int Min, int Max, string Origin)
{
    public int Size => Max - Min + 1;

    public override string ToString() => $"{Min}-{Max} ({Origin})";
}

/// <summary>
/// The range nf_nat_l4proto_unique_tuple searches (net/netfilter/nf_nat_proto.c): the rule's own
/// --to-ports / --to-source …:PORTS when given (NF_NAT_RANGE_PROTO_SPECIFIED); otherwise ICMP ids
/// 0-65535, and for a source port its class: 1-511 below 512, 600-1023 below 1024 (the "loose
/// convention" for credential passing), else 1024-65535. A destination port without a range is never
/// changed, so DNAT/REDIRECT have no port range to use up.
/// </summary>
public static partial class NatPortRanges
{
    [GeneratedRegex(@"--to-ports\s+(\d+)(?:-(\d+))?")]
    private static partial Regex ToPorts();

    [GeneratedRegex(@"--to-(?:source|destination)\s+(?:\[[^\]]*\]|[^\s:]*):(\d+)(?:-(\d+))?")]
    private static partial Regex ToAddressPorts();

    /// <summary>The range for a binding: <paramref name="ruleText"/> is the NAT rule (rules.text), <paramref name="origSport"/> the original source port (ICMP: id).</summary>
    public static NatPortRange? For(string manip, int proto, string? ruleText, int origSport)
    {
        // Port utilisation is a source-NAT question: a DNAT's --to-destination port is the service clients are
        // sent to, shared by every connection through it, not a pool the kernel hands out one port at a time.
        if (manip != "SRC")
            return null;
        var m = ruleText is null ? null : ToPorts().Match(ruleText) is { Success: true } a ? a : ToAddressPorts().Match(ruleText) is { Success: true } b ? b : null;
        if (m is not null)
        {
            int lo = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            int hi = m.Groups[2].Success ? int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) : lo;
            if (hi < lo)
                (lo, hi) = (hi, lo);
            return new NatPortRange(lo, hi, "the rule's range");
        }
        if (proto is 1 or 58)
            return new NatPortRange(0, 65535, "kernel default: any ICMP id");
        if (manip != "SRC" || proto is not (6 or 17 or 136 or 132))
            return null;
        return origSport switch
        {
            < 512 => new NatPortRange(1, 511, "kernel default for source ports below 512"),
            < 1024 => new NatPortRange(600, 1023, "kernel default for source ports 512-1023"),
            _ => new NatPortRange(1024, 65535, "kernel default for source ports from 1024"),
        };
    }
}
