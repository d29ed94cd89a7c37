using System.Globalization;
using System.Text;

namespace TraceReplay.Host.Iptables.Extensions;

/// <summary>Builds the iptables-save text of a rule; extensions append their options with leading spaces, as their save hooks print them.</summary>
public sealed class SaveWriter(IptFamily family)
{
    private readonly StringBuilder _text = new();

    public IptFamily Family { get; } = family;

    public SaveWriter Raw(string text)
    {
        _text.Append(text);
        return this;
    }

    /// <summary>` ! ` before an inverted option, as every save hook writes it.</summary>
    public SaveWriter Not(bool invert)
    {
        if (invert)
            _text.Append(" !");
        return this;
    }

    /// <summary>` --name`, preceded by ` !` when inverted.</summary>
    public SaveWriter Opt(string name, bool invert = false)
    {
        Not(invert);
        _text.Append(' ').Append(name);
        return this;
    }

    public SaveWriter Opt(string name, string value, bool invert = false) => Opt(name, invert).Raw(" ").Raw(value);

    public SaveWriter Opt(string name, ulong value, bool invert = false) => Opt(name, value.ToString(CultureInfo.InvariantCulture), invert);

    /// <summary>` --name MIN:MAX`, or ` --name N` when both ends agree (xtables' XTTYPE_*RC print form).</summary>
    public SaveWriter Opt(string name, XtRange range, bool invert = false) => Opt(name, range.ToString(':'), invert);

    /// <summary>
    /// A range as tcp_save/udp_save print ports and, since iptables 1.8.8, libxt_esp, libip6t_frag,
    /// libip6t_mh and friends their ids (the skip_*_match rule): the full range 0:<paramref name="max"/>
    /// is left out unless inverted, which prints it in full (`! --espspi 0:4294967295`).
    /// </summary>
    public SaveWriter OptRange(string name, XtRange range, bool invert, uint max) =>
        range.Min == 0 && range.Max == max && !invert ? this : Opt(name, range, invert);

    /// <summary>` --name "text"` quoted the way xtables_save_string quotes: bare when only [A-Za-z0-9_-], else in double quotes with `"`, `\` and `'` escaped.</summary>
    public SaveWriter OptString(string name, string value, bool invert = false)
    {
        Opt(name, invert);
        return Quoted(value);
    }

    public SaveWriter Quoted(string value)
    {
        _text.Append(' ');
        bool bare = value.Length > 0;
        foreach (char c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                bare = false;
                break;
            }
        }
        if (bare)
        {
            _text.Append(value);
            return this;
        }
        _text.Append('"');
        foreach (char c in value)
        {
            if (c is '"' or '\\' or '\'')
                _text.Append('\\');
            _text.Append(c);
        }
        _text.Append('"');
        return this;
    }

    public override string ToString() => _text.ToString();
}
