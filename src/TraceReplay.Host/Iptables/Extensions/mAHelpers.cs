using System.Globalization;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions;

/// <summary>
/// The bookkeeping libxtables' xtables_option_parse keeps in `cb->xflags` for x6 extensions: an
/// option given twice is refused unless XTOPT_MULTI ("option can only be used once"), and options
/// declared `.excl` of each other cannot be combined. One bit per option id, as the O_/F_ enums of
/// each libxt_*.c.
/// </summary>
internal struct XtOptionFlags
{
    private uint _seen;

    public readonly bool Has(uint bits) => (_seen & bits) != 0;

    public readonly bool None => _seen == 0;

    /// <summary>Marks <paramref name="bit"/> given, refusing a repeat and any of <paramref name="excl"/> given before.</summary>
    public void Take(XtOption o, uint bit, uint excl = 0)
    {
        ArgumentNullException.ThrowIfNull(o);
        if ((_seen & bit) != 0)
            throw new HostParseException(o.Location, $"{o.Name} given twice (iptables: \"option {o.Name} can only be used once\")", o.Name, $"one {o.Name}");
        if ((_seen & excl) != 0)
            throw new HostParseException(o.Location, $"{o.Name} cannot be combined with an option given before it in this match", o.Name, "only one of the mutually exclusive options");
        _seen |= bit;
    }
}

/// <summary>Small number formats the save hooks use that SaveWriter does not have.</summary>
internal static class XtFormat
{
    /// <summary>printf("0x%02x").</summary>
    public static string Hex2(uint v) => "0x" + v.ToString("x2", CultureInfo.InvariantCulture);
}
