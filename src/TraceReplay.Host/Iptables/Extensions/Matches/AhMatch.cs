namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m ah` in both families, which differ: libipt_ah.c (kernel ipt_ah.c, .proto = IPPROTO_AH, so
/// `-p ah` is required) takes only `--ahspi`; libip6t_ah.c (kernel ip6t_ah.c, which finds the AH
/// header with ipv6_find_hdr and needs no `-p`) adds `--ahlen` and `--ahres`.
/// </summary>
[XtMatch("ah", Family = IptFamily.IPv4)]
[XtMatch("ah", Family = IptFamily.IPv6)]
public sealed class AhMatch : XtMatch
{
    /// <summary>The SPI range (spis[2]); 0:4294967295 when not given.</summary>
    public XtRange Spis { get; private set; } = new(0, uint.MaxValue);
    public bool InvertSpis { get; private set; }

    /// <summary>IPv6 only: the AH header length the kernel compares, (hdrlen + 2) * 4 bytes (ipv6_authlen); 0 when not given.</summary>
    public uint Length { get; private set; }
    public bool InvertLength { get; private set; }

    /// <summary>IPv6 only: --ahres, the reserved field must be zero.</summary>
    public bool CheckReserved { get; private set; }

    private XtOptionSet _options;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--ahspi":
                _options.Take(o, 1);
                Spis = o.Range(o.Arg("SPI[:SPI]"), uint.MaxValue);
                InvertSpis = o.Invert;
                return true;
            case "--ahlen" when o.Family == IptFamily.IPv6:
                _options.Take(o, 2);
                Length = o.UInt32(o.Arg("a header length"));
                InvertLength = o.Invert;
                return true;
            case "--ahres" when o.Family == IptFamily.IPv6:
                _options.Take(o, 4);
                o.NoInvert();
                CheckReserved = true;
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (rule.Family == IptFamily.IPv4)
            check.RequireProtocol(Protocols.Ah);
    }

    public override void Save(SaveWriter w)
    {
        w.OptRange("--ahspi", Spis, InvertSpis, uint.MaxValue);
        if (w.Family != IptFamily.IPv6)
            return;
        // ah_save (libip6t_ah.c) leaves out a length of 0 unless inverted.
        if (Length != 0 || InvertLength)
            w.Opt("--ahlen", Length, InvertLength);
        if (CheckReserved)
            w.Opt("--ahres");
    }
}
