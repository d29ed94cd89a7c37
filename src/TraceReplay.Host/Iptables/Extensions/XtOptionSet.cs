using System.Numerics;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions;

/// <summary>
/// The options an extension has been given, one bit per option id as the O_*/F_* enums of each
/// libxt_*.c — libxtables' `xt_option_call.xflags` — with the checks xtables_option_parse and
/// xtables_options_fcheck (libxtables/xtoptions.c) make from it: an option without XTOPT_MULTI is
/// taken once, options declared `.excl` of each other are not combined, and an option without
/// XTOPT_INVERT refuses `!` (<see cref="XtOption.NoInvert"/>). iptables tests `.excl` only once the
/// whole line is read; here the clash is refused at the second option so the error can point at it.
/// Several options may share one bit (libxt_ttl's `--ttl-eq/-lt/-gt` are one F_ANY): a second one
/// is then a clash with the first, named as the rule wrote it.
/// </summary>
public struct XtOptionSet
{
    private uint _seen;

    // The option as written for each bit taken, so a clash names the one given first (aliases included).
    private string[]? _names;

    /// <summary>The bits of the options taken so far.</summary>
    public readonly uint Bits => _seen;

    public readonly bool None => _seen == 0;

    /// <summary>Whether any of <paramref name="bits"/> was given.</summary>
    public readonly bool Has(uint bits) => (_seen & bits) != 0;

    /// <summary>Whether all of <paramref name="bits"/> were given.</summary>
    public readonly bool HasAll(uint bits) => (_seen & bits) == bits;

    /// <summary>
    /// xtables_option_parse for option <paramref name="bit"/>: refused when it (or another option
    /// sharing its bit) was given before, or when any option of <paramref name="excl"/> was.
    /// </summary>
    public void Take(XtOption o, uint bit, uint excl = 0)
    {
        ArgumentNullException.ThrowIfNull(o);
        if ((_seen & bit) != 0)
        {
            string first = NameOf(_seen & bit);
            if (first != o.Name)
                throw Clash(o, first);
            throw new HostParseException(o.Location, $"option {o.Name} can only be used once", o.Name, $"one {o.Name}");
        }
        uint clash = _seen & excl & ~bit;
        if (clash != 0)
            throw Clash(o, NameOf(clash));
        _seen |= bit;
        _names ??= new string[32];
        for (uint b = bit; b != 0; b &= b - 1)
            _names[BitOperations.TrailingZeroCount(b)] = o.Name;
    }

    /// <summary><see cref="Take"/> for an option declared without XTOPT_INVERT (every target option): `!` is refused first.</summary>
    public void TakeNoInvert(XtOption o, uint bit, uint excl = 0)
    {
        ArgumentNullException.ThrowIfNull(o);
        o.NoInvert();
        Take(o, bit, excl);
    }

    private readonly string NameOf(uint bits) => _names![BitOperations.TrailingZeroCount(bits)];

    private static HostParseException Clash(XtOption o, string first) =>
        new(o.Location, $"option {o.Name} cannot be used together with {first}", o.Name, $"either {o.Name} or {first}");
}
