using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m helper --helper NAME` (net/netfilter/xt_helper.c helper_mt): the helper of the master of an
/// expected connection; an empty name matches any helper. The kernel compares only strlen(helper
/// name) bytes, so "ftp" also matches a rule naming "ftp-2121".
/// </summary>
public sealed class HelperMt(HelperMatch m, XtCompileContext c) : XtMatchEvaluator<HelperMatch>
{
    public HelperMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p)
    {
        bool ret = Module.Invert;
        string? helper = p.Ct.HasEntry ? p.Ct.MasterHelper : null;
        if (helper is null)
            return ret ? Tristate.True : Tristate.False;
        if (Module.Helper.Length == 0)
            ret = !ret;
        else
            ret ^= Module.Helper.StartsWith(helper, StringComparison.Ordinal);
        return ret ? Tristate.True : Tristate.False;
    }
}
