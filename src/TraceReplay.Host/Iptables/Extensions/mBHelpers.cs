using System.Globalization;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Net;

namespace TraceReplay.Host.Iptables.Extensions;

/// <summary>
/// An address with a mask as XTTYPE_HOSTMASK leaves it (conntrack --ctorigsrc, policy --tunnel-src,
/// ipvs --vaddr): unlike `-s`, the address is kept as written — iptables-save prints `1.2.3.4/24` back —
/// while <see cref="Network"/> holds the masked form the kernel compares with ((addr ^ x) &amp; mask).
/// </summary>
public readonly record struct XtHostMask(IpAddr Address, IpNetwork Network)
{
    public bool Matches(IpAddr a) => Network.Contains(a);

    /// <summary>xtables_ipaddr_to_numeric + xtables_ipmask_to_numeric: no suffix for a host mask, `/LEN` or `/MASK`.</summary>
    public override string ToString()
    {
        int len = Network.PrefixLength;
        if (len == (Network.IsV6 ? 128 : 32))
            return Address.ToString();
        if (len >= 0)
            return Address + "/" + len.ToString(CultureInfo.InvariantCulture);
        var mask = Network.IsV6 ? Network.Mask : IpAddr.FromV4((uint)Network.Mask.Lo);
        return Address + "/" + mask;
    }
}

/// <summary>Shared parsing of group B's stateful matches: host masks and rates.</summary>
internal static class MbHelpers
{
    /// <summary>XTTYPE_HOSTMASK / XTTYPE_HOST: ADDR[/LEN|/MASK] of the rule's family, the address kept unmasked.</summary>
    public static XtHostMask HostMask(this XtOption o, string text)
    {
        var net = o.Network(text);
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        var address = o.Address(slash < 0 ? text : text[..slash]);
        return new XtHostMask(address, net);
    }

    /// <summary>XTTYPE_PLEN: a prefix length up to the family's address width.</summary>
    public static byte PrefixLength(this XtOption o, string text) =>
        (byte)o.UInt32(text, 0, o.Family == IptFamily.IPv6 ? 128u : 32u);

    /// <summary>
    /// parse_rate of libxt_limit / libxt_hashlimit: `N[/second|/minute|/hour|/day]` (any prefix of the
    /// unit, case-insensitive; atoi for N) into the interval between packets in 1/<paramref name="scale"/> s.
    /// </summary>
    public static bool TryParseRate(string rate, ulong scale, out ulong period, out uint mult)
    {
        period = 0;
        mult = 1;
        int slash = rate.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            string unit = rate[(slash + 1)..];
            if (unit.Length == 0)
                return false;
            if ("second".StartsWith(unit, StringComparison.OrdinalIgnoreCase))
                mult = 1;
            else if ("minute".StartsWith(unit, StringComparison.OrdinalIgnoreCase))
                mult = 60;
            else if ("hour".StartsWith(unit, StringComparison.OrdinalIgnoreCase))
                mult = 60 * 60;
            else if ("day".StartsWith(unit, StringComparison.OrdinalIgnoreCase))
                mult = 24 * 60 * 60;
            else
                return false;
        }
        ulong r = Atoull(slash >= 0 ? rate[..slash] : rate);
        if (r == 0)
            return false;
        period = scale * mult / r;
        return true;
    }

    /// <summary>print_rate: the largest unit in which the rate is still a whole-ish number (`3/hour`).</summary>
    public static string FormatRate(ulong period, ulong scale, out ulong unitScaled)
    {
        (string Name, ulong Mult)[] rates = [("day", scale * 24 * 60 * 60), ("hour", scale * 60 * 60), ("min", scale * 60), ("sec", scale)];
        unitScaled = 0;
        if (period == 0)
            return "inf";
        int i;
        for (i = 1; i < rates.Length; i++)
        {
            if (period > rates[i].Mult || rates[i].Mult / period < rates[i].Mult % period)
                break;
        }
        unitScaled = rates[i - 1].Mult;
        return (rates[i - 1].Mult / period).ToString(CultureInfo.InvariantCulture) + "/" + rates[i - 1].Name;
    }

    /// <summary>atoll: leading decimal digits, 0 when there are none.</summary>
    public static ulong Atoull(string s)
    {
        ulong v = 0;
        foreach (char c in s)
        {
            if (c is < '0' or > '9')
                break;
            v = unchecked((v * 10) + (ulong)(c - '0'));
        }
        return v;
    }

    public static string Dec(ulong v) => v.ToString(CultureInfo.InvariantCulture);
}
