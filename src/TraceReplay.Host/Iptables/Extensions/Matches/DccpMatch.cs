using System.Globalization;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m dccp` (extensions/libxt_dccp.c; kernel xt_dccp.c dccp_mt): port ranges, `--dccp-types LIST`
/// (a bitmask by DCCP packet type) and `--dccp-option N`.
/// </summary>
[XtMatch("dccp")]
public sealed class DccpMatch : XtMatch
{
    private XtOptionSet _flags;

    public XtRange? SourcePorts { get; private set; }
    public bool InvertSourcePorts { get; private set; }
    public XtRange? DestinationPorts { get; private set; }
    public bool InvertDestinationPorts { get; private set; }

    /// <summary>Bit N set: DCCP packet type N matches (0 when --dccp-types was not given).</summary>
    public ushort TypeMask { get; private set; }
    public bool HasTypes { get; private set; }
    public bool InvertTypes { get; private set; }

    /// <summary>A DCCP option number that must be present; null when not tested.</summary>
    public byte? Option { get; private set; }
    public bool InvertOption { get; private set; }

    /// <summary>dccp_pkt_types[] indexed by DCCP_PKT_* (INVALID is 10).</summary>
    private static readonly string[] TypeNames =
        ["REQUEST", "RESPONSE", "DATA", "ACK", "DATAACK", "CLOSEREQ", "CLOSE", "RESET", "SYNC", "SYNCACK", "INVALID"];

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--sport":
            case "--source-port":
                _flags.Take(o, 1);
                SourcePorts = o.PortRange(o.Arg("PORT[:PORT]"), "dccp");
                InvertSourcePorts = o.Invert;
                return true;
            case "--dport":
            case "--destination-port":
                _flags.Take(o, 2);
                DestinationPorts = o.PortRange(o.Arg("PORT[:PORT]"), "dccp");
                InvertDestinationPorts = o.Invert;
                return true;
            case "--dccp-types":
                _flags.Take(o, 4);
                TypeMask = ParseTypes(o, o.Arg("a list of DCCP packet types"));
                HasTypes = true;
                InvertTypes = o.Invert;
                return true;
            case "--dccp-option":
                _flags.Take(o, 8);
                // XTTYPE_UINT8 with .min = 1 in dccp_opts.
                Option = (byte)o.UInt32(o.Arg("a DCCP option number 1-255"), 1, 255);
                InvertOption = o.Invert;
                return true;
            default:
                return false;
        }
    }

    private static ushort ParseTypes(XtOption o, string text)
    {
        ushort mask = 0;
        foreach (var part in text.Split(','))
        {
            int i = Array.FindIndex(TypeNames, n => n.Equals(part, StringComparison.OrdinalIgnoreCase));
            if (i < 0)
                throw o.Fail("unknown DCCP type", part, "a comma-separated list of " + string.Join(", ", TypeNames));
            mask |= (ushort)(1 << i);
        }
        return mask;
    }

    /// <summary>The kernel's dccp_mt_reg has .proto = IPPROTO_DCCP.</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check) => check.RequireProtocol(Protocols.Dccp);

    /// <summary>dccp_save: each option given, types in bit order.</summary>
    public override void Save(SaveWriter w)
    {
        if (SourcePorts is { } s)
            w.Opt("--sport", s, InvertSourcePorts);
        if (DestinationPorts is { } d)
            w.Opt("--dport", d, InvertDestinationPorts);
        if (HasTypes)
        {
            var names = Enumerable.Range(0, TypeNames.Length).Where(i => (TypeMask & (1 << i)) != 0).Select(i => TypeNames[i]);
            w.Opt("--dccp-types", string.Join(',', names), InvertTypes);
        }
        if (Option is { } opt)
            w.Opt("--dccp-option", opt.ToString(CultureInfo.InvariantCulture), InvertOption);
    }
}
