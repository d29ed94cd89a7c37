using System.Globalization;

namespace TraceReplay.Host.Iptables.Extensions;

/// <summary>
/// libip6t_DNPT.c and libip6t_SNPT.c: `--src-pfx PREFIX/LEN --dst-pfx PREFIX/LEN`, both mandatory,
/// for RFC 6296 prefix translation (kernel ip6t_NPT.c). ip6t_npt_checkentry refuses prefixes longer
/// than 64 bits and prefixes with host bits set; both only in the mangle table.
/// </summary>
public abstract class Ip6tNptTarget : XtTarget
{
    private XtOptionSet _seen;

    /// <summary>The prefix rewritten from.</summary>
    public Net.IpNetwork SourcePrefix { get; private set; }

    /// <summary>The prefix rewritten to.</summary>
    public Net.IpNetwork DestinationPrefix { get; private set; }

    public override bool IsTerminating => false;

    public override IReadOnlyCollection<string>? Tables => XtChains.Mangle;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--src-pfx":
                _seen.TakeNoInvert(o, 1);
                SourcePrefix = ParsePrefix(o, o.Arg("an IPv6 PREFIX/LEN, LEN at most 64"));
                return true;
            case "--dst-pfx":
                _seen.TakeNoInvert(o, 2);
                DestinationPrefix = ParsePrefix(o, o.Arg("an IPv6 PREFIX/LEN, LEN at most 64"));
                return true;
            default:
                return false;
        }
    }

    /// <summary>XTTYPE_HOSTMASK (no `/LEN` means /128), then the kernel's checks.</summary>
    private static Net.IpNetwork ParsePrefix(XtOption o, string text)
    {
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string addressText = slash < 0 ? text : text[..slash];
        int len = 128;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out len) || len > 128))
            throw o.Fail("bad prefix length", text, "PREFIX/LEN with LEN 0-128");
        var address = o.Address(addressText);
        var network = Net.IpNetwork.Create(address, Net.IpNetwork.V6Mask(len), true);
        if (len > 64)
            throw o.Fail($"prefix length {len} is longer than 64 bits (the kernel refuses it)", text, "PREFIX/LEN with LEN at most 64");
        if (network.Address != address)
            throw o.Fail("the prefix has bits set beyond its length (the kernel refuses it)", text, $"{network.Address}/{len}");
        return network;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_seen.Has(1))
            throw check.Missing("option --src-pfx must be specified", "--src-pfx PREFIX/LEN");
        if (!_seen.Has(2))
            throw check.Missing("option --dst-pfx must be specified", "--dst-pfx PREFIX/LEN");
    }

    /// <summary>DNPT_save/SNPT_save: ` --src-pfx %s/%u --dst-pfx %s/%u`.</summary>
    public override void Save(SaveWriter w)
    {
        w.Opt("--src-pfx", SourcePrefix.ToString());
        w.Opt("--dst-pfx", DestinationPrefix.ToString());
    }
}
